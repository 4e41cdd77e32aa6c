//! `emulator replay`: the engine on recorded measurements with a datasheet-like cell.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use emulator::replay::{CellDescription, replay};
use emulator::{Scenario, Simulation, SimulationConfig};

const LFP: &str = r#"{"capacity_ah": 280, "v_min": 2.5, "v_max": 3.65,
  "ocv": [[0, 2.833], [10, 3.177], [30, 3.240], [50, 3.265], [70, 3.283], [90, 3.309], [100, 3.392]]}"#;

fn recorded(scenario: Scenario, hours: u64) -> String {
    recorded_every(scenario, hours, 60)
}

fn recorded_every(scenario: Scenario, hours: u64, interval_s: u64) -> String {
    let mut sim = Simulation::new(SimulationConfig::new(scenario, 8, 8)).unwrap();
    let mut out = Vec::new();
    emulator::csv::write_header(&mut out, 8).unwrap();
    for _ in 0..hours * 3600 / interval_s {
        sim.run_for(interval_s);
        emulator::csv::write_row(&mut out, &sim).unwrap();
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_recorded_day_replays_with_soc_scored_against_the_truth() {
    let csv = recorded(Scenario::SolarDay, 24);
    let cell = CellDescription::from_json(LFP).unwrap();
    let mut rows = 0;
    let s = replay(&csv, &cell, |_, _, truth, _| {
        assert!(truth.is_some());
        rows += 1;
    })
    .unwrap();
    assert_eq!(s.cells, 8);
    assert_eq!(s.steps, 24 * 60);
    assert_eq!(rows, 24 * 60);
    assert!(s.trips.is_empty());
    // Started from the OCV table at 06:00 (rested), then counted coulombs.
    assert!(s.soc_rmse_pct.unwrap() < 5.0, "{:?}", s.soc_rmse_pct);
    assert!(s.energy_in_kwh > 2.0 && s.energy_out_kwh > 2.0);
}

#[test]
fn a_recorded_overcharge_trips_on_replay_too() {
    // Every second: the over-voltage lasts only the 2 s before the recorded BMS acted.
    let csv = recorded_every(Scenario::Overcharge, 1, 1);
    let cell = CellDescription::from_json(LFP).unwrap();
    let s = replay(&csv, &cell, |_, _, _, _| {}).unwrap();
    assert_eq!(s.trips.first().map(|t| t.fault), Some("cell-over-voltage"));
}

#[test]
fn bad_measurement_files_name_the_line_and_column() {
    let cell = CellDescription::from_json(LFP).unwrap();
    let err = |csv: &str| replay(csv, &cell, |_, _, _, _| {}).unwrap_err();
    assert_eq!(err(""), "the measurement file is empty");
    assert_eq!(
        err("time_s,cell1_v\n0,3.3"),
        "line 1: missing column `current_a`"
    );
    assert_eq!(
        err("time_s,current_a,cell1_v,temp_c\n0,1.0,3.3,25\n60,abc,3.3,25"),
        "line 3, column 2 (`current_a`): `abc` is not a number"
    );
    assert_eq!(
        err("time_s,current_a,cell1_v\n0,1.0,3.3\n60,1.0"),
        "line 3, column 3 (`cell1_v`): missing"
    );
    assert_eq!(
        err("time_s,current_a,cell1_v\n60,1.0,3.3\n30,1.0,3.3"),
        "line 3, column 1 (`time_s`): 30 s does not come after 60 s"
    );
    assert_eq!(
        err("time_s,current_a,cell1_v\n0,1.0,33.0"),
        "line 2, column 3 (`cell1_v`): 33 V is not a cell voltage"
    );
    assert_eq!(
        err("time_s,current_a,cell1_v"),
        "the measurement file has a header but no rows"
    );
    assert!(
        err("time_s,current_a,cell1_v,cell2_v,true_soc1_pct\n0,1,3.3,3.3,50")
            .contains("give all or none")
    );
}

#[test]
fn bad_cell_descriptions_say_what_and_where() {
    let e = CellDescription::from_json("{\"capacity_ah\": 280,\n \"v_min\": \"low\"}").unwrap_err();
    assert!(e.starts_with("cell description, line 2, column"), "{e}");
    let e =
        CellDescription::from_json(&LFP.replace("\"v_min\": 2.5", "\"v_min\": 3.6")).unwrap_err();
    assert!(e.contains("v_min"), "{e}");
    let e = CellDescription::from_json(&LFP.replace("[30, 3.240]", "[30, 3.100]")).unwrap_err();
    assert!(e.contains("point 3"), "{e}");
    let e = CellDescription::from_json(&LFP.replace("\"capacity_ah\": 280", "\"capacity_ah\": -1"))
        .unwrap_err();
    assert!(e.contains("capacity_ah"), "{e}");
}

#[test]
fn another_chemistry_gets_its_own_limits() {
    let nmc = CellDescription::from_json(
        r#"{"capacity_ah": 50, "v_min": 3.0, "v_max": 4.2,
            "ocv": [[0, 3.0], [20, 3.6], [50, 3.75], [80, 3.95], [100, 4.2]]}"#,
    )
    .unwrap();
    let c = nmc.engine_config(12);
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.cell_over_voltage.trip, 4_200);
    assert_eq!(c.cell_under_voltage.trip, 3_000);
    assert_eq!(c.capacity_mah, 50_000);
    assert!((nmc.soc_at(3.75) - 0.5).abs() < 1e-9);
    assert!((nmc.soc_at(3.85) - 0.65).abs() < 1e-9);
}
