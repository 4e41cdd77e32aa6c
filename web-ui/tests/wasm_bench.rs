//! The engine's and the estimators' step cost in WebAssembly (run by `cargo xtask bench`, in
//! Node through wasm-bindgen-test-runner): the same workloads as `bms-engine/benches/step.rs`,
//! timed over many steps. It reports a figure; it asserts only that the engine produced sane outputs.
#![cfg(all(target_family = "wasm", feature = "wasm-bench"))]

use bms_engine::{Engine, Measurement, PackConfig};
use wasm_bindgen_test::*;

fn snapshot(cells: usize, i: u32) -> Measurement {
    let voltages: Vec<u16> = (0..cells)
        .map(|c| 3_380 + ((c as u32 * 7 + i) % 40) as u16)
        .collect();
    Measurement::new(&voltages, 30_000)
        .unwrap()
        .with_temperatures(&[Some(250), Some(262)])
        .unwrap()
}

fn time_steps(cells: usize) -> f64 {
    let mut engine = Engine::new(PackConfig::lfp_280ah(cells as u8), 500).unwrap();
    let inputs: Vec<Measurement> = (0..64).map(|i| snapshot(cells, i)).collect();
    // Warm up, then time.
    for m in &inputs {
        engine.step(m, 100);
    }
    let steps = 200_000;
    let start = js_sys::Date::now();
    let mut balanced = 0_u32;
    for i in 0..steps {
        let out = engine.step(&inputs[i % inputs.len()], 100);
        balanced += out.balancing.mask.count_ones();
    }
    let elapsed_ms = js_sys::Date::now() - start;
    assert!(balanced > 0, "the workload must exercise balancing");
    elapsed_ms * 1e6 / steps as f64
}

fn time_emulator_hour(cells: usize) -> f64 {
    let mut sim = emulator::Simulation::new(emulator::SimulationConfig::new(
        emulator::Scenario::SolarDay,
        1,
        cells,
    ))
    .unwrap();
    // Warm up long enough for the engine's optimising tier, then take the best of three hours.
    sim.run_for(3_600);
    let mut best_ms = f64::INFINITY;
    for _ in 0..3 {
        let start = js_sys::Date::now();
        sim.run_for(3_600);
        best_ms = best_ms.min(js_sys::Date::now() - start);
    }
    assert!(sim.summary().steps > 0);
    best_ms * 1e6 / (3_600.0 * cells as f64)
}

#[wasm_bindgen_test]
fn wasm_emulator_cost() {
    let ns = time_emulator_hour(16);
    console_log!("wasm closed loop (emulator + engine), 16 cells: {ns:.0} ns per cell-step");
}

#[wasm_bindgen_test]
fn wasm_step_cost() {
    for cells in [16, 32] {
        let ns = time_steps(cells);
        console_log!("wasm step, {cells} cells: {ns:.0} ns");
    }
}

fn time_estimator(kind: bms_engine::estimation::EstimatorKind) -> f64 {
    use bms_engine::estimation::{CellModelParams, Estimator, SocEstimator, StepInput};
    let config = PackConfig::lfp_280ah(16);
    let mut estimator = Estimator::new(kind, CellModelParams::lfp(280.0), 16, 0.5);
    let inputs: Vec<Measurement> = (0..64).map(|i| snapshot(16, i)).collect();
    for m in &inputs {
        estimator.update(&StepInput::new(m, &config, 1_000));
    }
    let steps = 50_000;
    let start = js_sys::Date::now();
    let mut sum = 0.0_f32;
    for i in 0..steps {
        estimator.update(&StepInput::new(&inputs[i % inputs.len()], &config, 1_000));
        sum += estimator.report().average;
    }
    let elapsed_ms = js_sys::Date::now() - start;
    assert!(sum.is_finite());
    elapsed_ms * 1e6 / steps as f64
}

#[wasm_bindgen_test]
fn wasm_estimator_cost() {
    use bms_engine::estimation::EstimatorKind;
    for (name, kind) in [
        ("model", EstimatorKind::Model),
        ("baseline", EstimatorKind::Baseline),
    ] {
        let ns = time_estimator(kind);
        console_log!("wasm estimator ({name}), 16 cells: {ns:.0} ns per step");
    }
}
