//! The closed loop pack → measurement → engine → switches → pack, judged on the true pack.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::protocol::{
    Command, DeviceMessage, FrameDecoder, HostMessage, MAX_FRAME_LEN, encode_frame,
};
use bms_engine::{Fault, PackConfig};
use emulator::{EmulatedDevice, Scenario, Simulation, SimulationConfig};

fn sim(scenario: Scenario, seed: u64) -> Simulation {
    Simulation::new(SimulationConfig::new(scenario, seed, 16)).unwrap()
}

#[test]
fn charging_a_full_pack_trips_over_voltage_below_the_hard_limit() {
    let limits = PackConfig::lfp_280ah(16);
    for seed in [1, 2, 3, 42] {
        let mut s = sim(Scenario::Overcharge, seed);
        s.run_for(2 * 3600);
        let summary = s.summary();
        let first = summary.trips.first().expect("over-voltage must trip");
        assert_eq!(first.fault, Fault::CellOverVoltage.name());
        assert!(first.cell.is_some_and(|c| (1..=16).contains(&c)));
        let hard_limit_v = f64::from(limits.cell_voltage_max_mv) / 1000.0;
        assert!(
            summary.true_max_cell_v < hard_limit_v,
            "seed {seed}: true max {:.3} V reached the {hard_limit_v} V limit",
            summary.true_max_cell_v
        );
        assert!(!s.outputs().charge_switch_on, "charge switch stays open");
        assert!(s.outputs().discharge_switch_on);
        // The charger keeps pushing; the open switch keeps current out of the pack.
        let soc = s.pack().soc();
        s.run_for(600);
        assert!((s.pack().soc() - soc).abs() < 1e-12);
    }
}

#[test]
fn draining_an_empty_pack_trips_under_voltage_above_the_hard_limit() {
    let limits = PackConfig::lfp_280ah(16);
    let mut s = sim(Scenario::DeepDischarge, 5);
    s.run_for(3600);
    let summary = s.summary();
    assert_eq!(summary.trips.len(), 1);
    assert_eq!(summary.trips[0].fault, Fault::CellUnderVoltage.name());
    assert!(summary.true_min_cell_v > f64::from(limits.cell_voltage_min_mv) / 1000.0);
    assert!(!s.outputs().discharge_switch_on);
    assert!(s.outputs().charge_switch_on);
}

#[test]
fn a_solar_day_runs_without_trips_and_tracks_soc() {
    let mut s = sim(Scenario::SolarDay, 7);
    s.run_for(86_400);
    let summary = s.summary();
    assert!(summary.trips.is_empty(), "{:?}", summary.trips);
    assert!(summary.soc_rmse_pct < 2.0, "rmse {}", summary.soc_rmse_pct);
    assert!(summary.energy_in_kwh > 5.0 && summary.energy_out_kwh > 5.0);
    assert!(summary.true_max_cell_v < 3.65 && summary.true_min_cell_v > 3.0);
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let run = |seed| {
        let mut s = sim(Scenario::SolarDay, seed);
        s.run_for(20_000);
        serde_json::to_string(&s.summary()).unwrap()
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

fn decode(bytes: &[u8]) -> Vec<DeviceMessage> {
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut messages = vec![];
    decoder.feed(bytes, |r| messages.push(r.unwrap()));
    messages
}

fn host_frame(message: &HostMessage) -> Vec<u8> {
    let mut out = [0; MAX_FRAME_LEN];
    let n = encode_frame(message, &mut out).unwrap();
    out[..n].to_vec()
}

#[test]
fn the_emulated_device_speaks_the_wire_protocol() {
    let mut device = EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 3, 8)).unwrap();
    let mut bytes = device.hello();
    bytes.extend(device.advance(60));
    bytes.extend(device.advance(60));
    let messages = decode(&bytes);
    assert_eq!(messages.len(), 3);
    let DeviceMessage::DeviceInfo(info) = &messages[0] else {
        panic!("first frame must be DeviceInfo")
    };
    assert!(info.emulated);
    assert_eq!(info.cell_count, 8);
    assert_eq!(info.temperature_count, 2);
    assert_eq!(info.capacity_mah, 280_000);
    let DeviceMessage::Telemetry(t) = &messages[2] else {
        panic!("then telemetry")
    };
    assert_eq!(t.uptime_ms, 120_000);
    assert_eq!(t.cell_voltages_mv.len(), 8);
    assert_eq!(t.temperatures_deci_c.len(), 2);
    assert!(t.limits.charge_voltage_mv > 0);
    let truth = device.simulation().pack();
    for (i, mv) in t.cell_voltages_mv.iter().enumerate() {
        assert!((f64::from(*mv) / 1000.0 - truth.cell_voltage_v(i).unwrap()).abs() < 0.01);
    }
}

#[test]
fn the_emulated_device_pushes_events_and_answers_requests() {
    let mut device =
        EmulatedDevice::new(SimulationConfig::new(Scenario::Overcharge, 3, 16)).unwrap();
    let mut events = vec![];
    for _ in 0..20 {
        for m in decode(&device.advance(60)) {
            if let DeviceMessage::Event { sequence, event } = m {
                events.push((sequence, event));
            }
        }
    }
    let trip = events
        .iter()
        .find(|(_, e)| e.fault == Fault::CellOverVoltage && e.level == bms_engine::Level::Trip)
        .expect("the over-voltage trip is pushed as an event");
    assert_eq!(trip.1.limit, 3_650);
    let sequences: Vec<u64> = events.iter().map(|(s, _)| *s).collect();
    let expected: Vec<u64> = (0..sequences.len() as u64).collect();
    assert_eq!(sequences, expected, "every event once, in order");

    let replies = decode(&device.receive(&host_frame(&HostMessage::Command {
        request_id: 3,
        command: Command::ForceSwitchesOff,
    })));
    assert_eq!(replies.len(), 1);
    let t = decode(&device.advance(1));
    let DeviceMessage::Telemetry(t) = &t[0] else {
        panic!()
    };
    assert!(!t.charge_switch_on && !t.discharge_switch_on);

    let mut corrupt = host_frame(&HostMessage::Hello { request_id: 1 });
    corrupt[2] ^= 0x10;
    assert!(
        decode(&device.receive(&corrupt)).is_empty(),
        "a corrupt request gets no answer"
    );
    let hello = decode(&device.receive(&host_frame(&HostMessage::Hello { request_id: 1 })));
    assert!(matches!(hello[0], DeviceMessage::DeviceInfo(_)));
}

#[test]
fn unsupported_pack_sizes_are_rejected_with_a_reason() {
    for cells in [0, 33] {
        let err = Simulation::new(SimulationConfig::new(Scenario::SolarDay, 1, cells)).unwrap_err();
        assert!(err.to_string().contains("1 to 32"), "{err}");
    }
}

#[test]
fn a_parallel_modular_pack_scales_capacity_limits_and_sensors() {
    let config = SimulationConfig {
        parallel: 2,
        module_cells: 4,
        ..SimulationConfig::new(Scenario::SolarDay, 3, 16)
    };
    assert_eq!(config.topology(), "16s2p in 4 modules");
    let mut two = Simulation::new(config).unwrap();
    let engine = two.engine_config();
    assert_eq!(engine.capacity_mah, 560_000);
    assert_eq!(engine.max_charge_current_ma, 280_000);
    assert_eq!(engine.discharge_over_current.trip, 560_000);
    assert_eq!(engine.temperature_count, 4);
    assert_eq!(two.measurement().temperatures_deci_c.len(), 4);
    let mut one = sim(Scenario::SolarDay, 3);
    let (two_start, one_start) = (two.pack().soc(), one.pack().soc());
    two.run_for(6 * 3600);
    one.run_for(6 * 3600);
    let summary = two.summary();
    assert!(summary.trips.is_empty(), "{:?}", summary.trips);
    assert_eq!((summary.parallel, summary.modules), (2, 4));
    // The same home moves about half as much SOC in twice the capacity.
    let ratio = (two.pack().soc() - two_start) / (one.pack().soc() - one_start);
    assert!((0.4..0.6).contains(&ratio), "SOC moved {ratio:.2}× as much");
}

#[test]
fn a_bad_topology_is_refused_with_the_reason() {
    let config = SimulationConfig {
        parallel: 0,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    };
    let err = Simulation::new(config).unwrap_err().to_string();
    assert!(err.contains("0 cells in parallel"), "{err}");
}

#[test]
fn power_flows_balance_and_follow_the_sun_and_the_outage() {
    use emulator::{Scenario, Simulation, SimulationConfig};
    // A solar day from 06:00: by noon the sun charges the battery and the house runs on PV.
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::SolarDay, 3, 16)).unwrap();
    sim.run_for(6 * 3600);
    let noon = sim.power_flow();
    assert!(noon.pv_w > 2_000.0, "{noon:?}");
    assert!(noon.battery_w > 0.0, "charging at noon: {noon:?}");
    let balance = noon.pv_w + noon.grid_w - noon.load_w - noon.battery_w;
    assert!(balance.abs() < 1e-6, "{noon:?}");
    // Night: no sun; the battery or the grid carries the house.
    sim.run_for(12 * 3600);
    let night = sim.power_flow();
    assert_eq!(night.pv_w, 0.0);
    assert!(night.load_w > 0.0);
    assert!(
        (night.grid_w - night.load_w - night.battery_w).abs() < 1e-6,
        "{night:?}"
    );

    // During the outage there is no grid: the battery alone serves the house.
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::GridOutage, 3, 16)).unwrap();
    sim.run_for(14 * 3600);
    let outage = sim.power_flow();
    assert!(!outage.grid_available);
    assert_eq!(outage.grid_w, 0.0);
}

#[test]
fn the_heater_waits_for_charge_on_offer_and_draws_inside_the_battery() {
    use emulator::{Scenario, Simulation, SimulationConfig};
    // Heat is for taking charge: on winter nights the battery rests at its reserve while the
    // grid carries the house, and nothing will charge it before sunrise, so the heater must
    // not start then (it once heated 4 of every 12 night hours from the reserve: 24.2 h and
    // 5.8 kWh in three days on seed 1). When it runs in the morning with charging still
    // blocked by the cold, the inverter asks nothing of the battery and the heater's power
    // stays inside it. (It once showed as the battery exporting the heater's share.)
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::WinterCold, 1, 16)).unwrap();
    let (mut heater_secs, mut night_starts, mut was_on) = (0, 0, false);
    let (mut blocked, mut leaking) = (0, 0);
    for _ in 0..3 * 86_400 {
        sim.step();
        let f = sim.power_flow();
        let on = f.heater_w > 0.0;
        if on {
            heater_secs += 1;
            if !was_on && f.pv_w == 0.0 {
                night_starts += 1;
            }
            if sim.outputs().limits.charge_current_ma == 0 && f.pv_w > f.load_w {
                blocked += 1;
                // The inverter sets its current from the voltage it measured a second ago:
                // after a load step in the cold, a second of a few tens of watts either way.
                if f.battery_w.abs() > 25.0 {
                    leaking += 1;
                }
            }
        }
        was_on = on;
    }
    assert_eq!(night_starts, 0, "the heater started in the dark");
    assert!(
        (3_600..22 * 3_600).contains(&heater_secs),
        "the heater ran {heater_secs} s in three days"
    );
    assert!(blocked > 600, "heating while charge waited for {blocked} s");
    assert!(
        leaking * 100 < blocked,
        "{leaking} of {blocked} s showed the heater leaving"
    );
}

#[test]
fn a_cold_pack_under_load_gets_a_steady_discharge_limit_not_an_on_off_one() {
    use emulator::{Scenario, Simulation, SimulationConfig};
    // On winter evenings an appliance pulls the cold cells to the under-voltage derate level.
    // The DCL once fell to 0, came back in full a second later, and so on (1 096 seconds of it
    // in three days); now it settles just below the current the cells can carry.
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::WinterCold, 1, 16)).unwrap();
    let (mut flips, mut derated) = (0, 0);
    let mut last_zero = false;
    for _ in 0..3 * 86_400 {
        sim.step();
        let o = sim.outputs();
        let zero = o.limits.discharge_current_ma == 0;
        if zero != last_zero && o.discharge_switch_on {
            flips += 1;
        }
        last_zero = zero;
        if (1..100_000).contains(&o.limits.discharge_current_ma) {
            derated += 1;
        }
    }
    assert!(derated > 600, "the cold derates discharge for {derated} s");
    assert!(
        flips < 10,
        "the DCL switched between 0 and not {flips} times"
    );
}
