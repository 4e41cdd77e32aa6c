//! The charge switch's standby on a shared bus (`PackConfig::shared_bus`): a pack in parallel
//! with others that may take no charge and carries none opens its charge switch so that the
//! others charge on, and closes it again when it discharges through the switch's diode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::{
    Engine, EventKind, Measurement, Outputs, PackConfig, STANDBY_AFTER_MS, SwitchKind,
};

const CELLS: usize = 16;
const DT: u32 = 1_000;

fn engine(shared_bus: bool) -> Engine {
    let config = PackConfig {
        shared_bus,
        ..PackConfig::lfp_280ah(CELLS as u8)
    };
    Engine::new(config, 500).unwrap()
}

/// Every cell at `mv` but cell 4 at `high_mv`, 25 °C, `current_ma` flowing.
fn reading(mv: u16, high_mv: u16, current_ma: i32) -> Measurement {
    let mut m = Measurement::new(&[mv; CELLS], current_ma)
        .unwrap()
        .with_temperatures(&[Some(250), Some(252)])
        .unwrap();
    m.cell_voltages_mv[3] = high_mv;
    m
}

/// A full pack: one cell above the over-voltage derate (3.600 V), so no charge limit; idle.
fn full() -> Measurement {
    reading(3_400, 3_610, 0)
}

fn run(engine: &mut Engine, m: &Measurement, secs: u32) -> (Outputs, Vec<bms_engine::Event>) {
    let mut events = Vec::new();
    let mut out = engine.step(m, DT);
    events.extend(out.events.iter().copied());
    for _ in 1..secs {
        out = engine.step(m, DT);
        events.extend(out.events.iter().copied());
    }
    (out, events)
}

fn standby_events(events: &[bms_engine::Event]) -> Vec<EventKind> {
    events
        .iter()
        .map(|e| e.kind)
        .filter(|k| matches!(k, EventKind::ChargeStandby | EventKind::ChargeResumed))
        .collect()
}

#[test]
fn alone_on_its_bus_a_full_pack_keeps_its_charge_switch_closed() {
    let mut e = engine(false);
    let (out, events) = run(&mut e, &full(), 600);
    assert_eq!(out.limits.charge_current_ma, 0);
    assert!(out.charge_switch_on && !out.charge_standby);
    assert!(standby_events(&events).is_empty());
}

#[test]
fn on_a_shared_bus_an_idle_full_pack_stands_by_after_its_delay() {
    let mut e = engine(true);
    let secs = STANDBY_AFTER_MS / DT;
    let (out, events) = run(&mut e, &full(), secs - 1);
    assert!(out.charge_switch_on, "not before {secs} s idle");
    assert!(standby_events(&events).is_empty());
    let (out, events) = run(&mut e, &full(), 1);
    assert!(!out.charge_switch_on && out.charge_standby);
    assert!(out.discharge_switch_on, "discharge stays on");
    assert!(!out.switches.charge_fet_on && out.switches.discharge_fet_on);
    assert_eq!(out.limits.charge_current_ma, 0);
    assert!(
        out.trips.is_empty(),
        "no fault: the switch is open for the others"
    );
    let standby: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ChargeStandby)
        .collect();
    assert_eq!(standby.len(), 1);
    assert_eq!(standby[0].value, 3_400 * 15 + 3_610, "the pack voltage, mV");
    assert!(!standby[0].kind.is_about_a_fault());
    // It stays open while idle: one event, not one a second.
    let (out, events) = run(&mut e, &full(), 600);
    assert!(out.charge_standby);
    assert!(standby_events(&events).is_empty());
}

#[test]
fn a_discharge_through_the_diode_closes_the_switch_at_once() {
    let mut e = engine(true);
    run(&mut e, &full(), 40);
    // 0.5 A out is within the rest current: still idle.
    let (out, _) = run(&mut e, &reading(3_400, 3_610, -500), 5);
    assert!(out.charge_standby);
    let (out, events) = run(&mut e, &reading(3_390, 3_590, -12_000), 1);
    assert!(out.charge_switch_on && !out.charge_standby);
    let resumed = events
        .iter()
        .find(|e| e.kind == EventKind::ChargeResumed)
        .unwrap();
    assert_eq!(
        resumed.value, -12_000,
        "the discharge current that closed it"
    );
}

#[test]
fn a_charge_limit_back_does_not_close_it() {
    // The cells settle and the limit comes back; the other packs may hold the bus far above
    // this one: closing would let in what that difference drives. Only a discharge closes it.
    let mut e = engine(true);
    run(&mut e, &full(), 40);
    let (out, events) = run(&mut e, &reading(3_300, 3_300, 0), 3_600);
    assert!(out.charge_standby && !out.charge_switch_on);
    assert_eq!(out.limits.charge_current_ma, 0, "told none while open");
    assert!(standby_events(&events).is_empty());
    let (out, _) = run(&mut e, &reading(3_300, 3_300, -3_000), 1);
    assert!(out.charge_switch_on && out.limits.charge_current_ma > 0);
}

#[test]
fn charged_past_a_zero_limit_it_stands_by_unless_protection_trips_first() {
    // The other packs (or a charger ignoring the limit) push 15 A into a full pack: its
    // charge switch opens after the same delay as when idle.
    let mut e = engine(true);
    let (out, events) = run(
        &mut e,
        &reading(3_400, 3_610, 15_000),
        STANDBY_AFTER_MS / DT,
    );
    assert!(out.charge_standby && !out.charge_switch_on);
    assert_eq!(standby_events(&events), vec![EventKind::ChargeStandby]);
    // A cell over its trip first: protection opens the switch, and no standby is left.
    let mut e = engine(true);
    let (out, _) = run(&mut e, &reading(3_400, 3_700, 120_000), 10);
    assert!(!out.charge_switch_on && !out.charge_standby);
    assert!(out.trips.contains(bms_engine::Fault::CellOverVoltage));
    // Alone on its bus, a pack pushed past its limit is left to protection.
    let mut e = engine(false);
    let (out, events) = run(&mut e, &reading(3_400, 3_610, 120_000), 120);
    assert!(out.charge_switch_on && !out.charge_standby);
    assert!(standby_events(&events).is_empty());
}

#[test]
fn contactor_hardware_never_stands_by() {
    let config = PackConfig {
        shared_bus: true,
        switches: SwitchKind::Contactor {
            voltage_match_mv: 1_000,
            precharge_timeout_ms: 3_000,
        },
        ..PackConfig::lfp_280ah(CELLS as u8)
    };
    let mut e = Engine::new(config, 500).unwrap();
    let mut m = full();
    m.bus_voltage_mv = Some(m.pack_voltage_mv());
    let (out, events) = run(&mut e, &m, 120);
    assert!(!out.charge_standby && out.contactor.is_some());
    assert!(standby_events(&events).is_empty());
}

#[test]
fn a_trip_ends_the_standby_without_a_resumed_event() {
    let mut e = engine(true);
    run(&mut e, &full(), 40);
    let (out, events) = run(&mut e, &reading(3_400, 3_700, 0), 10);
    assert!(!out.charge_switch_on && !out.charge_standby);
    assert!(!standby_events(&events).contains(&EventKind::ChargeResumed));
    // Turning the setting off also gives the switch back to protection alone.
    let mut e = engine(true);
    run(&mut e, &full(), 40);
    let mut config = *e.config();
    config.shared_bus = false;
    e.set_config(config).unwrap();
    let (out, events) = run(&mut e, &full(), 1);
    assert!(out.charge_switch_on && !out.charge_standby);
    assert_eq!(standby_events(&events), vec![EventKind::ChargeResumed]);
}
