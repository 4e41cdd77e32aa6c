//! Packs in parallel on one bus (`emulator::Bank`): how they share the home's current, what the
//! bank tells the inverter, and a pack that opens while the others carry on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use emulator::{Bank, Scenario, SimulationConfig};

fn bank(scenario: Scenario, packs: usize) -> Bank {
    Bank::new(SimulationConfig {
        packs,
        ..SimulationConfig::new(scenario, 1, 16)
    })
    .unwrap()
}

/// Three like packs through a solar day: each carries a third, none is pushed past its own
/// limits, nothing trips, the house is served, and the bank's SOC as told follows the truth.
#[test]
fn like_packs_share_a_solar_day_evenly_and_each_stays_within_its_limits() {
    let mut b = bank(Scenario::SolarDay, 3);
    b.run_for(86_400);
    let s = b.summary();
    for share in &s.shares {
        assert!(
            (32.8..33.9).contains(&share.throughput_share_pct),
            "{:?}",
            s.shares
        );
        assert_eq!(
            share.secs_over_charge_limit + share.secs_over_discharge_limit,
            0,
            "{share:?}"
        );
    }
    for pack in &s.pack_summaries {
        assert!(pack.trips.is_empty(), "{:?}", pack.trips);
    }
    assert!(s.max_circulating_a < 3.0, "{}", s.max_circulating_a);
    assert_eq!(s.unserved_kwh, 0.0);
    assert!(s.soc_rmse_pct < 1.0, "{}", s.soc_rmse_pct);
    // A house three times the size: about three times one pack's day.
    assert!(
        (25.0..40.0).contains(&s.energy_in_kwh),
        "{}",
        s.energy_in_kwh
    );
}

/// Pack 1's sense wire opens after an hour: it trips and opens both switches, the bank tells
/// the inverter the two others' limits, and they carry the house alone.
#[test]
fn a_pack_that_opens_leaves_the_others_to_carry_the_house() {
    let mut b = bank(Scenario::FaultOpenWire, 3);
    b.run_for(3_700);
    let told = b.report();
    assert_eq!((told.packs_charging, told.packs_discharging), (2, 2));
    let ccl = f64::from(told.report.charge_current_ma) / 1000.0;
    let dcl = f64::from(told.report.discharge_current_ma) / 1000.0;
    assert!((275.0..=280.0).contains(&ccl), "{ccl} A");
    assert!((395.0..=400.0).contains(&dcl), "{dcl} A");
    assert!(
        told.report.trips.contains(bms_engine::Fault::OpenWire),
        "the inverter hears of the pack that opened"
    );
    assert_eq!(b.currents_a()[0], 0.0);
    b.run_for(86_400 - 3_700);
    let s = b.summary();
    assert_eq!(s.pack_summaries[0].trips.len(), 1);
    assert_eq!(s.pack_summaries[0].trips[0].fault, "open-wire");
    assert!(s.pack_summaries[1].trips.is_empty() && s.pack_summaries[2].trips.is_empty());
    assert!(s.shares[0].throughput_share_pct < 2.0, "{:?}", s.shares);
    assert_eq!(s.unserved_kwh, 0.0);
}

/// `fault-bus-disconnected`: pack 1's breaker opens at 10:00, four hours in. From then on it
/// carries nothing, while its BMS, which measures inside, sees a pack at rest with its switches
/// on and reports nothing wrong. The other two carry the house between them, and the bank,
/// seeing it carry nothing beside them, leaves it out of what it tells the inverter.
#[test]
fn a_pack_cut_off_the_bus_carries_nothing_and_its_bms_cannot_tell() {
    let scenario = Scenario::FaultBusDisconnected;
    assert_eq!(scenario.faults()[0].0, 4 * 3_600);
    let mut b = Bank::new(SimulationConfig::new(scenario, 1, 16)).unwrap();
    assert_eq!(b.packs().len(), scenario.default_packs());
    b.run_for(4 * 3_600);
    let (mut most_a, mut idle) = (0.0_f64, true);
    let mut left_out_after = None;
    for second in 1..=20 * 3_600 {
        b.step();
        let c = b.currents_a();
        idle &= c[0] == 0.0;
        most_a = most_a.max(c[1].abs().min(c[2].abs()));
        if left_out_after.is_none() && b.report().packs_cut_off == 1 {
            left_out_after = Some(second);
        }
    }
    // Named by the bank a minute after it last carried current, and left out of what the
    // bank tells: the other two are not pushed past their own limits by its share (without
    // the watch, 374 to 465 s over them each, by up to 19.2 A, in these 20 hours). Pack 3
    // goes 2 s over its discharge limit, by 2.4 A, at 01:25 in the night, when the two
    // emptied packs derate for under-voltage: the one-second lag behind a falling limit that
    // every bank has.
    assert_eq!(left_out_after, Some(61));
    let s = b.summary();
    let shares = &s.shares;
    assert_eq!(shares[0].secs_left_out, 20 * 3_600 - 60);
    for share in [&shares[1], &shares[2]] {
        assert_eq!(share.secs_left_out, 0);
        assert_eq!(share.secs_over_charge_limit, 0, "{share:?}");
        assert!(share.secs_over_discharge_limit <= 3, "{share:?}");
        assert!(share.worst_over_limit_a < 3.0, "{share:?}");
    }
    assert!(idle, "pack 1 carried current after its breaker opened");
    assert!(most_a > 50.0, "the others carried at most {most_a} A");
    let pack = &b.packs()[0];
    let outputs = pack.outputs();
    assert!(outputs.charge_switch_on && outputs.discharge_switch_on);
    assert!(outputs.trips.is_empty() && outputs.warnings.is_empty() && outputs.derates.is_empty());
    assert!(s.pack_summaries.iter().all(|p| p.trips.is_empty()));
    assert_eq!(s.unserved_kwh, 0.0);
    // The SOC told is of the packs the inverter reaches, and so is the truth it is held to.
    assert!(s.soc_rmse_pct < 1.0, "{}", s.soc_rmse_pct);
    assert!(
        s.pack_summaries[0]
            .injected
            .iter()
            .any(|i| i.fault == "bus-disconnected"),
        "{:?}",
        s.pack_summaries[0].injected
    );
}

/// The same breaker with the packs brought together 20 SOC points apart: the inrush trips
/// pack 1's discharge switch open (and pack 3's charge switch) in the first seconds, so when
/// pack 1 is cut off it is a pack charged through that switch's diode. The bank names it all
/// the same once the pack still charging is a diode's drop and more above it (before, it was
/// never named, and pack 2 went 2 747 s over its charge limit in two days, by up to 38 A).
#[test]
fn a_pack_cut_off_with_its_discharge_switch_tripped_open_is_named_too() {
    let mut b = Bank::new(SimulationConfig {
        pack_soc_step_pct: 20,
        ..SimulationConfig::new(Scenario::FaultBusDisconnected, 1, 16)
    })
    .unwrap();
    b.run_for(4 * 3_600);
    let outputs = b.packs()[0].outputs();
    assert!(outputs.charge_switch_on && !outputs.discharge_switch_on);
    let over = |b: &Bank| b.summary().shares[1].secs_over_charge_limit;
    let before = over(&b);
    let mut named = None;
    for second in 1..=2 * 3_600 {
        b.step();
        if named.is_none() && b.report().packs_cut_off == 1 {
            named = Some((second, over(&b)));
        }
    }
    // Named 521 s after the breaker opened: its first minutes the pack charging climbs
    // from 0.3 V above it to more than 1.05 V. Until then the bank still counts its share,
    // and pack 2 goes a few seconds over its own charge limit (seed 1: 2 s); from then, not
    // a second more.
    let (after, over_until_named) = named.expect("pack 1 never named");
    assert_eq!(after, 521);
    assert!(
        over_until_named - before <= 5,
        "{} s",
        over_until_named - before
    );
    let s = b.summary();
    assert_eq!(s.shares[1].secs_over_charge_limit, over_until_named);
    assert_eq!(s.shares[0].secs_left_out, 2 * 3_600 - (after - 1));
    assert_eq!(b.report().packs_cut_off, 1);
}

/// A bank's scenario is refused for a pack on its own: nothing beside it could notice.
#[test]
fn a_banks_scenario_needs_a_bank() {
    let lone = SimulationConfig {
        packs: 1,
        ..SimulationConfig::new(Scenario::FaultBusDisconnected, 1, 16)
    };
    let refused = Bank::new(lone).err().map(|e| e.to_string());
    assert_eq!(
        refused.as_deref(),
        Some(
            "scenario `fault-bus-disconnected` needs 2 or more packs in parallel, not 1: it is \
             about a pack the packs beside it must notice"
        )
    );
    assert!(emulator::Simulation::new(lone).is_err());
}

/// Pack 1's BMS loses its front end and opens both switches, its current frozen at what it
/// last read. The other two carry the house on, and are not pushed past their own limits by
/// that reading (counted, it sent one of them 1 495 s over its discharge limit, by up to
/// 12.3 A, in two days).
#[test]
fn a_pack_whose_bms_lost_its_sensors_does_not_throw_the_others_off() {
    let mut b = bank(Scenario::FaultFrontEndLost, 3);
    b.run_for(2 * 86_400);
    let s = b.summary();
    assert!(
        s.pack_summaries[0]
            .trips
            .iter()
            .any(|t| t.fault == "front-end-lost"),
        "{:?}",
        s.pack_summaries[0].trips
    );
    for share in &s.shares[1..] {
        let over = share.secs_over_charge_limit + share.secs_over_discharge_limit;
        assert!(over <= 5, "{share:?}");
    }
    assert_eq!(s.unserved_kwh, 0.0);
}

/// Pack 1 has a weak cell: full first each day, it derates its charge. The bank holds the
/// inverter to what brings that pack to its own limit, though the others could take more.
#[test]
fn a_derated_pack_holds_the_bank_and_is_not_pushed_past_its_limit() {
    let mut b = bank(Scenario::FaultWeakCell, 3);
    b.run_for(86_400);
    let s = b.summary();
    let weak = &s.shares[0];
    assert_eq!(weak.secs_over_charge_limit, 0, "{weak:?}");
    // Full first, it takes less of the charge than the others.
    assert!(
        weak.throughput_share_pct < s.shares[1].throughput_share_pct - 3.0,
        "{:?}",
        s.shares
    );
}

/// Pack 1's weak cell is full first. Its BMS, told that it shares the bus, opens its charge
/// switch once it wants no charge and carries none, so the two healthy packs charge on to full
/// (with the switch kept closed they stopped at 95.6 %); it closes it again when the evening
/// draws on it through the switch's diode.
#[test]
fn a_full_pack_stands_by_so_that_the_others_charge_to_full() {
    use bms_engine::EventKind;
    let mut b = bank(Scenario::FaultWeakCell, 3);
    let mut highest = [0.0_f64; 3];
    let mut standby_at = None;
    let mut resumed = None;
    let mut others_charging_while_open = 0;
    for t in 0..86_400 {
        // Whether its switch was open for this second's current (the step in which its BMS
        // opens it carried the current that made it).
        let open = b.packs()[0].outputs().charge_standby;
        b.step();
        for (k, sim) in b.packs().iter().enumerate() {
            highest[k] = highest[k].max(sim.pack().soc());
        }
        let weak = &b.packs()[0];
        for e in &weak.outputs().events {
            match e.kind {
                EventKind::ChargeStandby => standby_at = standby_at.or(Some(t)),
                EventKind::ChargeResumed => resumed = resumed.or(Some((t, e.value))),
                _ => {}
            }
        }
        let currents = b.currents_a();
        if open {
            assert!(
                currents[0] <= 0.0,
                "pack 1 took charge with its switch open: {t} s, {currents:?}"
            );
            if currents[1] > 1.0 && currents[2] > 1.0 {
                others_charging_while_open += 1;
            }
        }
    }
    let standby_at = standby_at.expect("pack 1 stood by");
    let (resumed_at, current_ma) = resumed.expect("pack 1 closed its charge switch again");
    assert!(
        resumed_at > standby_at && current_ma < -1_000,
        "{resumed_at} s, {current_ma} mA"
    );
    assert!(
        others_charging_while_open > 600,
        "{others_charging_while_open} s"
    );
    assert!(
        highest[0] < 0.9,
        "the weak pack's mean stays short: {highest:?}"
    );
    assert!(highest[1] > 0.995 && highest[2] > 0.995, "{highest:?}");
    // Standing by is no fault: nothing tripped. The summary counts it.
    let s = b.summary();
    assert_eq!(s.shares[0].charge_standbys, 1, "{:?}", s.shares[0]);
    assert!(
        (3_600..12 * 3_600).contains(&s.shares[0].secs_charge_standby),
        "{:?}",
        s.shares[0]
    );
    for pack in &s.pack_summaries {
        assert!(pack.trips.is_empty(), "{:?}", pack.trips);
    }
}

/// A bank of a new pack, one five years old and one ten: the older packs have less capacity
/// and more resistance, so they take less of every current; each BMS knows its pack from the
/// start (the SOH it tells), and none is pushed past its own limits.
#[test]
fn older_packs_take_less_of_the_current_and_their_bms_know_them() {
    let mut b = Bank::new(SimulationConfig {
        packs: 3,
        pack_age_step_years: 5,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    })
    .unwrap();
    let soh: Vec<_> = b
        .packs()
        .iter()
        .map(|sim| sim.outputs().soh_permille)
        .collect();
    assert_eq!(soh[0], None, "a new pack's BMS has yet to learn it");
    assert!(soh[1].is_some_and(|s| (860..=890).contains(&s)), "{soh:?}");
    assert!(soh[2].is_some_and(|s| (790..=820).contains(&s)), "{soh:?}");
    b.run_for(86_400);
    let s = b.summary();
    let shares: Vec<f64> = s.shares.iter().map(|p| p.throughput_share_pct).collect();
    assert!(
        shares[0] > shares[1] + 2.0 && shares[1] > shares[2] + 2.0,
        "{shares:?}"
    );
    for share in &s.shares {
        assert!(
            share.secs_over_charge_limit + share.secs_over_discharge_limit <= 10,
            "{share:?}"
        );
    }
    assert!(s.unserved_kwh < 1e-9, "{} kWh", s.unserved_kwh);
    // The bank's SOC as told follows the truth although the packs are of three capacities.
    assert!(s.soc_rmse_pct < 1.5, "{}", s.soc_rmse_pct);
}

/// Ages beyond what the emulator models are refused, naming the oldest pack's.
#[test]
fn a_bank_older_than_twenty_years_is_refused() {
    let e = Bank::new(SimulationConfig {
        packs: 4,
        pack_age_step_years: 8,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    })
    .unwrap_err();
    assert_eq!(e, emulator::Error::Age { given: 24 });
    assert!(e.to_string().contains("24 years in service"), "{e}");
}

/// The same seed gives the same bank, second for second.
#[test]
fn a_bank_is_deterministic() {
    let run = || {
        let mut b = bank(Scenario::Solar30, 2);
        b.run_for(20_000);
        (b.summary(), b.currents_a().to_vec())
    };
    assert_eq!(run(), run());
}

/// Pack 1's cell 3 has a bad connection (+5 mΩ): its pack takes less of any change in the
/// bank's current than an even part, so a bank reckoning even parts let it go past its own
/// charge limit each time that limit fell, until its BMS had learnt its cells' resistances.
/// The bank measures each pack's part of its changes instead, from the start.
#[test]
fn a_pack_with_a_bad_connection_stays_within_its_limit_from_the_start() {
    let mut b = bank(Scenario::FaultResistanceStep, 3);
    b.run_for(2 * 86_400);
    let summary = b.summary();
    let pack_1 = &summary.shares[0];
    // Seed 1: 19 s over in two days, where with even parts until the resistances were learnt
    // (at 28.5 h) it was 1 264 s, 1 252 of them on the first day.
    assert!(
        pack_1.secs_over_charge_limit < 100,
        "{} s above its charge limit",
        pack_1.secs_over_charge_limit
    );
    // Not by giving up the charge: the bank still takes in what the sun gives.
    assert!(summary.energy_in_kwh > 60.0, "{summary:#?}");
}

/// Set up with three packs, the emulated device is pack 1's BMS: its stream is pack 1's, and
/// it hands every pack's telemetry frame beside it, as a host reading each pack's BMS would.
#[test]
fn a_bank_device_speaks_for_pack_1_and_hands_every_packs_report() {
    use bms_engine::protocol::{DeviceMessage, FrameDecoder, Telemetry};
    let telemetry = |bytes: &[u8]| {
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut found = Vec::new();
        decoder.feed(bytes, |m| {
            if let Ok(DeviceMessage::Telemetry(t)) = m {
                found.push(t);
            }
        });
        found
    };
    let config = SimulationConfig {
        packs: 3,
        ..SimulationConfig::new(Scenario::FaultOpenWire, 1, 16)
    };
    let mut device = emulator::EmulatedDevice::new(config).unwrap();
    let stream = device.advance(3_700);
    let frames = device.pack_frames();
    assert_eq!(frames.len(), 3);
    let packs: Vec<Telemetry> = frames.iter().flat_map(|f| telemetry(f)).collect();
    assert_eq!(packs.len(), 3);
    assert_eq!(
        telemetry(&stream).last(),
        packs.first(),
        "the stream is pack 1's"
    );
    let open_wire = 1 << bms_engine::Fault::OpenWire as u32;
    assert!(packs[0].trip_bits & open_wire != 0 && !packs[0].charge_switch_on);
    assert!(
        packs[1..]
            .iter()
            .all(|t| t.trip_bits == 0 && t.charge_switch_on)
    );
    // A pack on its own hands nothing beside its stream.
    let single = emulator::EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 1, 16));
    assert!(single.unwrap().pack_frames().is_empty());
}

/// The home's power flow with a bank: the battery is all the packs at their terminals, and PV,
/// grid, battery and house balance.
#[test]
fn the_power_flow_balances_with_the_bank_as_the_battery() {
    let mut b = bank(Scenario::WinterCold, 2);
    // Day 1 at 11:00: cold, the heaters on, some sun.
    b.run_for(11 * 3_600);
    let flow = b.power_flow();
    let at_terminals: f64 = b
        .packs()
        .iter()
        .zip(b.currents_a())
        .map(|(s, &a)| s.pack().voltage_v() * a)
        .sum();
    assert!(flow.heater_w > 0.0, "the heaters run: {flow:?}");
    assert!((flow.battery_w - at_terminals).abs() < 1e-6, "{flow:?}");
    assert!(
        (flow.pv_w + flow.grid_w - flow.battery_w - flow.load_w).abs() < 1e-6,
        "{flow:?}"
    );
}

/// The bank's device can be made the BMS of another pack: its stream, its faults and its
/// event log are then that pack's, and it cannot be made the BMS of a pack the bank lacks.
#[test]
fn the_bank_device_can_be_any_packs_bms() {
    let config = SimulationConfig {
        packs: 3,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    };
    let mut device = emulator::EmulatedDevice::new(config).unwrap();
    device.advance(60);
    assert!(!device.select_pack(3) && device.pack() == 0);
    assert!(device.select_pack(1));
    device.inject(emulator::InjectedFault::OpenSenseWire { cell: 2 });
    device.advance(30);
    let packs = device.bank().unwrap().packs();
    assert!(!packs[1].outputs().charge_switch_on, "pack 2 opened");
    assert!(packs[0].outputs().charge_switch_on && packs[2].outputs().charge_switch_on);
    assert!(std::ptr::eq(device.simulation(), &packs[1]));
    let single = SimulationConfig::new(Scenario::SolarDay, 1, 16);
    assert!(
        !emulator::EmulatedDevice::new(single)
            .unwrap()
            .select_pack(0)
    );
}

/// Two packs brought together 20 SOC points apart, at night with nothing flowing: the fuller
/// one charges the emptier through the bus, tens of amperes at first, less as their voltages
/// come together; their charge levels close up, and the bank's charge is conserved.
#[test]
fn packs_brought_together_at_different_charge_levels_even_out_through_the_bus() {
    let config = SimulationConfig {
        packs: 2,
        pack_soc_step_pct: 20,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    };
    let mut b = Bank::new(config).unwrap();
    let soc = |b: &Bank| -> Vec<f64> { b.packs().iter().map(|s| s.pack().soc() * 100.0).collect() };
    let start = soc(&b);
    assert!((start[0] - start[1] - 20.0).abs() < 1.0, "{start:?}");
    b.step();
    let first = b.currents_a().to_vec();
    // The solar day starts at 06:00 with the house at its base load: what flows between the
    // packs is far more than the house takes.
    assert!(first[0] < -20.0 && first[1] > 20.0, "{first:?}");
    b.run_for(1_800);
    let s = b.summary();
    assert!(
        s.max_circulating_a > 20.0 && s.circulating_ah > 5.0,
        "{} A, {} Ah",
        s.max_circulating_a,
        s.circulating_ah
    );
    let later = soc(&b);
    assert!(
        later[0] - later[1] < start[0] - start[1] - 3.0,
        "{start:?} → {later:?}"
    );
}

/// Brought together 20 SOC points apart, the packs' inrush trips pack 3's charge switch open
/// (latched) and leaves it empty with its discharge switch on and no discharge limit, resting
/// 7 V below the others. It takes no part of the evening's discharge, so it holds nothing:
/// the bank tells pack 2's own 200 A, and the house is served. (Counted, it held the bank's
/// limit near 0 A at rest and at whatever the house took while discharging: 8 to 14 A told
/// in the evening, and 11.4 kWh out in two days.)
#[test]
fn an_empty_pack_resting_far_below_the_bus_does_not_hold_the_bank() {
    let mut b = Bank::new(SimulationConfig {
        packs: 3,
        pack_soc_step_pct: 20,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    })
    .unwrap();
    // 17:30, the house still on the sun: the bank rests, ready to give pack 2's 200 A.
    b.run_for(11 * 3_600 + 1_800);
    let dcl_ma = b.report().report.discharge_current_ma;
    assert!((199_500..=200_000).contains(&dcl_ma), "{dcl_ma} mA at rest");
    b.run_for(3_600 + 1_800);
    let empty = b.packs()[2].outputs();
    assert!(!empty.charge_switch_on && empty.discharge_switch_on);
    assert_eq!(empty.limits.discharge_current_ma, 0);
    assert!(b.currents_a()[1] < -20.0, "{:?}", b.currents_a());
    let told = b.report();
    // Within the others' sensors' noise of it.
    let dcl_ma = told.report.discharge_current_ma;
    assert!((199_500..=200_000).contains(&dcl_ma), "{dcl_ma} mA");
    assert_eq!(told.discharge_held_by, None);
    b.run_for(11 * 3_600);
    let s = b.summary();
    assert!(s.energy_out_kwh > 12.0, "{} kWh out", s.energy_out_kwh);
    assert_eq!(s.unserved_kwh, 0.0);
}
