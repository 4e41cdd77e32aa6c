//! What the CLI writes: the CSV time series, the serial byte stream, and the physics they
//! report (charge conservation).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::protocol::{DeviceMessage, FrameDecoder};
use emulator::{EmulatedDevice, Scenario, Simulation, SimulationConfig};

fn config(scenario: Scenario, cells: usize) -> SimulationConfig {
    SimulationConfig {
        scenario,
        seed: 5,
        cell_count: cells,
    }
}

#[test]
fn integrated_current_matches_every_cells_stored_charge() {
    let mut sim = Simulation::new(config(Scenario::SolarDay, 8)).unwrap();
    let start: Vec<f64> = sim
        .pack()
        .cells
        .iter()
        .map(|c| c.soc * c.params.capacity_ah * 3600.0)
        .collect();
    let mut throughput_as = 0.0;
    let mut net_as = 0.0;
    for _ in 0..86_400 {
        sim.step();
        net_as += sim.current_a();
        throughput_as += sim.current_a().abs();
    }
    assert!(throughput_as > 100.0 * 3600.0, "a real day moves charge");
    for (cell, before) in sim.pack().cells.iter().zip(start) {
        let stored = cell.soc * cell.params.capacity_ah * 3600.0 - before;
        assert!(
            (stored - net_as).abs() <= 0.001 * throughput_as,
            "stored {stored} A·s vs integrated {net_as} A·s"
        );
    }
}

#[test]
fn csv_rows_match_the_header_and_carry_measurement_truth_and_decisions() {
    let mut sim = Simulation::new(config(Scenario::Overcharge, 4)).unwrap();
    let mut out = Vec::new();
    emulator::csv::write_header(&mut out, 4).unwrap();
    for _ in 0..10 {
        sim.run_for(60);
        emulator::csv::write_row(&mut out, &sim).unwrap();
    }
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], ["time_s", "current_a", "cell1_v"]);
    assert_eq!(header[6], "temp_c");
    assert_eq!(header[7], "true_soc1_pct");
    assert_eq!(*header.last().unwrap(), "trips");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 10);
    for row in &rows {
        assert_eq!(row.len(), header.len());
    }
    let last = rows.last().unwrap();
    assert_eq!(last[0], "600");
    assert_eq!(*last.last().unwrap(), "cell-over-voltage");
    let charge_col = header
        .iter()
        .position(|h| *h == "charge_switch_on")
        .unwrap();
    assert_eq!(last[charge_col], "0");
    let v: f64 = last[2].parse().unwrap();
    assert!((3.0..3.8).contains(&v));
}

#[test]
fn the_wire_stream_is_a_greeting_then_telemetry_and_events() {
    let mut device = EmulatedDevice::new(config(Scenario::Overcharge, 16)).unwrap();
    let mut bytes = device.hello();
    for _ in 0..10 {
        bytes.extend(device.advance(60));
    }
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut kinds = vec![];
    decoder.feed(&bytes, |r| {
        kinds.push(match r.unwrap() {
            DeviceMessage::DeviceInfo(_) => 'i',
            DeviceMessage::Telemetry(_) => 't',
            DeviceMessage::Event { .. } => 'e',
            other => panic!("unexpected {other:?}"),
        })
    });
    assert_eq!(kinds[0], 'i');
    assert_eq!(kinds.iter().filter(|k| **k == 't').count(), 10);
    assert!(
        kinds.contains(&'e'),
        "the over-voltage events are in the stream"
    );
}
