//! Cost of the closed loop (`cargo bench -p emulator`): one simulated hour of a 16-cell pack in
//! its solar home with the engine, at 1 s steps; divide by 3 600 × 16 for ns per cell-step (the
//! bench prints it). Also prints the emulator's memory per cell, and a day of a bank of three
//! packs in parallel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use emulator::{Bank, Cells, Scenario, Simulation, SimulationConfig};

fn main() {
    let sim = simulation(16);
    // The cells' arrays have a lane for each of MAX_CELLS cells.
    let per_lane = core::mem::size_of::<Cells>() / bms_engine::MAX_CELLS;
    let per_cell = per_lane + 2 * core::mem::size_of::<f64>();
    println!(
        "memory per cell: {per_cell} bytes (cell state {per_lane} B + sensor channel 16 B); a 16-cell simulation holds {} B of fixed state besides",
        core::mem::size_of_val(&sim)
    );
    let start = std::time::Instant::now();
    let mut s = simulation(16);
    s.run_for(86_400);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "one 16-cell pack-day: {ms:.0} ms ({:.0} ns per cell-step)",
        ms * 1e6 / (86_400.0 * 16.0)
    );
    // Three such packs in parallel on one bus, each with its own engine, the bus voltage
    // solved every second.
    let start = std::time::Instant::now();
    let mut bank = Bank::new(SimulationConfig {
        packs: 3,
        ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
    })
    .unwrap();
    bank.run_for(86_400);
    println!(
        "a bank of three 16-cell packs, one day: {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    divan::main();
}

fn simulation(cells: usize) -> Simulation {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::SolarDay, 1, cells)).unwrap();
    sim.run_for(600);
    sim
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn hour_16_cells(bencher: divan::Bencher) {
    bencher
        .with_inputs(|| simulation(16))
        .bench_local_values(|mut sim| {
            sim.run_for(3_600);
            sim
        });
}
