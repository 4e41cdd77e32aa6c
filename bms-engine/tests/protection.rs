//! Whole-engine protection behaviour: trip delays, release hysteresis, switch commands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::{Engine, EventKind, Fault, Measurement, Outputs, PackConfig};
use proptest::prelude::*;

const CELLS: usize = 16;

fn engine() -> Engine {
    Engine::new(PackConfig::lfp_280ah(CELLS as u8), 500).unwrap()
}

/// A snapshot with every cell at 3.30 V except `cell` at `mv`.
fn with_cell(cell: usize, mv: u16) -> Measurement {
    let mut cells = [3_300_u16; CELLS];
    cells[cell] = mv;
    Measurement::new(&cells, 0).unwrap()
}

fn run(engine: &mut Engine, m: &Measurement, steps: u32, dt_millis: u32) -> Outputs {
    let mut last = engine.step(m, dt_millis);
    for _ in 1..steps {
        last = engine.step(m, dt_millis);
    }
    last
}

#[test]
fn over_voltage_trips_after_its_delay_and_not_before() {
    let mut e = engine();
    let high = with_cell(6, 3_700);
    // 2 s delay at 100 ms steps: 19 steps = 1.9 s is not enough.
    let out = run(&mut e, &high, 19, 100);
    assert!(out.faults.is_empty());
    assert!(out.charge_switch_on);
    let out = e.step(&high, 100);
    assert!(out.faults.contains(Fault::CellOverVoltage));
    assert!(
        !out.charge_switch_on,
        "over-voltage must open the charge switch"
    );
    assert!(
        out.discharge_switch_on,
        "discharge stays allowed after over-voltage"
    );
    let event = out.events[0];
    assert_eq!(event.kind, EventKind::Tripped);
    assert_eq!(event.fault, Fault::CellOverVoltage);
    assert_eq!(event.cell_index, Some(6));
    assert_eq!((event.value, event.limit), (3_700, 3_650));
}

#[test]
fn over_voltage_releases_only_below_the_hysteresis_band() {
    let mut e = engine();
    run(&mut e, &with_cell(0, 3_700), 30, 100);
    // Inside the band (3.40 .. 3.65 V) for a long time: stays tripped.
    let out = run(&mut e, &with_cell(0, 3_500), 600, 100);
    assert!(out.faults.contains(Fault::CellOverVoltage));
    assert!(!out.charge_switch_on);
    let out = run(&mut e, &with_cell(0, 3_401), 600, 100);
    assert!(out.faults.contains(Fault::CellOverVoltage));
    // At the release threshold: clears after the 1 s release delay, not before.
    let out = run(&mut e, &with_cell(0, 3_400), 9, 100);
    assert!(out.faults.contains(Fault::CellOverVoltage));
    let out = e.step(&with_cell(0, 3_400), 100);
    assert!(out.faults.is_empty());
    assert!(out.charge_switch_on);
    assert_eq!(out.events[0].kind, EventKind::Cleared);
}

#[test]
fn under_voltage_opens_discharge_and_keeps_charge() {
    let mut e = engine();
    let out = run(&mut e, &with_cell(15, 2_400), 21, 100);
    assert!(out.faults.contains(Fault::CellUnderVoltage));
    assert!(!out.discharge_switch_on);
    assert!(
        out.charge_switch_on,
        "charging must stay possible to recover"
    );
    assert_eq!(out.events.len(), 0, "the trip event came one step earlier");
    let out = run(&mut e, &with_cell(15, 3_000), 100, 100);
    assert!(
        out.faults.contains(Fault::CellUnderVoltage),
        "3.0 V is inside the band"
    );
}

#[test]
fn a_snapshot_with_missing_cells_opens_both_switches_at_once() {
    let mut e = engine();
    let short = Measurement::new(&[3_300; CELLS - 1], 0).unwrap();
    let out = e.step(&short, 100);
    assert!(out.faults.contains(Fault::MeasurementInvalid));
    assert!(!out.charge_switch_on && !out.discharge_switch_on);
    let out = e.step(&with_cell(0, 3_300), 100);
    assert!(out.faults.is_empty());
    assert!(out.charge_switch_on && out.discharge_switch_on);
}

#[test]
fn coulomb_counting_follows_the_current() {
    let mut e = engine();
    let cells = [3_300_u16; CELLS];
    let discharge = Measurement::new(&cells, -140_000).unwrap();
    // 0.5 C for one hour: 50 % -> 0 %.
    let out = run(&mut e, &discharge, 3_600, 1_000);
    assert_eq!(out.soc_permille, 0);
    let charge = Measurement::new(&cells, 28_000).unwrap();
    let out = run(&mut e, &charge, 1_800, 1_000);
    assert_eq!(out.soc_permille, 50);
}

proptest! {
    /// A violation that lasts at least the trip delay always trips.
    #[test]
    fn a_long_enough_violation_always_trips(
        mv in 3_651_u16..5_000,
        cell in 0..CELLS,
        dt in 1_u32..500,
    ) {
        let mut e = engine();
        let steps = 2_000_u32.div_ceil(dt);
        let out = run(&mut e, &with_cell(cell, mv), steps, dt);
        prop_assert!(out.faults.contains(Fault::CellOverVoltage));
        prop_assert!(!out.charge_switch_on);
    }

    /// Values that never leave the allowed range never trip anything.
    #[test]
    fn nothing_trips_inside_the_limits(
        voltages in proptest::collection::vec(2_500_u16..=3_650, CELLS),
        dts in proptest::collection::vec(1_u32..5_000, 1..50),
    ) {
        let mut e = engine();
        let m = Measurement::new(&voltages, 0).unwrap();
        for dt in dts {
            let out = e.step(&m, dt);
            prop_assert!(out.faults.is_empty());
            prop_assert!(out.charge_switch_on && out.discharge_switch_on);
        }
    }

    /// Once tripped, nothing inside the hysteresis band releases the fault.
    #[test]
    fn nothing_releases_inside_the_band(mv in 3_401_u16..=3_650, steps in 1_u32..200) {
        let mut e = engine();
        run(&mut e, &with_cell(3, 3_700), 21, 100);
        let out = run(&mut e, &with_cell(3, mv), steps, 1_000);
        prop_assert!(out.faults.contains(Fault::CellOverVoltage));
    }
}
