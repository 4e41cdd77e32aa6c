//! Every scenario, run for its days: it ends with what the BMS must show (a given fault at least
//! at a given level, or no trip at all for the nominal ones) and the true cells stay inside the
//! safe operating area (2.0–3.8 V, −20–60 °C) — while the pack is in service, and for the whole
//! run but where a fault inside a cell goes on after the BMS has isolated the pack.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::estimation::{Estimator, EstimatorKind, SocEstimator};
use bms_engine::{Fault, FaultSet, Level};
use emulator::{Scenario, Simulation, SimulationConfig, Summary};

/// Test runs are capped at 30 simulated days (the year of `aging-pack` is for the CLI).
const MAX_TEST_DAYS: f64 = 30.0;

/// One scenario run: the simulation at its end, every fault seen at each level (warning,
/// derate, trip) during it, and the true cells' extremes while the pack was in service.
struct Run {
    sim: Simulation,
    seen: [FaultSet; 3],
    in_service: Extremes,
}

/// True cell voltage (V) and temperature (°C) extremes: low and high.
#[derive(Debug)]
struct Extremes {
    volts: (f64, f64),
    celsius: (f64, f64),
}

impl Extremes {
    /// The whole run's, from its summary.
    fn of_summary(s: &Summary) -> Self {
        Extremes {
            volts: (s.true_min_cell_v, s.true_max_cell_v),
            celsius: (s.true_min_temp_c, s.true_max_temp_c),
        }
    }

    fn inside_safe_operating_area(&self) -> bool {
        self.volts.0 >= 2.0
            && self.volts.1 <= 3.8
            && self.celsius.0 >= -20.0
            && self.celsius.1 <= 60.0
    }
}

fn run(scenario: Scenario) -> Run {
    run_seeded(scenario, 42)
}

fn run_seeded(scenario: Scenario, seed: u64) -> Run {
    let mut sim = Simulation::new(SimulationConfig::new(scenario, seed, 16)).unwrap();
    let mut seen = [FaultSet::EMPTY; 3];
    let mut in_service = Extremes {
        volts: (f64::INFINITY, f64::NEG_INFINITY),
        celsius: (f64::INFINITY, f64::NEG_INFINITY),
    };
    for _ in 0..(scenario.days().min(MAX_TEST_DAYS) * 86_400.0) as u64 {
        sim.step();
        let o = sim.outputs();
        for (set, level) in [(o.warnings, 0), (o.derates, 1), (o.trips, 2)] {
            for f in set.iter() {
                seen[level].set(f, true);
            }
        }
        // In service: the BMS still lets current through one way or the other.
        if o.charge_switch_on || o.discharge_switch_on {
            let cells = &sim.pack().cells;
            for &v in cells.voltages_v() {
                in_service.volts = (in_service.volts.0.min(v), in_service.volts.1.max(v));
            }
            for &t in cells.temperatures_c() {
                in_service.celsius = (in_service.celsius.0.min(t), in_service.celsius.1.max(t));
            }
        }
    }
    Run {
        sim,
        seen,
        in_service,
    }
}

fn seen_at_least(seen: &[FaultSet; 3], fault: Fault, level: Level) -> bool {
    seen[level as usize..].iter().any(|s| s.contains(fault))
}

/// Whether a fault scenario's run showed one of the faults it is there for.
fn shows_expected(scenario: Scenario, seen: &[FaultSet; 3]) -> bool {
    scenario
        .expected()
        .iter()
        .any(|(f, l)| seen_at_least(seen, *f, *l))
}

#[test]
fn every_scenario_shows_the_right_fault_and_stays_in_the_safe_operating_area() {
    let mut report = vec![];
    for scenario in Scenario::ALL {
        let Run {
            sim,
            seen,
            in_service,
        } = run(scenario);
        let s = sim.summary();
        let expected = scenario.expected();
        if expected.is_empty() {
            assert!(
                s.trips.is_empty(),
                "{}: nothing may trip, got {:?}",
                s.scenario,
                s.trips
            );
        } else {
            assert!(
                shows_expected(scenario, &seen),
                "{}: expected one of {expected:?}, saw trips {:?}",
                s.scenario,
                s.trips
            );
        }
        // The BMS keeps the cells inside the safe operating area while the pack is in
        // service. An internally shorted cell goes on draining itself once the BMS has opened
        // both ways (nothing outside a cell can stop that): its whole run may end below 2 V.
        assert!(
            in_service.inside_safe_operating_area(),
            "{}: in service the true cells left 2.0–3.8 V or −20–60 °C: {in_service:?}",
            s.scenario
        );
        let whole_run = Extremes::of_summary(&s);
        assert!(
            scenario == Scenario::FaultInternalShort || whole_run.inside_safe_operating_area(),
            "{}: the true cells left 2.0–3.8 V or −20–60 °C: {whole_run:?}",
            s.scenario
        );
        // A weak cell, a resistance step, a drifting current sensor, an imbalanced pack under
        // an active balancer, a year of ageing: none of them is a leak.
        if !matches!(
            scenario,
            Scenario::FaultInternalShort | Scenario::FaultSlowLeak
        ) {
            assert!(
                !seen_at_least(&seen, Fault::CellSelfDischarge, Level::Warning),
                "{}: read as a self-discharging cell",
                s.scenario
            );
        }
        assert_eq!(s.injected.len(), scenario.faults().len(), "{}", s.scenario);
        report.push(s.scenario);
    }
    assert_eq!(report.len(), Scenario::ALL.len());
}

/// Whoever runs a fault scenario picks the seed (in the emulator console, or `--seed`): the
/// scenario must show its point whatever weather and cell spread the seed draws, not only for
/// 42. Every fault scenario of a day or so with seeds 1–12, and the cells inside the safe
/// operating area while in service. Each of these failed before: seed 12's connection fault
/// was derated for the spread, not the voltage; at one day, the internal short's seeds 30 and
/// 60 had not yet tripped (100 seeds trip 20–25 h in), and seed 64's cell had drained itself
/// below 2 V an hour after the under-voltage trip (the check ran to the end of the run). And
/// the slow leak with the two of 100 seeds whose weather brought the pack to the top least
/// often (warned after 133 h and 147 h: beyond the four days the scenario used to run).
#[test]
fn fault_scenarios_show_their_point_whatever_the_seed() {
    let mut runs: Vec<(Scenario, u64)> = Scenario::ALL
        .into_iter()
        .filter(|s| !s.expected().is_empty() && s.days() < 2.0)
        .flat_map(|s| (1..=12).map(move |seed| (s, seed)))
        .collect();
    runs.extend([
        (Scenario::FaultInternalShort, 30),
        (Scenario::FaultInternalShort, 64),
        (Scenario::FaultSlowLeak, 17),
        (Scenario::FaultSlowLeak, 70),
    ]);
    let mut failures = vec![];
    for (scenario, seed) in runs {
        let Run {
            sim,
            seen,
            in_service,
        } = run_seeded(scenario, seed);
        if !shows_expected(scenario, &seen) {
            failures.push(format!(
                "{} seed {seed}: expected one of {:?}, saw trips {:?}",
                scenario.name(),
                scenario.expected(),
                sim.summary().trips
            ));
        }
        if !in_service.inside_safe_operating_area() {
            failures.push(format!(
                "{} seed {seed}: in service the true cells left the safe operating area: {in_service:?}",
                scenario.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Cell 5 leaks 0.3 A: no voltage limit notices in four days. The self-discharge check does:
/// it compares each top and bottom of charge with the ones before and, once the cell has fallen
/// behind the others by more than the estimates wander, warns, naming the cell and a lower
/// bound of its leak. Nothing trips: the warning is for a person to look.
#[test]
fn a_slow_leak_is_found_by_comparing_ends_of_charge_and_warned_of() {
    let Run { sim, .. } = run(Scenario::FaultSlowLeak);
    let found: Vec<_> = sim
        .engine()
        .event_log()
        .iter()
        .map(|(_, e)| *e)
        .filter(|e| e.fault == Fault::CellSelfDischarge && e.kind == bms_engine::EventKind::Tripped)
        .collect();
    let hours = |ms: u64| ms as f64 / 3_600_000.0;
    let figures: Vec<_> = found
        .iter()
        .map(|e| (e.level, e.location, e.value, hours(e.time_ms)))
        .collect();
    assert!(!found.is_empty(), "not found");
    assert!(
        found
            .iter()
            .all(|e| e.level == Level::Warning && e.location == Some(4)),
        "{figures:?}"
    );
    let first = found[0];
    assert!((24.0..96.0).contains(&hours(first.time_ms)), "{figures:?}");
    // A lower bound of the true 300 mA, beyond the 100 mA warning.
    assert!((100..=300).contains(&first.value), "{figures:?}");
    assert!(sim.summary().trips.is_empty());
}

/// Cell 3's connection gains 5 mΩ (17 times a cell's R0) after an hour. The BMS learns the
/// new resistance within hours from current steps (most of them its own charge derate coming
/// and going as the cell reads high), knows that a connection's does
/// not follow the cells' Arrhenius, and so keeps that cell's SOC as well as the others' over
/// four days. It once took 63 hours to learn it, read the difference as a current-sensor bias
/// of +1.3 A, and let the cell's estimate fall 23 points behind the truth, which the
/// self-discharge check then took for a leak of 478 mA (its trip is at 500).
#[test]
fn a_connection_gone_bad_is_learnt_within_hours_and_misleads_nothing() {
    let mut sim =
        Simulation::new(SimulationConfig::new(Scenario::FaultResistanceStep, 1, 16)).unwrap();
    let mut learnt_after_h = None;
    let mut worst_cell_error: f64 = 0.0;
    for s in 0..4 * 86_400_u64 {
        sim.step();
        if s % 600 != 0 {
            continue;
        }
        let e = sim.engine();
        let Estimator::Model(m) = e.estimator() else {
            panic!("the model estimator is the default");
        };
        let r0 = m.health_tracker().r0_ohm(2).map(|(r, _)| r);
        if learnt_after_h.is_none() && r0.is_some_and(|r| r > 4.0e-3) {
            learnt_after_h = Some(s as f64 / 3600.0 - 1.0);
        }
        if s >= 12 * 3600 {
            let estimate = f64::from(e.estimator().cell(2).unwrap().soc);
            let truth = sim.pack().cell_soc(2).unwrap();
            worst_cell_error = worst_cell_error.max((estimate - truth).abs());
        }
    }
    let hours = learnt_after_h.expect("the resistance was never learnt");
    assert!(hours < 8.0, "learnt {hours:.1} h after the fault");
    let s = sim.summary();
    let (r25, _) = {
        let Estimator::Model(m) = sim.engine().estimator() else {
            unreachable!()
        };
        m.health_tracker().r0_ohm(2).unwrap()
    };
    assert!((4.8e-3..5.8e-3).contains(&r25), "R0 {r25} Ω, true 5.3 mΩ");
    assert!(
        worst_cell_error < 0.03,
        "cell 3 off by {:.1} points",
        worst_cell_error * 100.0
    );
    assert!(s.cell_soc_rmse_pct < 1.0, "{}", s.cell_soc_rmse_pct);
    assert!(
        !sim.engine()
            .event_log()
            .iter()
            .any(|(_, e)| e.fault == Fault::CellSelfDischarge),
        "read as a leak"
    );
}

#[test]
fn winter_never_charges_a_frozen_cell_and_heats_first() {
    let Run { sim, .. } = run(Scenario::WinterCold);
    let s = sim.summary();
    assert!(
        s.true_min_temp_c < -5.0,
        "it is cold: {}",
        s.true_min_temp_c
    );
    assert_eq!(s.charged_below_zero_ah, 0.0);
    assert!(s.energy_in_kwh > 5.0, "it still charges once warm");
    // The heater (16 × 15 W) runs, but not through every night: it ran 50 of the 72 hours
    // when it also kept a discharging pack warm.
    assert!((10.0..45.0).contains(&s.heater_hours), "{s:#?}");
    assert!(
        (s.heater_kwh - s.heater_hours * 0.24).abs() < 0.01,
        "{} kWh in {} h",
        s.heater_kwh,
        s.heater_hours
    );
}

/// In the heat the charge current follows the cells' temperature down (the limit falls from
/// 40 °C to 0 at the 45 °C trip) while the fan runs, and nothing trips.
#[test]
fn summer_heat_cuts_the_charge_as_the_cells_heat_and_nothing_trips() {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::SummerHeat, 42, 16)).unwrap();
    // The highest charge current seen and the highest limit given, with the hottest cell
    // below 40 °C and above 43.5 °C.
    let (mut cool, mut hot) = ((0.0_f64, 0_u32), (0.0_f64, 0_u32));
    let mut charging_hot_secs = 0;
    for _ in 0..3 * 86_400 {
        sim.step();
        let hottest = sim
            .pack()
            .cells
            .temperatures_c()
            .iter()
            .copied()
            .fold(f64::MIN, f64::max);
        let current_a = sim.current_a();
        let ccl_ma = sim.outputs().limits.charge_current_ma;
        let band = if hottest < 40.0 {
            &mut cool
        } else if hottest > 43.5 {
            charging_hot_secs += u32::from(current_a > 5.0);
            &mut hot
        } else {
            continue;
        };
        *band = (band.0.max(current_a), band.1.max(ccl_ma));
    }
    let s = sim.summary();
    let figures = format!("cool {cool:?}, hot {hot:?}, {charging_hot_secs} s charging hot");
    assert!(s.trips.is_empty(), "{:?}", s.trips);
    assert!(
        (43.5..45.0).contains(&s.true_max_temp_c),
        "{}",
        s.true_max_temp_c
    );
    assert!(
        s.fan_hours > 24.0,
        "the fan runs every afternoon: {} h",
        s.fan_hours
    );
    assert!(
        cool.1 == 140_000 && cool.0 > 50.0,
        "full limit while cool: {figures}"
    );
    // At 43.5 °C the limit is 30 % of 140 A; the inverter keeps to it.
    assert!(hot.1 <= 42_000 && hot.0 <= 43.0, "{figures}");
    assert!(
        charging_hot_secs > 600,
        "it does charge in the heat: {figures}"
    );
}

/// The cells start about 5 % apart; the scenario's 2 A active balancer moves charge from the
/// highest cell to the lowest at the top of each charge, so the spread at full closes within
/// days (a 60 mA bleed would take months: 0.2 points in this week).
#[test]
fn the_imbalanced_pack_is_balanced_at_the_top_of_charge() {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::Imbalance, 42, 16)).unwrap();
    let start = sim.pack().soc_spread_pct();
    let mut balancing_steps = 0;
    // The smallest spread of each day: at the top of charge, where the pack is balanced.
    let mut daily_least = Vec::new();
    for _ in 0..5 {
        let mut least = f64::INFINITY;
        for _ in 0..86_400 {
            sim.step();
            if sim.outputs().balancing.transfer.is_some() {
                balancing_steps += 1;
            }
            least = least.min(sim.pack().soc_spread_pct());
        }
        daily_least.push(least);
    }
    let figures =
        format!("start {start:.2} %, daily least {daily_least:.2?}, {balancing_steps} s balancing");
    assert!(start > 4.0, "{figures}");
    assert!(balancing_steps > 3_600, "{figures}");
    assert!(
        daily_least.windows(2).all(|w| w[1] <= w[0] + 0.05),
        "{figures}"
    );
    assert!(daily_least[4] < 0.5, "{figures}");
}

/// Between an inverter's top-up bursts a full pack rests for minutes at a time, its high cells
/// at the knee: the best time to balance LiFePO4. The balancer once waited for half an hour
/// of rest there, as after a discharge, so on the first day it sat idle for most of six hours
/// with the cells 230 mV apart (6 of 26 quarter-hour samples at the top balancing).
#[test]
fn the_balancer_keeps_working_while_a_full_pack_floats_between_top_ups() {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::Imbalance, 1, 16)).unwrap();
    let (mut floating, mut balancing) = (0, 0);
    let mut spread_mv = Vec::new();
    for second in 0..86_400 {
        sim.step();
        let m = sim.measurement();
        let highest = m.cell_voltages_mv.iter().copied().max().unwrap_or(0);
        let lowest = m.cell_voltages_mv.iter().copied().min().unwrap_or(0);
        if highest >= 3_450 && m.current_ma.abs() < 1_000 {
            floating += 1;
            if sim.outputs().balancing.transfer.is_some() {
                balancing += 1;
            }
            if second % 3_600 == 0 {
                spread_mv.push(highest - lowest);
            }
        }
    }
    let figures = format!(
        "{balancing} of {floating} s floating at the top balanced; hourly spread {spread_mv:?} mV"
    );
    assert!(floating > 3 * 3_600, "{figures}");
    assert!(balancing * 100 >= floating * 95, "{figures}");
    assert!(
        spread_mv.last() < spread_mv.first().map(|s| s - 50).as_ref(),
        "{figures}"
    );
}

/// A drifting current sensor walks a coulomb counter's SOC away; the model estimator follows
/// the drift in its bias state instead.
#[test]
fn current_drift_walks_the_coulomb_counter_away_but_not_the_model() {
    let run_with = |scenario, estimator| {
        let mut sim = Simulation::new(SimulationConfig {
            estimator,
            ..SimulationConfig::new(scenario, 42, 16)
        })
        .unwrap();
        sim.run_for(86_400);
        sim.summary()
    };
    let counted = run_with(Scenario::FaultCurrentDrift, EstimatorKind::Baseline);
    let counted_clean = run_with(Scenario::SolarDay, EstimatorKind::Baseline);
    assert!(
        counted.soc_max_err_pct > 5.0 * counted_clean.soc_max_err_pct,
        "{counted:#?}"
    );
    let model = run_with(Scenario::FaultCurrentDrift, EstimatorKind::Model);
    assert!(
        model.soc_rmse_pct < counted.soc_rmse_pct / 2.0,
        "model {model:#?}\nbaseline {counted:#?}"
    );
    // The drift reaches 2.3 A by the end of the day. The bias state's walk is tuned for
    // offsets that change over days, so it follows a ramp of 0.1 A/h only in part; the
    // voltage corrections keep the SOC in line meanwhile.
    let bias = model.bias_estimate_a.unwrap();
    assert!(bias > 0.5 && bias < model.true_bias_a, "{model:#?}");
    assert!(model.soc_max_err_pct < 3.0, "{model:#?}");
}

/// Left drifting for three days (7.1 A by the end), the model's bias follows once it has seen
/// the bias move for a day: its walk widens, and the SOC comes back. With the slow walk alone
/// the bias reached 3.5 A, the SOC ended 12 points high (RMSE 5.2 %) and the truth was inside
/// the 3σ bound for 59 % of the steps.
#[test]
fn a_sensor_drifting_for_days_is_followed_once_the_drift_is_seen() {
    let mut sim =
        Simulation::new(SimulationConfig::new(Scenario::FaultCurrentDrift, 42, 16)).unwrap();
    sim.run_for(3 * 86_400);
    let summary = sim.summary();
    let bias = summary.bias_estimate_a.unwrap();
    assert!((summary.true_bias_a - 7.1).abs() < 0.01, "{summary:#?}");
    assert!((bias - summary.true_bias_a).abs() < 1.0, "{summary:#?}");
    assert!(summary.soc_rmse_pct < 3.5, "{summary:#?}");
    assert!(
        (summary.final_soc_pct - summary.final_true_soc_pct).abs() < 3.0,
        "{summary:#?}"
    );
    assert!(summary.soc_in_bound_pct.unwrap() > 70.0, "{summary:#?}");
}

#[test]
fn faults_can_be_injected_on_demand() {
    let mut sim = Simulation::new(SimulationConfig::new(Scenario::SolarDay, 1, 8)).unwrap();
    sim.run_for(600);
    sim.inject(emulator::InjectedFault::OpenSenseWire { cell: 2 });
    sim.run_for(5);
    assert!(sim.outputs().trips.contains(Fault::OpenWire));
    assert_eq!(sim.summary().injected[0].time_s, 600);
}
