//! Cost of one engine step (`cargo bench -p bms-engine`): 16 and 32 cells, a healthy pack
//! charging with balancing active (every table row evaluated, balancer choosing cells, the
//! state estimator running), plus the estimators alone and the engine's RAM footprint. The WASM counterpart runs in `cargo xtask bench`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::{Engine, Measurement, PackConfig};

fn main() {
    println!(
        "engine state: {} bytes (size_of::<Engine>(), capacity for 32 cells); one step's outputs: {} bytes",
        core::mem::size_of::<Engine>(),
        core::mem::size_of::<bms_engine::Outputs>()
    );
    println!(
        "model estimator state: {} bytes (32 cells)",
        core::mem::size_of::<bms_engine::estimation::ModelEstimator>()
    );
    divan::main();
}

/// A charging pack whose cells spread over 40 mV, so balancing has work to do.
fn snapshot(cells: usize, i: u32) -> Measurement {
    let voltages: Vec<u16> = (0..cells)
        .map(|c| 3_380 + ((c as u32 * 7 + i) % 40) as u16)
        .collect();
    Measurement::new(&voltages, 30_000)
        .unwrap()
        .with_temperatures(&[Some(250), Some(262)])
        .unwrap()
}

#[divan::bench(args = [16, 32])]
fn step(bencher: divan::Bencher, cells: usize) {
    let mut engine = Engine::new(PackConfig::lfp_280ah(cells as u8), 500).unwrap();
    let inputs: Vec<Measurement> = (0..64).map(|i| snapshot(cells, i)).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % inputs.len();
        divan::black_box(engine.step(divan::black_box(&inputs[i]), 100))
    });
}

/// The state estimators alone, 16 cells: the Kalman filters with SOH, and the baseline.
#[divan::bench(args = ["model", "baseline"])]
fn estimator_16_cells(bencher: divan::Bencher, kind: &str) {
    use bms_engine::estimation::{
        CellModelParams, Estimator, EstimatorKind, SocEstimator, StepInput,
    };
    let kind = match kind {
        "model" => EstimatorKind::Model,
        _ => EstimatorKind::Baseline,
    };
    let config = PackConfig::lfp_280ah(16);
    let mut estimator = Estimator::new(kind, CellModelParams::lfp(280.0), 16, 0.5);
    let inputs: Vec<Measurement> = (0..64).map(|i| snapshot(16, i)).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % inputs.len();
        let input = StepInput::new(divan::black_box(&inputs[i]), &config, 1_000);
        estimator.update(&input);
        divan::black_box(estimator.report())
    });
}
