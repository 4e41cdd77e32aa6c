//! The closed loop: scenario → pack → sensors → engine → switches, one simulated second a step,
//! with the statistics the CLI reports.

use crate::scenario::Home;
use crate::{CellModel, Cells, Error, InjectedFault, Pack, Scenario, Sensors};
use bms_engine::estimation::{CellModelParams, Estimator, EstimatorKind, SocEstimator};
use bms_engine::protocol::Telemetry;
use bms_engine::{Engine, EventKind, Level, Measurement, Outputs, PackConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Simulated time per step, ms.
pub const STEP_MILLIS: u32 = 1_000;

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimulationConfig {
    /// The situation.
    pub scenario: Scenario,
    /// Seed of every random process (cell spread, noise, clouds, appliances).
    pub seed: u64,
    /// Series cells (groups), 1 ..= 32.
    pub cell_count: usize,
    /// Cells in parallel in each group, 1 ..= 16: capacity, current limits and the engine's
    /// configuration scale with it.
    pub parallel: usize,
    /// Series groups per module, 1 ..= `cell_count` (`cell_count` or 0: one module). Modules
    /// are thermally separate and each carries a temperature sensor (up to eight).
    pub module_cells: usize,
    /// The BMS's state-of-charge estimator.
    pub estimator: EstimatorKind,
    /// Replaces the scenario's current-sensor offset, mA (a stress test of bias tracking).
    pub current_offset_ma: Option<i32>,
    /// Packs of this shape in parallel on one bus, 1 ..= [`crate::bank::MAX_PACKS`]: a
    /// [`crate::Bank`] runs them. A [`Simulation`] is one pack; with more than one, its BMS is
    /// told that it shares the bus ([`PackConfig::shared_bus`]).
    #[serde(default = "one_pack")]
    pub packs: usize,
    /// With packs in parallel, how many SOC points lower each pack starts than the one before
    /// (pack 2 this much below pack 1, pack 3 twice as much…), 0 ..= [`MAX_PACK_SOC_STEP_PCT`]:
    /// packs brought together at different charge levels. A [`Simulation`] does not read it.
    #[serde(default)]
    pub pack_soc_step_pct: u8,
    /// Points added to the scenario's starting SOC (the result held within 0–100 %); a bank
    /// sets it for each pack from `pack_soc_step_pct`.
    #[serde(default)]
    pub soc_offset_pct: i8,
    /// Years the pack has served in a solar home before the run, 0 ..= [`MAX_AGE_YEARS`]: its
    /// cells start faded and their resistance grown (see [`crate::Cells::age_in_service`]);
    /// its BMS is new to it and learns that. In a bank, pack 1's.
    #[serde(default)]
    pub age_years: u8,
    /// With packs in parallel, how many years older each pack is than the one before (pack 2
    /// this much older than pack 1, pack 3 twice as much…): an older bank with newer packs
    /// added. A [`Simulation`] does not read it.
    #[serde(default)]
    pub pack_age_step_years: u8,
}

/// A pack's years of service in words, "1 year in service", "10 years in service"; `None` for
/// a new pack.
pub fn in_service_text(years: u32) -> Option<String> {
    match years {
        0 => None,
        1 => Some("1 year in service".to_owned()),
        y => Some(format!("{y} years in service")),
    }
}

/// Whether a pack had served no years before its run (its summary then says nothing of it).
fn is_new(years: &u8) -> bool {
    *years == 0
}

/// The most years of service a pack may start with.
pub const MAX_AGE_YEARS: u8 = 20;

/// How well the BMS of a pack that has served for years knows each cell's capacity, 1σ as a
/// fraction of it.
const LEARNT_CAPACITY_SIGMA: f64 = 0.01;

/// The largest step between packs' starting SOCs, points.
pub const MAX_PACK_SOC_STEP_PCT: u8 = 40;

/// A set-up saved before banks existed is one pack.
const fn one_pack() -> usize {
    1
}

/// Most cells the emulator puts in parallel in one group.
pub const MAX_PARALLEL: usize = 16;

impl SimulationConfig {
    /// `cell_count` single cells in series as one module; as many packs in parallel as the
    /// scenario runs with ([`Scenario::default_packs`]: one, but for a bank's scenario).
    pub const fn new(scenario: Scenario, seed: u64, cell_count: usize) -> Self {
        SimulationConfig {
            scenario,
            seed,
            cell_count,
            parallel: 1,
            module_cells: 0,
            estimator: EstimatorKind::Model,
            current_offset_ma: None,
            packs: scenario.default_packs(),
            pack_soc_step_pct: 0,
            soc_offset_pct: 0,
            age_years: 0,
            pack_age_step_years: 0,
        }
    }

    /// Whether the scenario means anything with this many packs: a bank's scenario needs a
    /// bank, also of a [`Simulation`] (one of its packs).
    pub fn check_packs(&self) -> Result<(), Error> {
        let min = self.scenario.min_packs();
        if self.packs < min {
            return Err(Error::TooFewPacks {
                scenario: self.scenario.name(),
                given: self.packs,
                min,
            });
        }
        Ok(())
    }

    /// Years pack `k` (0-based) of a bank of this set-up has served before the run: pack 1's
    /// `age_years`, and `pack_age_step_years` more for each pack after it.
    pub fn pack_age_years(&self, k: usize) -> u32 {
        u32::from(self.age_years)
            + u32::from(self.pack_age_step_years) * u32::try_from(k).unwrap_or(u32::MAX)
    }

    /// Series groups per module, resolved (0 means the whole string).
    pub fn cells_per_module(&self) -> usize {
        if self.module_cells == 0 {
            self.cell_count
        } else {
            self.module_cells.min(self.cell_count)
        }
    }

    /// Number of modules (the last may be shorter).
    pub fn modules(&self) -> usize {
        self.cell_count.div_ceil(self.cells_per_module().max(1))
    }

    /// The shape, e.g. `16s1p` or `32s2p in 2 modules`.
    pub fn topology(&self) -> String {
        let base = format!("{}s{}p", self.cell_count, self.parallel);
        match self.modules() {
            1 => base,
            n => format!("{base} in {n} modules"),
        }
    }
}

/// A protection trip as users see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trip {
    /// Simulated seconds since the start.
    pub time_s: u64,
    /// Fault name, e.g. `cell-over-voltage`.
    pub fault: &'static str,
    /// Cell number from 1, `None` for pack-level faults.
    pub cell: Option<u8>,
}

/// A warning or derate level of one fault, as often as it became active during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Fault name, e.g. `cell-imbalance`.
    pub fault: &'static str,
    /// `warning` or `derate`.
    pub level: &'static str,
    /// How many times it became active.
    pub count: u32,
    /// When it first did, simulated seconds since the start.
    pub first_time_s: u64,
    /// The cells it was located at, numbered from 1 (empty for pack-level faults).
    pub cells: Vec<u8>,
}

/// A fault the emulator injected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectedRecord {
    /// Simulated seconds since the start.
    pub time_s: u64,
    /// Fault name, e.g. `open-sense-wire`.
    pub fault: &'static str,
}

/// One cell's R0 at 25 °C: as estimated and as it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CellResistance {
    /// Cell number, 1-based.
    pub cell: usize,
    /// Estimated, mΩ.
    pub estimate_mohm: f64,
    /// True, mΩ.
    pub true_mohm: f64,
}

/// One cell's capacity: as estimated and as it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CellCapacity {
    /// Cell number, 1-based.
    pub cell: usize,
    /// Estimated, Ah.
    pub estimate_ah: f64,
    /// True (present, at 25 °C), Ah.
    pub true_ah: f64,
}

/// The result of a run (the JSON the CLI prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: &'static str,
    /// Seed used.
    pub seed: u64,
    /// Simulated days.
    pub days: f64,
    /// Series cells (groups).
    pub cells: usize,
    /// Cells in parallel per group.
    pub parallel: usize,
    /// Modules the string is built from.
    pub modules: usize,
    /// Years the pack had served before the run (left out of JSON when 0).
    #[serde(skip_serializing_if = "is_new")]
    pub age_years: u8,
    /// Steps simulated.
    pub steps: u64,
    /// Wall-clock time the run took, ms (filled in by the caller that measured it).
    pub wall_ms: u64,
    /// Lowest true cell voltage seen, V.
    pub true_min_cell_v: f64,
    /// Highest true cell voltage seen, V.
    pub true_max_cell_v: f64,
    /// Lowest true cell temperature seen, °C.
    pub true_min_temp_c: f64,
    /// Highest true cell temperature seen, °C.
    pub true_max_temp_c: f64,
    /// Every protection trip, in order.
    pub trips: Vec<Trip>,
    /// The warnings and derates below the trips, by fault and level in the order they first
    /// became active.
    pub alerts: Vec<Alert>,
    /// Every injected fault, in order.
    pub injected: Vec<InjectedRecord>,
    /// The BMS's estimator: `model` or `baseline`.
    pub estimator: &'static str,
    /// RMS of (engine pack SOC − true pack SOC) over the run, percentage points.
    pub soc_rmse_pct: f64,
    /// Largest |engine pack SOC − true pack SOC|, percentage points.
    pub soc_max_err_pct: f64,
    /// RMS of (estimated − true) cell SOC over every cell and step, percentage points.
    pub cell_soc_rmse_pct: f64,
    /// Seconds until the estimate first converged (its 3σ bound at most 5 points); `None` for
    /// an estimator without a bound or one that never converged.
    pub converged_after_s: Option<u64>,
    /// Largest pack SOC error after that, percentage points.
    pub soc_max_err_after_convergence_pct: Option<f64>,
    /// Share of steps with the true pack SOC inside the reported 3σ bound, %.
    pub soc_in_bound_pct: Option<f64>,
    /// Share of (cell, step) pairs with the true cell SOC inside the cell's 3σ bound, %.
    pub cell_soc_in_bound_pct: Option<f64>,
    /// Estimated current-sensor bias at the end, A.
    pub bias_estimate_a: Option<f64>,
    /// Its 1σ, A.
    pub bias_sigma_a: Option<f64>,
    /// True current-sensor offset at the end (configured offset plus drift), A.
    pub true_bias_a: f64,
    /// Estimated capacity of the weakest cell at the end, Ah (of the cells with an estimate).
    pub capacity_estimate_ah: Option<f64>,
    /// How many cells have a capacity estimate at the end: a cell the estimator has not
    /// pinned (or does not trust, like a weak one) is not in `capacity_estimate_ah`.
    pub capacity_cells_estimated: usize,
    /// True present capacity of the weakest cell at the end, Ah.
    pub true_capacity_ah: f64,
    /// The cell the BMS finds the weakest at the end (the one `capacity_estimate_ah` is), with
    /// its own truth beside it: it need not be the truly weakest cell, which may not be
    /// estimated yet.
    pub lowest_capacity: Option<CellCapacity>,
    /// Estimated mean R0 at 25 °C at the end, mΩ.
    pub r0_estimate_mohm: Option<f64>,
    /// True mean R0 at 25 °C at the end, mΩ.
    pub true_r0_mohm: f64,
    /// The cell the BMS finds the most resistive at the end (a connection gone bad shows
    /// here), with the truth beside it.
    pub highest_r0: Option<CellResistance>,
    /// Energy charged into the pack, kWh.
    pub energy_in_kwh: f64,
    /// Energy discharged from the pack, kWh.
    pub energy_out_kwh: f64,
    /// Load the house went without during a grid outage, kWh.
    pub unserved_kwh: f64,
    /// Charge that went into a cell below 0 °C, Ah (must stay 0: heat first, then charge).
    pub charged_below_zero_ah: f64,
    /// How long the heater ran, h.
    pub heater_hours: f64,
    /// Energy the heater took from the cells, kWh.
    pub heater_kwh: f64,
    /// How long the fan ran, h.
    pub fan_hours: f64,
    /// Mean capacity fade of the cells at the end, %.
    pub capacity_fade_pct: f64,
    /// How long the balancer worked (any cell bleeding, or a transfer running), h.
    pub balancing_hours: f64,
    /// Charge the balancer took from high cells, Ah (as the engine counts it).
    pub balanced_ah: f64,
    /// True SOC spread between cells at the start, percentage points.
    pub initial_soc_spread_pct: f64,
    /// True SOC spread between cells at the end, percentage points.
    pub final_soc_spread_pct: f64,
    /// True pack SOC at the end, %.
    pub final_true_soc_pct: f64,
    /// Engine SOC at the end, %.
    pub final_soc_pct: f64,
}

#[derive(Debug, Clone, Default)]
struct Stats {
    steps: u64,
    min_cell_v: f64,
    max_cell_v: f64,
    min_temp_c: f64,
    max_temp_c: f64,
    trips: Vec<Trip>,
    alerts: Vec<Alert>,
    injected: Vec<InjectedRecord>,
    soc_sq_err_sum: f64,
    soc_max_err: f64,
    cell_sq_err_sum: f64,
    cell_scored: u64,
    converged_after_s: Option<u64>,
    max_err_after_convergence: f64,
    in_bound_steps: u64,
    cell_in_bound: u64,
    energy_in_wh: f64,
    energy_out_wh: f64,
    charged_below_zero_ah: f64,
    heater_secs: f64,
    heater_wh: f64,
    fan_secs: f64,
    balancing_secs: f64,
    initial_soc_spread_pct: f64,
}

impl Stats {
    /// One pass over the cells for everything per cell (this runs every step): extremes, and
    /// each cell's estimate against its truth; returns the sums of the true SOCs and of the
    /// cell voltages.
    fn add_cells(
        &mut self,
        cells: &Cells,
        estimator: &impl SocEstimator,
        dt_secs: f64,
    ) -> (f64, f64) {
        let (mut true_soc_sum, mut pack_v) = (0.0, 0.0);
        for i in 0..cells.len() {
            let (Some(v), Some(t), Some(current_a), Some(truth)) = (
                cells.voltage_v(i),
                cells.temperature_c(i),
                cells.current_a(i),
                cells.soc(i),
            ) else {
                continue;
            };
            pack_v += v;
            // Compare-and-pick: `f64::min`'s care for NaN costs instructions every cell-step,
            // and the model's voltages and temperatures are finite.
            lower(&mut self.min_cell_v, v);
            raise(&mut self.max_cell_v, v);
            lower(&mut self.min_temp_c, t);
            raise(&mut self.max_temp_c, t);
            if t < 0.0 && current_a > 0.0 {
                self.charged_below_zero_ah += current_a * dt_secs / 3600.0;
            }
            true_soc_sum += truth;
            let Some(estimate) = estimator.cell(i) else {
                continue;
            };
            let err = f64::from(estimate.soc) * 100.0 - truth.clamp(0.0, 1.0) * 100.0;
            self.cell_sq_err_sum += err * err;
            self.cell_scored += 1;
            if estimate
                .sigma
                .is_some_and(|s| err.abs() <= 300.0 * f64::from(s))
            {
                self.cell_in_bound += 1;
            }
        }
        (true_soc_sum, pack_v)
    }
}

/// Where power flows in the emulated home at one moment (the truth the BMS does not see).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PowerFlow {
    /// PV output, W.
    pub pv_w: f64,
    /// Household consumption, W.
    pub load_w: f64,
    /// Into the battery at its terminals, W (negative: out of it).
    pub battery_w: f64,
    /// What the battery's own heater takes from the cells, W (inside the battery: the cells
    /// give `heater_w` more than `battery_w` shows leaving).
    pub heater_w: f64,
    /// From the grid, W (negative: exported); in the lab scenarios, the bench supply or load.
    pub grid_w: f64,
    /// Whether the grid is up.
    pub grid_available: bool,
}

/// The emulated pack in its home, closed-loop with a BMS engine.
#[derive(Debug, Clone)]
pub struct Simulation {
    config: SimulationConfig,
    rng: ChaCha8Rng,
    pack: Pack,
    sensors: Sensors,
    home: Home,
    engine: Engine,
    time_s: u64,
    /// The string current of the last step, A.
    current_a: f64,
    /// The heater's power during the last step, W.
    heater_w: f64,
    measurement: Measurement,
    outputs: Outputs,
    stats: Stats,
    current_drift_a_per_sec: f64,
    next_fault: usize,
}

impl Simulation {
    /// Sets up a run; fails for an unsupported cell count.
    pub fn new(config: SimulationConfig) -> Result<Self, Error> {
        config.check_packs()?;
        if config.cell_count == 0 || config.cell_count > bms_engine::MAX_CELLS {
            return Err(Error::CellCount {
                given: config.cell_count,
            });
        }
        let cell_count = u8::try_from(config.cell_count).map_err(|_| Error::CellCount {
            given: config.cell_count,
        })?;
        let parallel = u8::try_from(config.parallel)
            .ok()
            .filter(|p| (1..=MAX_PARALLEL as u8).contains(p))
            .ok_or(Error::Parallel {
                given: config.parallel,
            })?;
        if config.age_years > MAX_AGE_YEARS {
            return Err(Error::Age {
                given: u32::from(config.age_years),
            });
        }
        let modules = config.modules();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut model = CellModel::lfp_280ah()?;
        let (pre_fade, fade_per_year) = config.scenario.pre_ageing();
        if fade_per_year > 0.0 {
            let mut params = model.params.clone();
            params.extra_fade_per_year = fade_per_year;
            model = CellModel::new(params);
        }
        let mut engine_config = config
            .scenario
            .engine_config(cell_count)
            .with_parallel(parallel);
        engine_config.shared_bus = config.packs > 1;
        // One temperature sensor per module (up to the engine's eight), two for a single one.
        let mut sensor_params = config.scenario.sensors();
        if let Some(offset_ma) = config.current_offset_ma {
            sensor_params.current_offset_a = f64::from(offset_ma) / 1000.0;
        }
        if modules > 1 {
            sensor_params.temperature_count = modules.min(bms_engine::MAX_TEMPERATURES);
        }
        engine_config.temperature_count = sensor_params.temperature_count as u8;
        let soc = (config.scenario.initial_soc() + f64::from(config.soc_offset_pct) / 100.0)
            .clamp(0.0, 1.0);
        let start_c = config
            .scenario
            .ambient_c(config.scenario.start_time_of_day_secs());
        let mut pack = Pack::new(
            config.cell_count,
            config.parallel,
            model,
            soc,
            config.scenario.soc_spread(),
            start_c,
            engine_config.balancer,
            &mut rng,
        );
        pack.module_cells = config.cells_per_module();
        if pre_fade > 0.0 {
            let Pack { model, cells, .. } = &mut pack;
            for i in 0..cells.len() {
                cells.scale_capacity(i, 1.0 - pre_fade, model);
            }
        }
        if config.age_years > 0 {
            let Pack { model, cells, .. } = &mut pack;
            for i in 0..cells.len() {
                cells.age_in_service(i, f64::from(config.age_years), model);
            }
        }
        let bms_soc = (pack.soc() + config.scenario.bms_soc_error()).clamp(0.0, 1.0);
        if matches!(
            engine_config.switches,
            bms_engine::SwitchKind::Contactor { .. }
        ) {
            pack.contactor = Some(crate::Contactor {
                bus_load_ohm: if config.scenario == Scenario::FaultPrecharge {
                    5.0
                } else {
                    10_000.0
                },
                ..crate::Contactor::typical()
            });
        }
        let initial_soc_permille = (bms_soc * 1000.0).round() as u16;
        let mut engine = Engine::new(engine_config, initial_soc_permille)?;
        if config.estimator != EstimatorKind::Model {
            let capacity_ah = engine.config().capacity_mah as f32 / 1000.0;
            engine.set_estimator(Estimator::new(
                config.estimator,
                CellModelParams::lfp(capacity_ah),
                config.cell_count,
                f32::from(initial_soc_permille) / 1000.0,
            ));
        }
        if config.age_years > 0
            && let Estimator::Model(estimator) = engine.estimator_mut()
        {
            // A pack's BMS has served with it: it knows what its cells have become, within a
            // percent of their capacity.
            let cells = &pack.cells;
            let capacity: Vec<_> = (0..cells.len())
                .map(|i| {
                    cells
                        .capacity_ah(i)
                        .map(|q| (q as f32, (q * LEARNT_CAPACITY_SIGMA) as f32))
                })
                .collect();
            let r0: Vec<f32> = (0..cells.len())
                .map(|i| {
                    cells
                        .r0_at_25c_ohm(i, &pack.model)
                        .map_or(f32::NAN, |r| r as f32)
                })
                .collect();
            estimator.take_up_learnt(&capacity, &r0);
        }
        let mut sensors = Sensors::new(sensor_params, config.cell_count, &mut rng);
        let measurement = sensors.measure(&pack, 0.0);
        let outputs = engine.step(&measurement, 0);
        let true_v: Vec<f64> = (0..config.cell_count)
            .filter_map(|i| pack.cell_voltage_v(i))
            .collect();
        let stats = Stats {
            min_cell_v: true_v.iter().copied().fold(f64::INFINITY, f64::min),
            max_cell_v: true_v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            min_temp_c: start_c,
            max_temp_c: start_c,
            initial_soc_spread_pct: pack.soc_spread_pct(),
            ..Stats::default()
        };
        Ok(Simulation {
            home: Home::new(config.scenario),
            config,
            rng,
            pack,
            sensors,
            engine,
            time_s: 0,
            current_a: 0.0,
            heater_w: 0.0,
            measurement,
            outputs,
            stats,
            current_drift_a_per_sec: 0.0,
            next_fault: 0,
        })
    }

    /// The set-up.
    pub fn config(&self) -> &SimulationConfig {
        &self.config
    }

    /// The engine (for the emulated device's protocol handling).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to apply host requests (configuration writes, commands).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The configuration the engine protects the pack with.
    pub fn engine_config(&self) -> &PackConfig {
        self.engine.config()
    }

    /// The sensors (for fault injection).
    pub fn sensors_mut(&mut self) -> &mut Sensors {
        &mut self.sensors
    }

    /// The true pack (mutable, for fault injection).
    pub fn pack_mut(&mut self) -> &mut Pack {
        &mut self.pack
    }

    /// The true pack.
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// The mean over the cells of a per-cell quantity of the model (a cell without one counts
    /// as 0, as the sum over every cell is divided by their number).
    fn cell_mean(&self, of: impl Fn(&Cells, usize, &CellModel) -> Option<f64>) -> f64 {
        let cells = &self.pack.cells;
        let sum: f64 = (0..cells.len())
            .filter_map(|i| of(cells, i, &self.pack.model))
            .sum();
        sum / cells.len().max(1) as f64
    }

    /// The weakest cell's (or parallel group's) true capacity now, Ah: what limits the pack,
    /// and what the engine's capacity estimate is after.
    pub fn true_capacity_ah(&self) -> f64 {
        let cells = &self.pack.cells;
        (0..cells.len())
            .filter_map(|i| cells.capacity_ah(i))
            .fold(f64::INFINITY, f64::min)
    }

    /// The true state of health, %: [`Simulation::true_capacity_ah`] over the capacity the
    /// engine is configured with, as the engine's SOH is its weakest cell's estimate over it.
    pub fn true_soh_pct(&self) -> f64 {
        let nominal_ah = f64::from(self.engine.config().capacity_mah) / 1000.0;
        self.true_capacity_ah() / nominal_ah.max(1e-3) * 100.0
    }

    /// The engine's latest decisions.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// The latest snapshot the engine saw.
    pub fn measurement(&self) -> &Measurement {
        &self.measurement
    }

    /// The power the heater took from the cells during the last step, W (0 while off).
    pub fn heater_w(&self) -> f64 {
        self.heater_w
    }

    /// The true current that flowed in the last step, A (positive charges).
    pub fn current_a(&self) -> f64 {
        self.current_a
    }

    /// What the current sensor reads above the true current now, A: its offset plus any drift
    /// (the truth beside the BMS's learnt estimate of it).
    pub fn current_sensor_offset_a(&self) -> f64 {
        self.sensors.current_bias_a()
    }

    /// Simulated seconds since the start.
    pub fn time_s(&self) -> u64 {
        self.time_s
    }

    /// Time of day, seconds after midnight.
    pub fn time_of_day_secs(&self) -> u64 {
        (self.config.scenario.start_time_of_day_secs() + self.time_s) % 86_400
    }

    /// Injects `fault` now.
    pub fn inject(&mut self, fault: InjectedFault) {
        match fault {
            InjectedFault::InternalShort { cell, leak_a } => {
                self.pack.cells.add_internal_short(cell, leak_a);
            }
            InjectedFault::ResistanceStep { cell, added_ohm } => {
                self.pack.cells.add_resistance(cell, added_ohm);
            }
            InjectedFault::WeakCell {
                cell,
                capacity_factor,
            } => {
                let Pack { model, cells, .. } = &mut self.pack;
                cells.scale_capacity(cell, capacity_factor, model);
            }
            InjectedFault::ThermalRunawayPrecursor { cell, heat_w } => {
                self.pack.cells.add_heat(cell, heat_w);
            }
            InjectedFault::OpenSenseWire { cell } => self.sensors.open_wires.push(cell),
            InjectedFault::StuckTemperatureSensor { sensor } => {
                // Stuck at its last reading.
                let value = self
                    .measurement
                    .temperatures_deci_c
                    .get(sensor)
                    .copied()
                    .flatten();
                if let Some(slot) = self.sensors.stuck_temperatures.get_mut(sensor) {
                    *slot = value;
                }
            }
            InjectedFault::CurrentSensorDrift { amps_per_hour } => {
                self.current_drift_a_per_sec += amps_per_hour / 3600.0;
            }
            InjectedFault::FrontEndLost => self.sensors.front_end_ok = false,
            InjectedFault::ChargerIgnoresLimits { current_a } => {
                self.home.rogue_charger_a = Some(current_a);
            }
            InjectedFault::ExternalShortCircuit => self.sensors.short_circuit = true,
            InjectedFault::BusDisconnected => self.pack.bus_disconnected = true,
        }
        self.stats.injected.push(InjectedRecord {
            time_s: self.time_s,
            fault: fault.name(),
        });
    }

    /// Where power flowed during the last step: PV and load from the home, the battery's true
    /// power at its terminals, and the grid as the balance (import positive). Without a grid,
    /// load the battery cannot cover goes unserved and the grid shows 0.
    pub fn power_flow(&self) -> PowerFlow {
        // The string current leaves out the heater's draw, which never leaves the battery.
        let heater_w = self.heater_w;
        let battery_w = self.pack.voltage_v() * self.current_a + heater_w;
        self.home.power_flow(self.time_s, battery_w, heater_w)
    }

    /// Advances the loop by one second.
    pub fn step(&mut self) {
        self.inject_due_faults();
        let requested_a = self.home.step(
            crate::scenario::HomeInputs {
                time_s: self.time_s,
                time_of_day_secs: self.time_of_day_secs(),
                pack_voltage_mv: f64::from(self.measurement.pack_voltage_mv()),
                bms_soc_permille: self.outputs.soc_permille,
                limits: &self.outputs.limits,
            },
            &mut self.rng,
        );
        let charge_offered = self.home.charge_offered();
        self.advance(requested_a, charge_offered);
    }

    /// Injects the scenario's faults that are due by now.
    fn inject_due_faults(&mut self) {
        while let Some(&(at_s, fault)) = self.config.scenario.faults().get(self.next_fault) {
            if at_s > self.time_s {
                break;
            }
            self.next_fault += 1;
            self.inject(fault);
        }
    }

    /// One second of everything but the home: `requested_a` asked of the pack at its
    /// terminals (the switches may refuse it), with a charger telling the BMS it has charge to
    /// give when `charge_offered`. A [`crate::Bank`] drives its packs through this, each with
    /// its share of the bank's current.
    pub(crate) fn advance(&mut self, requested_a: f64, charge_offered: bool) {
        self.sensors.current_drift_a += self.current_drift_a_per_sec;
        let dt_secs = f64::from(STEP_MILLIS) / 1000.0;
        self.pack.ambient_c = self.config.scenario.ambient_c(self.time_of_day_secs());
        self.heater_w = self.pack.heater_w();
        if self.heater_w > 0.0 {
            self.stats.heater_secs += dt_secs;
            self.stats.heater_wh += self.heater_w * dt_secs / 3600.0;
        }
        if self.pack.fan_on {
            self.stats.fan_secs += dt_secs;
        }
        if self.pack.balancing.mask != 0 {
            self.stats.balancing_secs += dt_secs;
        }
        self.current_a = self.pack.step(requested_a, dt_secs);
        self.time_s += 1;

        self.sensors
            .measure_into(&self.pack, self.current_a, &mut self.measurement);
        self.measurement.charger_present = Some(charge_offered);
        self.engine
            .step_into(&self.measurement, STEP_MILLIS, &mut self.outputs);
        self.pack.charge_switch_on = self.outputs.charge_switch_on;
        self.pack.discharge_switch_on = self.outputs.discharge_switch_on;
        self.pack.heater_on = self.outputs.heater_on;
        self.pack.fan_on = self.outputs.fan_on;
        self.pack.balancing = self.outputs.balancing;
        if let Some(c) = &mut self.pack.contactor {
            c.precharge_on = self.outputs.switches.precharge_on;
            c.main_on = self.outputs.switches.main_contactor_on;
        }
        self.record(dt_secs);
    }

    /// Advances by `secs` seconds.
    pub fn run_for(&mut self, secs: u64) {
        for _ in 0..secs {
            self.step();
        }
    }

    fn record(&mut self, dt_secs: f64) {
        let stats = &mut self.stats;
        stats.steps += 1;
        // Each estimator in a loop of its own: the per-cell call then inlines without a
        // `match` a cell.
        let cells = &self.pack.cells;
        let (true_soc_sum, pack_v) = match self.engine.estimator() {
            Estimator::Model(e) => stats.add_cells(cells, e, dt_secs),
            Estimator::Baseline(e) => stats.add_cells(cells, e, dt_secs),
        };
        let true_soc = Pack::mean_soc(true_soc_sum, self.pack.cells.len());
        let report = self.engine.soc_report();
        let err_pct = f64::from(report.average) * 100.0 - true_soc * 100.0;
        stats.soc_sq_err_sum += err_pct * err_pct;
        stats.soc_max_err = stats.soc_max_err.max(err_pct.abs());
        if let Some(bound) = report.bound.map(|b| f64::from(b) * 100.0) {
            if bound <= 5.0 && stats.converged_after_s.is_none() {
                stats.converged_after_s = Some(self.time_s);
            }
            if stats.converged_after_s.is_some() {
                stats.max_err_after_convergence =
                    stats.max_err_after_convergence.max(err_pct.abs());
            }
            if err_pct.abs() <= bound {
                stats.in_bound_steps += 1;
            }
        }
        let energy_wh = pack_v * self.current_a * dt_secs / 3600.0;
        if energy_wh > 0.0 {
            stats.energy_in_wh += energy_wh;
        } else {
            stats.energy_out_wh -= energy_wh;
        }
        for event in &self.outputs.events {
            if event.kind != EventKind::Tripped {
                continue;
            }
            let cell = event
                .location
                .filter(|_| event.fault.located_at_cell())
                .map(|i| i.saturating_add(1));
            if event.level == Level::Trip {
                stats.trips.push(Trip {
                    time_s: self.time_s,
                    fault: event.fault.name(),
                    cell,
                });
                continue;
            }
            let (fault, level) = (event.fault.name(), event.level.name());
            // A handful of distinct faults at most: a search, and an allocation only the first
            // time one appears.
            match stats
                .alerts
                .iter_mut()
                .find(|a| a.fault == fault && a.level == level)
            {
                Some(alert) => {
                    alert.count = alert.count.saturating_add(1);
                    if let Some(c) = cell
                        && let Err(at) = alert.cells.binary_search(&c)
                    {
                        alert.cells.insert(at, c);
                    }
                }
                None => stats.alerts.push(Alert {
                    fault,
                    level,
                    count: 1,
                    first_time_s: self.time_s,
                    cells: cell.into_iter().collect(),
                }),
            }
        }
    }

    /// What the run has shown so far; `wall_ms` is left at 0 for the caller to fill in.
    pub fn summary(&self) -> Summary {
        let s = &self.stats;
        // Built once: capacity, the cells estimated and R0 all come from it.
        let health = self.engine.estimator().health();
        let bias = self.engine.estimator().report().bias_a;
        let rmse = if s.steps == 0 {
            0.0
        } else {
            (s.soc_sq_err_sum / s.steps as f64).sqrt()
        };
        Summary {
            scenario: self.config.scenario.name(),
            seed: self.config.seed,
            days: self.time_s as f64 / 86_400.0,
            cells: self.config.cell_count,
            parallel: self.config.parallel,
            modules: self.config.modules(),
            age_years: self.config.age_years,
            steps: s.steps,
            wall_ms: 0,
            true_min_cell_v: s.min_cell_v,
            true_max_cell_v: s.max_cell_v,
            true_min_temp_c: s.min_temp_c,
            true_max_temp_c: s.max_temp_c,
            trips: s.trips.clone(),
            alerts: s.alerts.clone(),
            injected: s.injected.clone(),
            estimator: match self.config.estimator {
                EstimatorKind::Model => "model",
                EstimatorKind::Baseline => "baseline",
            },
            soc_rmse_pct: rmse,
            soc_max_err_pct: s.soc_max_err,
            cell_soc_rmse_pct: if s.cell_scored == 0 {
                0.0
            } else {
                (s.cell_sq_err_sum / s.cell_scored as f64).sqrt()
            },
            converged_after_s: s.converged_after_s,
            soc_max_err_after_convergence_pct: s
                .converged_after_s
                .map(|_| s.max_err_after_convergence),
            soc_in_bound_pct: (self.config.estimator == EstimatorKind::Model && s.steps > 0)
                .then(|| s.in_bound_steps as f64 / s.steps as f64 * 100.0),
            cell_soc_in_bound_pct: (self.config.estimator == EstimatorKind::Model
                && s.cell_scored > 0)
                .then(|| s.cell_in_bound as f64 / s.cell_scored as f64 * 100.0),
            bias_estimate_a: bias.map(|(b, _)| f64::from(b)),
            bias_sigma_a: bias.map(|(_, sigma)| f64::from(sigma)),
            true_bias_a: self.current_sensor_offset_a(),
            capacity_estimate_ah: health
                .as_ref()
                .and_then(|h| h.capacity_ah)
                .map(|(q, _)| f64::from(q)),
            capacity_cells_estimated: health.as_ref().map_or(0, |h| {
                h.cell_capacity_ah.iter().filter(|c| c.is_some()).count()
            }),
            true_capacity_ah: self.true_capacity_ah(),
            lowest_capacity: health.as_ref().and_then(|h| {
                let (i, q) = learnt_extreme(&h.cell_capacity_ah, false)?;
                Some(CellCapacity {
                    cell: i + 1,
                    estimate_ah: f64::from(q),
                    true_ah: self.pack.cells.capacity_ah(i)?,
                })
            }),
            r0_estimate_mohm: health
                .as_ref()
                .and_then(|h| h.r0_ohm)
                .map(|(r, _)| f64::from(r) * 1000.0),
            highest_r0: health.as_ref().and_then(|h| {
                let (i, r) = learnt_extreme(&h.cell_r0_ohm, true)?;
                Some(CellResistance {
                    cell: i + 1,
                    estimate_mohm: f64::from(r) * 1000.0,
                    true_mohm: self.pack.cells.r0_at_25c_ohm(i, &self.pack.model)? * 1000.0,
                })
            }),
            true_r0_mohm: self.cell_mean(Cells::r0_at_25c_ohm) * 1000.0,
            energy_in_kwh: s.energy_in_wh / 1000.0,
            energy_out_kwh: s.energy_out_wh / 1000.0,
            unserved_kwh: self.home.unserved_wh / 1000.0,
            charged_below_zero_ah: s.charged_below_zero_ah,
            heater_hours: s.heater_secs / 3600.0,
            heater_kwh: s.heater_wh / 1000.0,
            fan_hours: s.fan_secs / 3600.0,
            capacity_fade_pct: self.cell_mean(Cells::fade) * 100.0,
            balancing_hours: s.balancing_secs / 3600.0,
            balanced_ah: (0..self.pack.cells.len())
                .map(|i| f64::from(self.engine.balanced_mah(i)) / 1000.0)
                .sum(),
            initial_soc_spread_pct: s.initial_soc_spread_pct,
            final_soc_spread_pct: self.pack.soc_spread_pct(),
            final_true_soc_pct: self.pack.soc() * 100.0,
            final_soc_pct: f64::from(self.outputs.soc_permille) / 10.0,
        }
    }

    /// The telemetry a Cellsight device would send now.
    pub fn telemetry(&self) -> Telemetry {
        Telemetry::from_step(&self.engine, &self.measurement, &self.outputs)
    }
}

/// `held = min(held, x)` for finite values, as one compare.
/// The cell (0-based) whose learnt value (of `(value, σ)` estimates) is the `highest`, or
/// else the lowest, with that value; on a tie, the last for the highest and the first for the
/// lowest.
fn learnt_extreme(cells: &[Option<(f32, f32)>], highest: bool) -> Option<(usize, f32)> {
    let learnt = cells
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|(v, _)| (i, v)));
    if highest {
        learnt.max_by(|a, b| a.1.total_cmp(&b.1))
    } else {
        learnt.min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

fn lower(held: &mut f64, x: f64) {
    if x < *held {
        *held = x;
    }
}

/// `held = max(held, x)` for finite values, as one compare.
fn raise(held: &mut f64, x: f64) {
    if x > *held {
        *held = x;
    }
}
