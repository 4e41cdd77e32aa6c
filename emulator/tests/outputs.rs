//! What the CLI writes: the CSV time series, the serial byte stream, and the physics they
//! report (charge conservation).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::protocol::{DeviceMessage, FrameDecoder, Telemetry};
use emulator::{EmulatedDevice, Scenario, Simulation, SimulationConfig};

fn config(scenario: Scenario, cells: usize) -> SimulationConfig {
    SimulationConfig::new(scenario, 5, cells)
}

/// Charge conservation: with a lossless, non-self-discharging cell type, the integrated current
/// equals every cell's change of stored charge; with the default cell, the difference is exactly
/// the modelled losses (coulombic efficiency, self-discharge) within 0.1 % of the throughput.
#[test]
fn integrated_current_matches_every_cells_stored_charge() {
    use emulator::{CellModel, CellParams, Pack};
    use rand::SeedableRng;
    let run = |params: CellParams| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut pack = Pack::new(
            8,
            1,
            CellModel::new(params),
            0.5,
            0.01,
            25.0,
            bms_engine::PackConfig::lfp_280ah(8).balancer,
            &mut rng,
        );
        let charges = |pack: &Pack| -> Vec<f64> {
            (0..pack.cells.len())
                .map(|i| pack.cells.charge_ah(i).unwrap())
                .collect()
        };
        let before = charges(&pack);
        let (mut net_ah, mut charged_ah, mut throughput_ah) = (0.0, 0.0, 0.0);
        for k in 0..86_400 {
            // A day of varied current: charge in the day, discharge at night.
            let current = 60.0 * (f64::from(k) / 86_400.0 * std::f64::consts::TAU).sin() + 5.0;
            let flowed = pack.step(current, 1.0);
            net_ah += flowed / 3600.0;
            charged_ah += flowed.max(0.0) / 3600.0;
            throughput_ah += flowed.abs() / 3600.0;
        }
        let stored: Vec<f64> = charges(&pack)
            .iter()
            .zip(before)
            .map(|(c, b)| c - b)
            .collect();
        (pack, stored, net_ah, charged_ah, throughput_ah)
    };
    let mut ideal = CellParams::lfp_280ah().unwrap();
    ideal.coulombic_efficiency = 1.0;
    ideal.self_discharge_pct_per_month = 0.0;
    ideal.self_discharge_spread_pct_per_month = 0.0;
    let (_, stored, net_ah, _, throughput_ah) = run(ideal);
    assert!(
        throughput_ah > 500.0,
        "a real day moves charge: {throughput_ah} Ah"
    );
    for s in &stored {
        assert!(
            (s - net_ah).abs() <= 0.001 * throughput_ah,
            "stored {s} Ah vs integrated {net_ah} Ah"
        );
        assert!(
            (s - net_ah).abs() < 1e-9,
            "lossless cells keep every coulomb"
        );
    }
    let params = CellParams::lfp_280ah().unwrap();
    let (pack, stored, net_ah, charged_ah, throughput_ah) = run(params.clone());
    for (i, s) in stored.into_iter().enumerate() {
        let self_discharge_ah = pack.cells.self_discharge_per_sec(i).unwrap()
            * pack.cells.capacity_new_ah(i).unwrap()
            * 86_400.0;
        let losses_ah = charged_ah * (1.0 - params.coulombic_efficiency) + self_discharge_ah;
        assert!(
            (net_ah - losses_ah - s).abs() <= 0.001 * throughput_ah,
            "stored {s} Ah vs integrated {net_ah} Ah minus losses {losses_ah} Ah"
        );
    }
}

/// `emulator run --csv` of `scenario` with `cells` cells: `rows` rows, one every `every_s`.
fn csv_text(scenario: Scenario, cells: usize, rows: usize, every_s: u64) -> String {
    let mut sim = Simulation::new(config(scenario, cells)).unwrap();
    let mut out = Vec::new();
    emulator::csv::write_header(&mut out, cells).unwrap();
    for _ in 0..rows {
        sim.run_for(every_s);
        emulator::csv::write_row(&mut out, &sim).unwrap();
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn csv_rows_match_the_header_and_carry_measurement_truth_and_decisions() {
    let text = csv_text(Scenario::Overcharge, 4, 10, 60);
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
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // The lab bench sits at 25 °C: the cells warm a little under 140 A.
    let coldest: f64 = last[column("true_min_temp_c")].parse().unwrap();
    let hottest: f64 = last[column("true_max_temp_c")].parse().unwrap();
    assert!(
        (24.0..=hottest).contains(&coldest) && hottest < 35.0,
        "{coldest}..{hottest}"
    );
    assert_eq!(last[column("heater_on")], "0");
    assert!(["0", "1"].contains(&last[column("fan_on")]));
    // Empty, or 1-based cell numbers separated by spaces.
    for cell in last[column("bleeding_cells")].split_whitespace() {
        assert!((1..=4).contains(&cell.parse::<usize>().unwrap()), "{cell}");
    }
}

#[test]
fn the_csv_shows_the_heater_warming_a_winter_pack() {
    let text = csv_text(Scenario::WinterCold, 16, 24, 600);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let heater = header.iter().position(|h| *h == "heater_on").unwrap();
    let coldest = header.iter().position(|h| *h == "true_min_temp_c").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().any(|r| r[heater] == "1"), "the heater runs");
    let first: f64 = rows[0][coldest].parse().unwrap();
    assert!(first < 0.0, "the pack starts below freezing: {first} °C");
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

/// The last report in a device's `bytes`.
fn last_report(bytes: &[u8]) -> Telemetry {
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut last = None;
    decoder.feed(bytes, |r| {
        if let Ok(DeviceMessage::Telemetry(t)) = r {
            last = Some(t);
        }
    });
    last.expect("a report")
}

/// The reports carry each cell's resistance as the BMS has learnt it: nothing before it has
/// seen the current steps that show it, then every cell, with the one behind the connection
/// that went bad (cell 3, +5 mΩ after an hour) standing out at its true value.
#[test]
fn the_reports_name_the_cell_behind_a_bad_connection_by_its_resistance() {
    let mut device = EmulatedDevice::new(config(Scenario::FaultResistanceStep, 16)).unwrap();
    let resistances = |bytes: &[u8]| last_report(bytes).cell_r0_micro_ohm;
    let first = resistances(&device.advance(1));
    assert_eq!(first.len(), 16, "a place for every cell");
    assert!(
        first.iter().all(|&r| r == 0),
        "nothing learnt yet: {first:?}"
    );
    let days = Scenario::FaultResistanceStep.days();
    let last = resistances(&device.advance((days * 86_400.0) as u64));
    let sim = device.simulation();
    let model = &sim.pack().model;
    for (i, r) in last.iter().enumerate() {
        assert!(*r > 0, "cell {} not learnt by the end", i + 1);
        let estimate_mohm = f64::from(*r) / 1000.0;
        let true_mohm = sim.pack().cells.r0_at_25c_ohm(i, model).unwrap() * 1000.0;
        assert!(
            (estimate_mohm - true_mohm).abs() <= 0.1 * true_mohm + 0.05,
            "cell {}: {estimate_mohm:.3} mΩ reported, {true_mohm:.3} mΩ true",
            i + 1
        );
        if i == 2 {
            assert!(estimate_mohm > 5.0, "{estimate_mohm}");
        } else {
            assert!(estimate_mohm < 0.5, "cell {}: {estimate_mohm}", i + 1);
        }
    }
}

/// The reports carry each cell's capacity as the BMS has learnt it: nothing at the start, and
/// by the end of the day the weak cell (cell 8, 70 %: full first and empty first, so its ends
/// are seen first) at its true capacity, as the lowest of those learnt.
#[test]
fn the_reports_name_the_weak_cell_by_its_capacity() {
    let mut device = EmulatedDevice::new(config(Scenario::FaultWeakCell, 16)).unwrap();
    let capacities = |bytes: &[u8]| last_report(bytes).cell_capacity_deci_ah;
    let first = capacities(&device.advance(1));
    assert_eq!(first.len(), 16, "a place for every cell");
    assert!(
        first.iter().all(|&q| q == 0),
        "nothing learnt yet: {first:?}"
    );
    let days = Scenario::FaultWeakCell.days();
    let last = capacities(&device.advance((days * 86_400.0) as u64));
    let cells = &device.simulation().pack().cells;
    for (i, &q) in last.iter().enumerate().filter(|(_, q)| **q > 0) {
        let estimate_ah = f64::from(q) / 10.0;
        let true_ah = cells.capacity_ah(i).unwrap();
        assert!(
            (estimate_ah - true_ah).abs() <= 0.03 * true_ah,
            "cell {}: {estimate_ah:.1} Ah reported, {true_ah:.1} Ah true",
            i + 1
        );
    }
    let weakest = (0..16).filter(|&i| last[i] > 0).min_by_key(|&i| last[i]);
    assert_eq!(weakest, Some(7), "{last:?}");
    assert!(f64::from(last[7]) / 10.0 < 0.75 * 280.0, "{last:?}");
    // The summary names the same cell, with its own truth beside it.
    let lowest = device.simulation().summary().lowest_capacity.unwrap();
    assert_eq!(lowest.cell, 8);
    assert!((lowest.estimate_ah - f64::from(last[7]) / 10.0).abs() <= 0.05);
    assert_eq!(Some(lowest.true_ah), cells.capacity_ah(7));
}
