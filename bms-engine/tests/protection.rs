//! Whole-engine protection behaviour: every table row trips after its delay and not before,
//! releases only outside its hysteresis band, latches where it must; switch commands follow; and
//! properties over random traces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::protection::{Direction, Rule, Signal};
use bms_engine::{Engine, EventKind, Fault, Level, Measurement, Outputs, PackConfig, SwitchKind};
use proptest::prelude::*;

const CELLS: usize = 16;
const DT: u32 = 100;

fn config() -> PackConfig {
    PackConfig::lfp_280ah(CELLS as u8)
}

/// The pack behind a main contactor: closes when the bus is within 1 V, gives up after 3 s.
fn contactor_config() -> PackConfig {
    PackConfig {
        switches: SwitchKind::Contactor {
            voltage_match_mv: 1_000,
            precharge_timeout_ms: 3_000,
        },
        ..config()
    }
}

fn engine() -> Engine {
    Engine::new(config(), 500).unwrap()
}

/// A healthy snapshot: every cell 3.300 V, 25 °C and 25.2 °C, no current.
fn healthy() -> Measurement {
    Measurement::new(&[3_300; CELLS], 0)
        .unwrap()
        .with_temperatures(&[Some(250), Some(252)])
        .unwrap()
}

fn with_cell(cell: usize, mv: u16) -> Measurement {
    let mut m = healthy();
    m.cell_voltages_mv[cell] = mv;
    m
}

/// A snapshot in which `signal` reads `value` and everything else stays healthy where possible.
fn driving(signal: Signal, value: i32) -> Measurement {
    let mut m = healthy();
    let v16 = |v: i32| u16::try_from(v).unwrap();
    match signal {
        Signal::MaxCellVoltage => m.cell_voltages_mv[3] = v16(value),
        Signal::MinCellVoltage => {
            // The other cells must not be the minimum themselves.
            for mv in m.cell_voltages_mv.iter_mut() {
                *mv = (*mv).max(v16(value));
            }
            m.cell_voltages_mv[3] = v16(value);
        }
        Signal::PackVoltage => m.pack_voltage_mv = Some(u32::try_from(value).unwrap()),
        Signal::ChargeCurrent => m.current_ma = value,
        Signal::DischargeCurrent => m.current_ma = -value,
        Signal::MaxTemperature | Signal::MinTemperature => {
            m.temperatures_deci_c[0] = Some(i16::try_from(value).unwrap());
            m.temperatures_deci_c[1] = Some(i16::try_from(value).unwrap());
        }
        Signal::CellSpread => m.cell_voltages_mv[0] = v16(3_300 + value),
        Signal::ShortCircuitFlag => m.short_circuit = value > 0,
        Signal::OpenWireCount => {
            for cell in 0..usize::try_from(value).unwrap() {
                m.cell_voltages_mv[cell] = 0;
            }
        }
        Signal::OutOfRangeCount => {
            for sensor in 0..usize::try_from(value).unwrap() {
                m.temperatures_deci_c[sensor] = None;
            }
        }
        Signal::PackVoltageMismatch => {
            m.pack_voltage_mv = Some(m.cell_sum_mv() + u32::try_from(value).unwrap())
        }
        Signal::TemperatureSpread => {
            m.temperatures_deci_c[0] = Some(250 + i16::try_from(value).unwrap());
            m.temperatures_deci_c[1] = Some(250);
        }
        Signal::ShapeMismatch => {
            if value > 0 {
                m.cell_voltages_mv.pop();
            }
        }
        Signal::StuckCount
        | Signal::FrontEndSilence
        | Signal::PrechargeFailure
        | Signal::SelfDischarge => {
            unreachable!("{signal:?} is tested on its own")
        }
    }
    m
}

fn active(out: &Outputs, fault: Fault, level: Level) -> bool {
    match level {
        Level::Warning => out.warnings.contains(fault),
        Level::Derate => out.derates.contains(fault),
        Level::Trip => out.trips.contains(fault),
    }
}

fn run(engine: &mut Engine, m: &Measurement, millis: u32) -> Outputs {
    let mut out = engine.step(m, DT);
    for _ in 1..millis.div_ceil(DT) {
        out = engine.step(m, DT);
    }
    out
}

fn violating(rule: &Rule) -> i32 {
    match rule.direction {
        Direction::Above => rule.threshold + 1,
        Direction::Below => rule.threshold - 1,
    }
}

/// Every row of the default table: trips after its delay and not before, clears only after the
/// release delay once back at its release threshold, and a latching row only after a reset.
#[test]
fn every_table_row_trips_after_its_delay_and_releases_outside_its_band() {
    let mut tested = 0;
    for rule in engine().rules().iter().copied() {
        if matches!(
            rule.signal,
            Signal::StuckCount
                | Signal::FrontEndSilence
                | Signal::PrechargeFailure
                | Signal::SelfDischarge
        ) {
            continue;
        }
        let name = format!("{:?}/{:?}", rule.fault, rule.level);
        let mut e = engine();
        let bad = driving(rule.signal, violating(&rule));
        if rule.trip_delay_ms >= DT {
            let out = run(&mut e, &bad, rule.trip_delay_ms - DT);
            assert!(
                !active(&out, rule.fault, rule.level),
                "{name} tripped early"
            );
        }
        let out = e.step(&bad, DT);
        let out = if rule.trip_delay_ms == 0 {
            out
        } else {
            e.step(&bad, DT)
        };
        assert!(active(&out, rule.fault, rule.level), "{name} did not trip");
        // (Other rows may trip on the same snapshot, so only the row's own blocks are checked.)
        if rule.blocks_charge {
            assert!(!out.charge_switch_on, "{name} must open the charge switch");
        }
        if rule.blocks_discharge {
            assert!(
                !out.discharge_switch_on,
                "{name} must open the discharge switch"
            );
        }
        let event = e
            .event_log()
            .iter()
            .map(|(_, ev)| *ev)
            .find(|ev| ev.fault == rule.fault && ev.level == rule.level)
            .unwrap();
        assert_eq!(event.kind, EventKind::Tripped);
        assert_eq!(event.limit, rule.threshold, "{name} event limit");
        assert_eq!(event.delay_ms, rule.trip_delay_ms, "{name} event delay");

        // Inside the band (between threshold and release): never clears.
        if rule.release != rule.threshold {
            let inside = match rule.direction {
                Direction::Above => rule.release + 1,
                Direction::Below => rule.release - 1,
            };
            let out = run(&mut e, &driving(rule.signal, inside), 60_000);
            assert!(
                active(&out, rule.fault, rule.level),
                "{name} released inside its band"
            );
        }
        let released = driving(rule.signal, rule.release);
        if rule.latching {
            let out = run(&mut e, &released, 60_000);
            assert!(active(&out, rule.fault, rule.level), "{name} must latch");
            assert!(out.latched.contains(rule.fault));
            e.reset_latched();
        }
        if rule.release_delay_ms >= DT {
            let out = run(&mut e, &released, rule.release_delay_ms - DT);
            assert!(
                active(&out, rule.fault, rule.level),
                "{name} released early"
            );
        }
        let out = run(&mut e, &released, 2 * DT);
        assert!(
            !active(&out, rule.fault, rule.level),
            "{name} did not release"
        );
        tested += 1;
    }
    assert_eq!(
        tested,
        11 * 3 + 6,
        "every graded row and every flag row but three"
    );
}

#[test]
fn over_voltage_keeps_discharge_and_names_the_cell() {
    let mut e = engine();
    let out = run(&mut e, &with_cell(6, 3_700), 2_100);
    assert!(out.trips.contains(Fault::CellOverVoltage));
    assert!(!out.charge_switch_on && out.discharge_switch_on);
    assert_eq!(out.limits.charge_current_ma, 0);
    assert!(out.limits.discharge_current_ma > 0);
    let trip = e
        .event_log()
        .iter()
        .map(|(_, ev)| *ev)
        .find(|ev| ev.fault == Fault::CellOverVoltage && ev.level == Level::Trip)
        .unwrap();
    assert_eq!(trip.location, Some(6));
    assert_eq!(
        (trip.value, trip.limit, trip.delay_ms),
        (3_700, 3_650, 2_000)
    );
}

#[test]
fn a_silent_front_end_trips_after_its_timeout_and_recovers() {
    let mut e = engine();
    let mut stale = healthy();
    stale.fresh = false;
    let out = run(&mut e, &stale, 2_000);
    assert!(!out.trips.contains(Fault::FrontEndLost));
    let out = e.step(&stale, DT);
    assert!(out.trips.contains(Fault::FrontEndLost));
    assert!(!out.charge_switch_on && !out.discharge_switch_on);
    let out = run(&mut e, &healthy(), 1_100);
    assert!(!out.trips.contains(Fault::FrontEndLost));
    assert!(out.charge_switch_on && out.discharge_switch_on);
}

#[test]
fn stale_snapshots_neither_trip_nor_release_value_rules() {
    let mut e = engine();
    run(&mut e, &with_cell(2, 3_700), 2_100);
    let mut stale = with_cell(2, 3_300);
    stale.fresh = false;
    let out = run(&mut e, &stale, 1_500);
    assert!(
        out.trips.contains(Fault::CellOverVoltage),
        "a stale reading must not release"
    );
}

#[test]
fn a_stuck_sensor_latches_when_enabled() {
    let mut c = config();
    c.stuck_sensor_ms = 60_000;
    let mut e = Engine::new(c, 500).unwrap();
    let out = run(&mut e, &healthy(), 59_900);
    assert!(!out.trips.contains(Fault::StuckSensor));
    let out = run(&mut e, &healthy(), 200);
    assert!(out.trips.contains(Fault::StuckSensor));
    assert!(out.latched.contains(Fault::StuckSensor));
}

#[test]
fn precharge_failure_latches_and_reset_retries() {
    let mut e = Engine::new(contactor_config(), 500).unwrap();
    let mut dead_bus = healthy();
    dead_bus.bus_voltage_mv = Some(0);
    let out = run(&mut e, &dead_bus, 3_200);
    assert!(out.trips.contains(Fault::PrechargeFailed));
    assert!(out.latched.contains(Fault::PrechargeFailed));
    assert!(!out.switches.precharge_on && !out.switches.main_contactor_on);
    let mut live_bus = healthy();
    live_bus.bus_voltage_mv = Some(52_500);
    let out = run(&mut e, &live_bus, 5_000);
    assert!(!out.switches.main_contactor_on, "stays open until reset");
    e.reset_latched();
    let out = run(&mut e, &live_bus, 500);
    assert!(out.trips.is_empty(), "{:?}", out.trips);
    assert!(out.switches.main_contactor_on);
    assert!(out.charge_switch_on && out.discharge_switch_on);
}

/// The log tells the contactor's sequence: how long pre-charge took and at what voltages the
/// main contactor closed, and when it opened again.
#[test]
fn the_contactor_closing_and_opening_are_logged() {
    let mut e = Engine::new(contactor_config(), 500).unwrap();
    let mut m = healthy();
    m.bus_voltage_mv = Some(40_000);
    run(&mut e, &m, 1_000);
    assert!(
        e.event_log()
            .iter()
            .all(|(_, ev)| ev.kind != EventKind::ContactorClosed)
    );
    m.bus_voltage_mv = Some(52_500);
    let out = run(&mut e, &m, 500);
    assert!(out.switches.main_contactor_on);
    e.force_switches_off(true);
    let out = run(&mut e, &m, 200);
    assert!(!out.switches.main_contactor_on);
    let logged: Vec<_> = e
        .event_log()
        .iter()
        .map(|(_, ev)| (ev.kind, ev.value, ev.limit, ev.delay_ms))
        .collect();
    assert_eq!(
        logged,
        [
            // Pre-charge began at the first step; the eleventh, with the bus within 1 V of the
            // 52.8 V pack, closed the contactor: ten steps of 100 ms.
            (EventKind::ContactorClosed, 52_500, 52_800, 1_000),
            (EventKind::SwitchesHeldOpen, 0, 0, 0),
            (EventKind::ContactorOpened, 52_800, 0, 0),
        ]
    );
}

#[test]
fn contactor_stays_closed_for_one_blocked_direction_and_limits_say_zero() {
    let mut e = Engine::new(contactor_config(), 500).unwrap();
    let mut m = with_cell(1, 3_700);
    m.bus_voltage_mv = Some(53_000);
    let out = run(&mut e, &m, 2_200);
    assert!(out.trips.contains(Fault::CellOverVoltage));
    assert!(out.switches.main_contactor_on);
    assert!(!out.charge_switch_on && out.discharge_switch_on);
    assert_eq!(out.limits.charge_current_ma, 0);
}

#[test]
fn repeated_trips_within_the_window_latch() {
    let mut e = engine();
    let high = with_cell(0, 3_700);
    let ok = with_cell(0, 3_300);
    for round in 1..=3 {
        let out = run(&mut e, &high, 2_100);
        assert!(out.trips.contains(Fault::CellOverVoltage), "round {round}");
        let out = run(&mut e, &ok, 2_500);
        if round < 3 {
            assert!(
                !out.trips.contains(Fault::CellOverVoltage),
                "round {round} releases"
            );
        } else {
            assert!(
                out.latched.contains(Fault::CellOverVoltage),
                "third trip latches"
            );
        }
    }
    assert!(
        e.event_log()
            .iter()
            .any(|(_, ev)| ev.kind == EventKind::Latched && ev.fault == Fault::CellOverVoltage)
    );
    e.reset_latched();
    let out = run(&mut e, &ok, 2_500);
    assert!(out.trips.is_empty());
}

#[test]
fn forced_off_opens_everything_until_released() {
    let mut e = engine();
    e.force_switches_off(true);
    let out = e.step(&healthy(), DT);
    assert!(!out.charge_switch_on && !out.discharge_switch_on);
    e.force_switches_off(false);
    let out = e.step(&healthy(), DT);
    assert!(out.charge_switch_on && out.discharge_switch_on);
}

/// Whoever looks at the log later can see that a host held the switches open, when, and when
/// it gave them back; a command that changes nothing is not news.
#[test]
fn holding_the_switches_open_and_giving_them_back_are_logged() {
    let mut e = engine();
    run(&mut e, &healthy(), 5_000);
    let before = e.event_log().recorded();
    e.force_switches_off(true);
    e.force_switches_off(true);
    run(&mut e, &healthy(), 3_000);
    e.force_switches_off(false);
    e.force_switches_off(false);
    let logged: Vec<(u64, EventKind)> = e
        .event_log()
        .since(before)
        .map(|(_, ev)| (ev.time_ms, ev.kind))
        .collect();
    assert_eq!(
        logged,
        [
            (5_000, EventKind::SwitchesHeldOpen),
            (8_000, EventKind::SwitchesGivenBack)
        ]
    );
}

#[test]
fn an_invalid_configuration_write_changes_nothing_and_lists_every_error() {
    let mut e = engine();
    let before = *e.config();
    let mut bad = before;
    bad.capacity_mah = 0;
    bad.balance_stop_delta_mv = 50;
    let error = e.set_config(bad).unwrap_err();
    assert_eq!(
        error,
        bms_engine::Error::InvalidConfig {
            field: "capacity_mah",
            rule: "must be greater than 0"
        }
    );
    let fields: Vec<&str> = bad.violations().iter().map(|v| v.field).collect();
    assert_eq!(fields, ["capacity_mah", "balance_stop_delta_mv"]);
    assert_eq!(*e.config(), before);
    let mut good = before;
    good.cell_over_voltage.trip = 3_700;
    good.cell_over_voltage.hysteresis = 300;
    e.set_config(good).unwrap();
    let out = run(&mut e, &with_cell(0, 3_680), 3_000);
    assert!(
        !out.trips.contains(Fault::CellOverVoltage),
        "new limit in force"
    );
}

#[test]
fn a_latched_fault_survives_a_configuration_write() {
    let mut e = engine();
    let mut short = healthy();
    short.short_circuit = true;
    e.step(&short, DT);
    let mut c = *e.config();
    c.balance_start_delta_mv = 20;
    c.switches = SwitchKind::Contactor {
        voltage_match_mv: 1_000,
        precharge_timeout_ms: 3_000,
    };
    e.set_config(c).unwrap();
    let out = run(&mut e, &healthy(), 5_000);
    assert!(
        out.latched.contains(Fault::ShortCircuit),
        "a new configuration is no reset"
    );
    assert!(!out.charge_switch_on && !out.discharge_switch_on);
    assert_eq!(
        out.contactor,
        Some(bms_engine::switches::ContactorState::Open)
    );
    e.reset_latched();
    let reset = e.event_log().iter().last().unwrap().1;
    assert_eq!(
        (reset.kind, reset.fault),
        (EventKind::Reset, Fault::ShortCircuit)
    );
    let mut bus = healthy();
    bus.bus_voltage_mv = Some(52_800);
    let out = run(&mut e, &bus, 1_200);
    assert!(out.trips.is_empty());
    assert!(out.switches.main_contactor_on);
    assert_eq!(e.uptime_ms(), 100 + 5_000 + 1_200);
}

#[test]
fn balancing_counters_accumulate_per_cell() {
    let mut e = engine();
    let mut m = with_cell(4, 3_420);
    m.current_ma = 20_000;
    let out = run(&mut e, &m, 3_600_000);
    assert_eq!(out.balancing.mask, 1 << 4);
    assert_eq!(e.balanced_mah(4), 60, "60 mA for an hour");
    assert_eq!(e.balanced_mah(3), 0);
    assert_eq!(e.balanced_mah(99), 0, "out of range reads as nothing");
}

#[test]
fn heater_runs_in_the_cold_and_charging_waits() {
    let mut e = engine();
    let mut cold = healthy();
    cold.temperatures_deci_c[0] = Some(-50);
    cold.temperatures_deci_c[1] = Some(-48);
    let out = run(&mut e, &cold, 6_000);
    assert!(out.trips.contains(Fault::ChargeUnderTemperature));
    assert!(!out.charge_switch_on && out.discharge_switch_on);
    assert!(out.heater_on, "heat first");
    let mut warm = healthy();
    warm.temperatures_deci_c[0] = Some(60);
    warm.temperatures_deci_c[1] = Some(61);
    let out = run(&mut e, &warm, 6_000);
    assert!(!out.heater_on);
    assert!(out.charge_switch_on, "then charge");
}

#[test]
fn coulomb_counting_follows_the_current() {
    use bms_engine::estimation::{CellModelParams, Estimator, EstimatorKind};
    let mut e = engine();
    let cells = usize::from(e.config().cell_count);
    e.set_estimator(Estimator::new(
        EstimatorKind::Baseline,
        CellModelParams::lfp(280.0),
        cells,
        0.5,
    ));
    let mut discharge = healthy();
    discharge.current_ma = -140_000;
    let mut out = e.step(&discharge, 1_000);
    for _ in 1..3_600 {
        out = e.step(&discharge, 1_000);
    }
    assert_eq!(out.soc_permille, 0);
}

proptest! {
    /// A cell over-voltage lasting its delay plus one step always trips, whatever the step size.
    #[test]
    fn a_long_enough_violation_always_trips(
        mv in 3_651_u16..5_000,
        cell in 0..CELLS,
        dt in 1_u32..500,
    ) {
        let mut e = engine();
        let m = with_cell(cell, mv);
        let steps = 2_000_u32.div_ceil(dt) + 1;
        let mut out = e.step(&m, dt);
        for _ in 1..steps {
            out = e.step(&m, dt);
        }
        prop_assert!(out.trips.contains(Fault::CellOverVoltage));
        prop_assert!(!out.charge_switch_on);
    }

    /// Over-temperature the same way, from either sensor.
    #[test]
    fn a_long_enough_over_temperature_always_trips(
        t in 551_i16..1_200,
        sensor in 0_usize..2,
        dt in 10_u32..1_000,
    ) {
        let mut e = engine();
        let mut m = healthy();
        m.temperatures_deci_c[sensor] = Some(t);
        m.temperatures_deci_c[1 - sensor] = Some(t - 100);
        let steps = 5_000_u32.div_ceil(dt) + 1;
        let mut out = e.step(&m, dt);
        for _ in 1..steps {
            out = e.step(&m, dt);
        }
        prop_assert!(out.trips.contains(Fault::DischargeOverTemperature));
        prop_assert!(!out.charge_switch_on && !out.discharge_switch_on);
    }

    /// Values that stay inside every release band never trip anything.
    #[test]
    fn nothing_trips_inside_the_release_bands(
        trace in proptest::collection::vec(
            (
                proptest::collection::vec(3_101_u16..=3_190, CELLS),
                -150_000_i32..=100_000,
                (31_i16..=340, 0_i16..=50),
                1_u32..5_000,
            ),
            1..40,
        ),
    ) {
        let mut e = engine();
        for (cells, current_ma, (t, spread), dt) in trace {
            let m = Measurement::new(&cells, current_ma)
                .unwrap()
                .with_temperatures(&[Some(t), Some(t + spread)])
                .unwrap();
            let out = e.step(&m, dt);
            prop_assert!(out.trips.is_empty(), "{:?}", out.trips);
            prop_assert!(out.charge_switch_on && out.discharge_switch_on);
        }
    }

    /// Outputs written over last step's (events, cell SOCs and all) are the outputs a fresh
    /// step returns, for traces that trip, release and log.
    #[test]
    fn step_into_a_used_slot_is_step(
        trace in proptest::collection::vec(
            (
                proptest::collection::vec(2_400_u16..3_800, 0..=CELLS),
                -300_000_i32..=300_000,
                proptest::option::of(-300_i16..=900),
                any::<bool>(),
                1_u32..3_000,
            ),
            1..40,
        ),
    ) {
        let (mut stepped, mut into) = (engine(), engine());
        let mut slot = into.step(&healthy(), DT);
        stepped.step(&healthy(), DT);
        for (cells, current_ma, t, sc, dt) in trace {
            let mut m = Measurement::new(&cells, current_ma)
                .unwrap()
                .with_temperatures(&[t, Some(250)])
                .unwrap();
            m.short_circuit = sc;
            let out = stepped.step(&m, dt);
            into.step_into(&m, dt, &mut slot);
            prop_assert_eq!(&out, &slot);
        }
    }

    /// Switches never close while a latched fault is active, whatever follows.
    #[test]
    fn switches_stay_open_while_latched(
        trace in proptest::collection::vec(
            (proptest::collection::vec(2_000_u16..3_700, CELLS), any::<bool>(), 1_u32..2_000),
            1..40,
        ),
    ) {
        let mut e = engine();
        let mut short = healthy();
        short.short_circuit = true;
        e.step(&short, DT);
        for (cells, sc, dt) in trace {
            let mut m = Measurement::new(&cells, 0)
                .unwrap()
                .with_temperatures(&[Some(250), Some(250)])
                .unwrap();
            m.short_circuit = sc;
            let out = e.step(&m, dt);
            prop_assert!(out.latched.contains(Fault::ShortCircuit));
            prop_assert!(!out.charge_switch_on && !out.discharge_switch_on);
        }
    }

    /// No input makes the engine panic: any cell count, any values, missing sensors, stale
    /// snapshots, any step size.
    #[test]
    fn the_engine_never_panics(
        trace in proptest::collection::vec(
            (
                proptest::collection::vec(any::<u16>(), 0..=32),
                any::<i32>(),
                proptest::collection::vec(proptest::option::of(any::<i16>()), 0..=8),
                (proptest::option::of(any::<u32>()), proptest::option::of(any::<u32>())),
                (any::<bool>(), any::<bool>()),
                any::<u32>(),
            ),
            1..30,
        ),
        contactor in any::<bool>(),
    ) {
        let mut c = config();
        if contactor {
            c.switches = SwitchKind::Contactor { voltage_match_mv: 1_000, precharge_timeout_ms: 2_000 };
        }
        let mut e = Engine::new(c, 500).unwrap();
        for (cells, current, temps, (pack, bus), (sc, fresh), dt) in trace {
            let mut m = Measurement::new(&cells, current).unwrap().with_temperatures(&temps).unwrap();
            m.pack_voltage_mv = pack;
            m.bus_voltage_mv = bus;
            m.short_circuit = sc;
            m.fresh = fresh;
            let out = e.step(&m, dt);
            prop_assert!(out.limits.charge_voltage_mv > 0);
            prop_assert!(out.soc_permille <= 1000);
        }
    }
}
