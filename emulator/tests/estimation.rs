//! The state estimator's accuracy, measured on the emulator with a fixed seed (issue figures:
//! SOC RMSE ≤ 2 %, max error ≤ 5 % after convergence, truth inside 3σ ≥ 95 % of the time, at
//! least 2× better than the coulomb-counting baseline; a 1.5 A current offset found within
//! 0.2 A after the first low-SOC rest with max error ≤ 10 %; capacity within 2 % after 60 days
//! of 10 %/year fade; R0 within ±5 %; a ten-year-old pack followed within 0.8 % RMSE). `emulator run … --json` prints the same figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::estimation::{EstimatorKind, SocEstimator};
use emulator::{Scenario, Simulation, SimulationConfig, Summary};

const SEED: u64 = 42;
const DAY: u64 = 86_400;

fn run(config: SimulationConfig, days: u64) -> Summary {
    let mut sim = Simulation::new(config).unwrap();
    sim.run_for(days * DAY);
    sim.summary()
}

#[test]
fn solar_30_soc_is_accurate_honest_and_beats_the_baseline() {
    let model = run(SimulationConfig::new(Scenario::Solar30, SEED, 16), 30);
    let baseline = run(
        SimulationConfig {
            estimator: EstimatorKind::Baseline,
            ..SimulationConfig::new(Scenario::Solar30, SEED, 16)
        },
        30,
    );
    let figures = format!(
        "model {model:#?}\nbaseline RMSE {:.2} %",
        baseline.soc_rmse_pct
    );
    assert!(model.soc_rmse_pct <= 2.0, "{figures}");
    assert!(model.cell_soc_rmse_pct <= 2.0, "{figures}");
    let after = model.soc_max_err_after_convergence_pct.unwrap();
    assert!(after <= 5.0, "{figures}");
    assert!(model.soc_in_bound_pct.unwrap() >= 95.0, "{figures}");
    assert!(model.cell_soc_in_bound_pct.unwrap() >= 95.0, "{figures}");
    assert!(
        baseline.soc_rmse_pct >= 2.0 * model.soc_rmse_pct,
        "{figures}"
    );
    // Current steps reveal R0 within ±5 % of the true mean at 25 °C.
    let r0 = model.r0_estimate_mohm.unwrap();
    assert!(
        (r0 - model.true_r0_mohm).abs() / model.true_r0_mohm <= 0.05,
        "{figures}"
    );
}

/// Every cell is followed through the month whatever the seed: with seeds 47 and 53 one cell's
/// filter once explained its voltage by a growing OCV-table error and a bias of amperes, its
/// estimate 30–60 points high for weeks (cell SOC RMSE 5.3 and 13.6 %), and with 53 the
/// self-discharge check tripped on it in a nominal scenario.
#[test]
fn solar_30_follows_every_cell_whatever_the_seed() {
    for seed in [47, 53] {
        month_follows_every_cell(SimulationConfig::new(Scenario::Solar30, seed, 16));
    }
}

/// A month of `config`: every cell within 1 % RMSE, inside its 3σ at least 95 % of the time,
/// and no trip.
fn month_follows_every_cell(config: SimulationConfig) {
    let what = format!(
        "seed {}, offset {:?} mA",
        config.seed, config.current_offset_ma
    );
    let model = run(config, 30);
    let figures = format!("{what}: {model:#?}");
    assert!(model.cell_soc_rmse_pct <= 1.0, "{figures}");
    assert!(model.cell_soc_in_bound_pct.unwrap() >= 95.0, "{figures}");
    assert!(model.trips.is_empty(), "{figures}");
}

/// A current sensor reading 3 A off either way (about 1 % of a 300 A Hall sensor's range, twice
/// what the estimation figures ask for) is learned by every cell. A cell that rested above the
/// OCV curve's full end heard nothing there (the full-charge detection reads its current window
/// through the cell's own, still wrong, bias) and counted its bias error for hours. 3 A low,
/// one cell was 12 points low by the next day and the self-discharge check tripped on it
/// (seed 1 after 1.5 days, seed 4 after 3.5; cell SOC RMSE 2.4 and 1.5 %). 3 A high, one cell
/// counted past full, where no voltage corrects, kept a bias 2 A wrong and read 25–50 points
/// high for a fortnight (seeds 3 and 4: cell SOC RMSE 4.8 and 5.0 %).
#[test]
fn a_3_a_current_offset_is_learned_by_every_cell() {
    for (seed, offset_ma) in [(1, -3_000), (4, -3_000), (3, 3_000), (4, 3_000)] {
        month_follows_every_cell(SimulationConfig {
            current_offset_ma: Some(offset_ma),
            ..SimulationConfig::new(Scenario::Solar30, seed, 16)
        });
    }
}

#[test]
fn an_old_pack_is_followed_as_well_as_a_new_one() {
    // Ten years in a solar home: 81 % of the capacity, every resistance 39 % up, the RC pairs'
    // too. The estimator once kept a new cell's RC pairs: RMSE 1.37 %, 3.1 % off at worst, its
    // capacity estimate 2 % low by the evening.
    let old = run(
        SimulationConfig {
            age_years: 10,
            ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
        },
        1,
    );
    assert!(old.soc_rmse_pct <= 0.8, "{old:#?}");
    assert!(old.soc_max_err_pct <= 2.0, "{old:#?}");
    let capacity = old.capacity_estimate_ah.unwrap();
    assert!(
        (capacity - old.true_capacity_ah).abs() / old.true_capacity_ah <= 0.01,
        "{old:#?}"
    );
}

#[test]
fn winter_cold_is_followed_through_the_frozen_nights() {
    // Three days at −13…−3 °C: under load the cold cells show only part of their charge, and
    // at night, discharging below 0 °C, all that is left can be beyond reach. The estimate once
    // drifted up while the pack emptied there (RMSE 3.2 %, 10 points off at the end).
    let model = run(SimulationConfig::new(Scenario::WinterCold, SEED, 16), 3);
    assert!(model.soc_rmse_pct <= 1.0, "{model:#?}");
    assert!(model.soc_max_err_pct <= 3.0, "{model:#?}");
    assert!(model.soc_in_bound_pct.unwrap() >= 95.0, "{model:#?}");
    assert!(
        (model.final_soc_pct - model.final_true_soc_pct).abs() <= 1.0,
        "{model:#?}"
    );
}

#[test]
fn a_large_current_offset_is_found_at_the_first_low_soc_rest() {
    let config = SimulationConfig {
        current_offset_ma: Some(1_500),
        ..SimulationConfig::new(Scenario::Solar30, SEED, 16)
    };
    let mut sim = Simulation::new(config).unwrap();
    let mut rest_secs = 0;
    let mut bias_after_rest = None;
    for _ in 0..30 * DAY {
        sim.step();
        let resting = sim.current_a().abs() < 1.0 && sim.pack().soc() < 0.35;
        if resting {
            rest_secs += 1;
        } else if rest_secs >= 1_800 && bias_after_rest.is_none() {
            let (bias, _) = sim.engine().estimator().report().bias_a.unwrap();
            bias_after_rest = Some((sim.time_s(), bias));
        } else {
            rest_secs = 0;
        }
    }
    let (at_s, bias) = bias_after_rest.expect("the run has a low-SOC rest");
    println!("bias after the first low-SOC rest (ended at {at_s} s): {bias:.3} A");
    assert!(
        (bias - 1.5).abs() <= 0.2,
        "bias {bias:.3} A after the rest ending at {at_s} s"
    );
    let s = sim.summary();
    assert!(
        s.soc_max_err_after_convergence_pct.unwrap() <= 10.0,
        "{s:#?}"
    );
    assert!((s.bias_estimate_a.unwrap() - 1.5).abs() <= 0.2, "{s:#?}");
    // Its σ, reported from protocol version 7 on, is down from the 1 A it starts at and owns
    // the error that is left.
    let sigma = s.bias_sigma_a.unwrap();
    assert!(sigma < 0.5, "{s:#?}");
    assert!(
        (s.bias_estimate_a.unwrap() - 1.5).abs() <= 3.0 * sigma,
        "{s:#?}"
    );
}

#[test]
fn the_capacity_is_found_and_followed_as_the_pack_fades() {
    let s = run(SimulationConfig::new(Scenario::CapacityFade, SEED, 16), 60);
    let estimate = s
        .capacity_estimate_ah
        .expect("a capacity estimate after 60 days");
    let error = (estimate - s.true_capacity_ah) / s.true_capacity_ah;
    assert!(
        error.abs() <= 0.02,
        "capacity {estimate:.1} Ah vs {:.1} Ah",
        s.true_capacity_ah
    );
    // The pack started 10 % down and kept losing: nominal would be 13 % off.
    assert!(s.true_capacity_ah < 0.9 * 280.0);
    let r0 = s.r0_estimate_mohm.unwrap();
    assert!(
        (r0 - s.true_r0_mohm).abs() / s.true_r0_mohm <= 0.05,
        "{s:#?}"
    );
    assert!(s.soc_in_bound_pct.unwrap() >= 95.0, "{s:#?}");
}

/// Other packs of the same history: their evenings end above 10 %, where the curve is less
/// steep, and the capacity must still be found (seed 1 once never found it: RMSE 2.9 %).
#[test]
fn the_capacity_is_found_on_packs_that_are_never_emptied_below_15_percent() {
    for seed in [1, 3] {
        let s = run(SimulationConfig::new(Scenario::CapacityFade, seed, 16), 60);
        let estimate = s.capacity_estimate_ah.expect("a capacity estimate");
        let error = (estimate - s.true_capacity_ah) / s.true_capacity_ah;
        assert!(error.abs() <= 0.02, "seed {seed}: {s:#?}");
        assert!(s.soc_rmse_pct <= 1.0, "seed {seed}: {s:#?}");
        assert!(s.soc_in_bound_pct.unwrap() >= 95.0, "seed {seed}: {s:#?}");
    }
}

/// A cell the model does not fit (70 % of the capacity, or a +5 mΩ connection) makes the
/// filter bend its states to follow the voltage while its σ stays small: no capacity may be
/// learnt from such a "pin" (once: 220 Ah for a 195 Ah cell, 224 Ah for a 281 Ah one); the
/// weak cell, run empty, must be seen empty, and its capacity found from full to empty.
#[test]
fn a_cell_the_model_does_not_fit_gets_no_confidently_wrong_capacity() {
    for (scenario, seed) in [
        (Scenario::FaultWeakCell, 1),
        (Scenario::FaultWeakCell, 42),
        (Scenario::FaultResistanceStep, 42),
    ] {
        let mut sim = Simulation::new(SimulationConfig::new(scenario, seed, 16)).unwrap();
        sim.run_for(DAY);
        let health = sim.engine().estimator().health().unwrap();
        let pack = sim.pack();
        if scenario == Scenario::FaultWeakCell {
            // By midnight the weak cell 8 rests empty, at 2.80 V: the estimate says so (it
            // once stayed at 15 % all night), and from its full charge in the morning to
            // empty the string counted its capacity.
            let estimate = sim.engine().estimator().cell(7).unwrap().soc;
            let truth = pack.cell_soc(7).unwrap();
            assert!(
                truth < 0.05 && (f64::from(estimate) - truth).abs() < 0.03,
                "seed {seed}: cell 8 estimated {estimate:.3}, true {truth:.3}"
            );
            assert!(
                health.cell_capacity_ah[7].is_some(),
                "seed {seed}: no capacity for the weak cell 8"
            );
        }
        capacities_learnt_are_right(&sim, &format!("{scenario:?} seed {seed}"));
    }
}

/// Every capacity the estimator has learnt is within 3 % of the cell's.
fn capacities_learnt_are_right(sim: &Simulation, what: &str) {
    let health = sim.engine().estimator().health().unwrap();
    for (i, estimate) in health.cell_capacity_ah.iter().enumerate() {
        let truth = sim.pack().cells.capacity_ah(i).unwrap();
        if let Some((q, sigma)) = estimate {
            let error = (f64::from(*q) - truth) / truth;
            assert!(
                error.abs() <= 0.03,
                "{what} cell {}: {q:.1} ± {sigma:.1} Ah, true {truth:.1} Ah",
                i + 1
            );
        }
    }
}

/// Whatever the seed, a weak cell's capacity is found or not yet found, never found wrong: with
/// seeds 13, 17 and 19 of these, one day ended at 213–222 Ah for a 196 Ah cell (a pin taken at
/// 21 % while the cell was at 12 %, its filter explaining 21 mV of the voltage as the OCV
/// table's error).
#[test]
fn no_seed_learns_a_weak_cell_wrong() {
    for seed in 1..=20 {
        let mut sim =
            Simulation::new(SimulationConfig::new(Scenario::FaultWeakCell, seed, 16)).unwrap();
        sim.run_for(DAY);
        capacities_learnt_are_right(&sim, &format!("seed {seed}"));
    }
}

#[test]
fn a_restart_resumes_from_the_saved_state_not_from_a_guess() {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::SolarDay, SEED, 16)).unwrap();
    sim.run_for(DAY / 2);
    let bms_engine::estimation::Estimator::Model(before) = sim.engine().estimator() else {
        panic!("the default estimator is the model")
    };
    let mut blob = [0_u8; bms_engine::estimation::STATE_BLOB_MAX_LEN];
    let len = before.save(&mut blob).unwrap();
    let soc_before = before.report().average;

    // A rebooted BMS that would otherwise start from a stale 90 %.
    let cells = usize::from(sim.engine().config().cell_count);
    let mut rebooted = bms_engine::estimation::ModelEstimator::new(
        bms_engine::estimation::CellModelParams::lfp(280.0),
        cells,
        0.9,
        0.25,
    );
    rebooted.restore(&blob[..len]).unwrap();
    let resumed = rebooted.report();
    assert!((resumed.average - soc_before).abs() < 1e-6);
    assert!(resumed.bound.unwrap() < 0.1, "{resumed:?}");
}
