//! State estimation: state of charge (SOC) per cell and for the pack with an honest confidence
//! bound, the current sensor's bias, and state of health (SOH: capacity and resistance).
//!
//! Two estimators sit behind one trait, [`SocEstimator`], so that comparisons are reproducible:
//!
//! * [`ModelEstimator`] (the default) runs one extended Kalman filter per cell on the equivalent
//!   circuit the emulator also uses (OCV table, one-state hysteresis, R0 and two RC pairs,
//!   Arrhenius resistances), plus full-charge synchronisation (and a reset to empty for a
//!   cell resting below the OCV curve's end), capacity estimation by weighted total least
//!   squares and resistance tracking from current steps ([`health`]).
//! * [`BaselineEstimator`] is what most BMSs ship: coulomb counting, reset from the OCV table
//!   after a rest and to 100 % at full charge; no bias, no hysteresis, no bound.
//!
//! Both count each cell with the string's current less what the balancer drew from it (its
//! bleed, or an active balancer's transfer out of it and into another: [`StepInput::balance_a`],
//! from the engine's last balancing decision). Left to the voltage instead, a 2 A transfer bent
//! the cells' bias states by up to 0.68 A from each other (`imbalance`, seed 42), now 0.38 A at
//! worst and 0.17 A once converged.
//!
//! # The state vector of one cell
//!
//! | state | meaning | why it is there |
//! |---|---|---|
//! | `z` | SOC, fraction of the present capacity | what we want |
//! | `v1`, `v2` | voltages across the two RC pairs (τ ≈ 45 s and ≈ 45 min) | LFP relaxes for hours; without `v2` an hour after a load the filter would misread the voltage by tens of mV |
//! | `h` | OCV hysteresis, −1 … +1, times `hysteresis_v` | LFP's rested voltage depends on the last direction of current by ±5–25 mV, worth tens of % on the plateau |
//! | `b` | current-sensor bias, A (measured − true) | an offset of 0.1 A drifts a counter 0.9 %/day, 1.5 A 13 %/day |
//! | `e` | OCV-model error, V | the table is never exactly this cell's; `e` absorbs a slowly varying offset so that the filter does not turn a 5 mV table error on the plateau into a 10 % SOC error |
//!
//! The measurement is the cell's terminal voltage:
//! `v = OCV(z', T) + M·h + e + v1 + v2 + R0(T)·(i − b)`, with `OCV(z, T)` the 25 °C table moved
//! by the OCV's temperature coefficient at `z` times `T − 25 °C` (LiFePO4: a fraction of a
//! mV/K, most negative near empty: at −10 °C a cell rests 5 mV higher at 20 % and 1.4 mV at
//! 50 %, which on the flat curve there is two points of SOC), and `z' = z` except under
//! discharge in
//! the cold: from 0.1 C on, a cell whose accessible capacity is a fraction `a(T)` of nominal
//! shows the OCV of `1 − (1 − z)/a` (it looks emptier under load, not at rest), and below
//! 0.1 C proportionally less so. Without that term a cool pack's recovery after every
//! discharge reads as charge coming from nowhere, and the bias state learns it. On frozen
//! nights `z` can fall below `1 − a`: nothing is within reach, the cell sags towards empty
//! under load by an amount set by the load and the cold rather than the SOC, and the filter
//! does not correct. Taking `z' = z` there instead (as once done) had the estimate climb
//! while the pack emptied: `winter-cold` ended 9 points high (RMSE 3.2 %, now 0.2 %).
//!
//! # Noise tuning, and why
//!
//! * Voltage noise σ 3 mV: the front end's noise (2 mV in `solar-30`) plus 1 mV quantisation;
//!   and 20 % of the ohmic drop `R0(T)·i`, the most the resistance model is trusted: R0 moves
//!   with the SOC, and a cell's estimate lags a change (a connection going bad).
//! * The bias is heard only through the charge it counts, never through the ohmic drop the
//!   measurement equation also gives it (`∂v/∂b = −R0` is left out of the Jacobian): for a
//!   healthy cell that term is 0.03 mV per 0.1 A, far below the noise, but for a cell behind a
//!   5 mΩ connection the filter read its resistance error at 47 A (a few percent, 10–20 mV) as a
//!   4.6 A bias, and the cell's SOC walked off by 20 %.
//! * SOC process noise: the current sensor's noise (50 mA) and a 0.5 % gain uncertainty of the
//!   measured current, integrated over the step.
//! * `b` walks by 0.02 A per √hour: biases drift slowly with temperature; the walk keeps the
//!   filter able to follow without letting it chase voltage noise. A sensor whose zero
//!   drifts outruns that walk; once the estimate is seen to move more than 0.3 A in a day,
//!   the walk widens to follow (`BiasDrift`): at 0.1 A an hour over three days the SOC's
//!   RMSE went from 5.7 to 2.6 %, and no scenario without a drift changed at all.
//! * `e` is σ 8 mV and changes with the SOC moved (12 mV per √(unit SOC) over short moves), a
//!   first-order Gauss–Markov process along the SOC (correlation length 0.9 of the SOC): the
//!   table's error is different at different SOCs but the same at the same SOC, and bounded.
//!   This is what makes the filter use the voltage only where the OCV slope carries
//!   information: on the plateau (0.02–0.1 V per unit SOC) the innovation is explained more
//!   cheaply by `e` than by `z`, at the knees (> 1 V per unit SOC) by `z`. It once walked
//!   without a bound, and after a fortnight of cycling its σ was tens of mV: in `solar-30`
//!   with seed 53 one cell explained its voltage by −100 mV of "table error" and a −1.5 A
//!   bias, its estimate 30–60 points high for weeks, until the self-discharge check tripped
//!   on it (cell SOC RMSE 13.6 %; bounded: 0.6 %, and at most 1.04 % over seeds 1–60).
//! * Full-charge synchronisation (as a shunt does): a cell above the charged voltage with the
//!   current between 0 and the tail current for the detection time is full — a measurement
//!   `z = 1` with σ 1 %, once per charge. The same measurement is made of a cell resting above
//!   the curve's full end (light load, RC pairs relaxed) whose estimate has drifted from full
//!   by more than that σ, either way: the detection reads its current window through the
//!   cell's own bias, and cells resting full counted a 3 A offset for hours — with the sensor
//!   low, down until the self-discharge check tripped; with it high, past full, where no
//!   voltage corrects, one cell's bias stayed 2 A wrong for a fortnight. Below the curve's
//!   empty end at light load a cell is reset to `z = 0`.
//!
//! # Cost
//!
//! Every step each filter counts charge and moves its RC and hysteresis states (a few
//! multiplications); the O(N²) covariance work runs only at a voltage correction, which each cell
//! gets every [`CORRECTION_EVERY`] steps, the cells in turn. Hearing a cell less often also made
//! the filter better on `solar-30` (pack SOC RMSE 0.58 % every second, 0.33 % every 8 s, 0.30 %
//! every 16 s; 0.24 % every 32 s, but there `capacity-fade`'s per-cell RMSE rose from 0.56 to
//! 0.72 %): part of a front end's error does not change from one second to the next (a
//! channel's offset, the quantisation of a steady voltage), and a filter fed every sample as if
//! independent believed it more than it deserved. Every 16 s costs one thing: a weak cell (70 %
//! capacity) is followed a little less closely until its capacity is learnt (its per-cell RMSE
//! over a day 3.1 % against 2.8 % every 8 s).
//!
//! The reported bound is 3σ of `z`. Everything is `f32` with `libm`, so the results are
//! identical on a microcontroller, natively and in WebAssembly.

mod baseline;
mod blob;
mod filter;
pub mod health;
pub mod ocv;

pub use baseline::BaselineEstimator;
pub use blob::{BlobError, STATE_BLOB_MAX_LEN};
pub use ocv::{OcvError, OcvTable, OcvTemperatureCoefficient};

use crate::{MAX_CELLS, Measurement, PackConfig};
use filter::{Filters, Lanes};
use health::{Health, HealthReport};

/// Gas constant, J/(mol·K).
const GAS_CONSTANT: f32 = 8.314;

/// What the estimators know of the cell type.
#[derive(Debug, Clone, PartialEq)]
pub struct CellModelParams {
    /// Nominal capacity, Ah.
    pub capacity_ah: f32,
    /// Ohmic resistance at 25 °C, Ω.
    pub r0_ohm: f32,
    /// First RC pair: resistance Ω and time constant s.
    pub rc1: (f32, f32),
    /// Second RC pair: resistance Ω and time constant s.
    pub rc2: (f32, f32),
    /// OCV hysteresis half-width, V.
    pub hysteresis_v: f32,
    /// How fast hysteresis follows the current, per unit of SOC moved.
    pub hysteresis_rate: f32,
    /// Activation energy of the resistances, J/mol.
    pub activation_energy_j_per_mol: f32,
    /// Fraction of charge current that is stored.
    pub charge_efficiency: f32,
    /// The rested OCV curve at 25 °C.
    pub ocv: OcvTable,
    /// How the rested OCV moves with temperature (none when only a datasheet is known).
    pub ocv_temperature: OcvTemperatureCoefficient,
    /// How far the real rested voltage may be from the table, V (1σ), and how fast that error
    /// changes along the curve, V per √(unit SOC): small for a characterised cell, larger
    /// when only a datasheet is known.
    pub ocv_error_v: (f32, f32),
    /// The SOC is never reported better known than this σ, fraction.
    pub soc_sigma_floor: f32,
    /// How far a measured cell voltage may be from the model's, V (1σ): the front end's noise
    /// and quantisation, plus the dynamics the model does not know.
    pub voltage_sigma_v: f32,
    /// Accessible capacity by temperature, (°C, fraction) ascending: under discharge load a
    /// cold cell shows the OCV of a cell that much emptier (DOMAIN.md §1: 100 % at 25 °C, ~80 %
    /// at 0 °C, ~50 % at −20 °C).
    pub cold_capacity: [(f32, f32); 3],
}

impl CellModelParams {
    /// A LiFePO4 prismatic cell of `capacity_ah` with the typical values of DOMAIN.md §1
    /// (resistances scaled inversely with capacity from a 280 Ah cell, hysteresis ±7.5 mV).
    pub fn lfp(capacity_ah: f32) -> Self {
        CellModelParams {
            hysteresis_v: 0.0075,
            ocv_temperature: OcvTemperatureCoefficient::lfp(),
            ..Self::from_datasheet(capacity_ah, OcvTable::lfp())
        }
    }

    /// What a datasheet gives (capacity and an OCV table), completed with LiFePO4-typical
    /// dynamics: R0 0.3 mΩ, R1 0.25 mΩ / 45 s, R2 0.3 mΩ / 45 min at 280 Ah, scaled by
    /// 280 Ah / capacity; hysteresis ±10 mV. Noise: voltage σ 3 mV, OCV-table error σ 8 mV
    /// walking 12 mV per √SOC, SOC σ never below 0.5 %. (Doubling the doubt for a cell known
    /// only from its datasheet was tried on a foreign test cell: it listened to the voltage
    /// more, not less, and did worse.)
    pub fn from_datasheet(capacity_ah: f32, ocv: OcvTable) -> Self {
        let scale = 280.0 / capacity_ah.max(0.001);
        CellModelParams {
            capacity_ah,
            r0_ohm: 0.000_30 * scale,
            rc1: (0.000_25 * scale, 45.0),
            rc2: (0.000_30 * scale, 2_700.0),
            hysteresis_v: 0.010,
            hysteresis_rate: 40.0,
            activation_energy_j_per_mol: 20_000.0,
            charge_efficiency: 0.999,
            ocv,
            ocv_temperature: OcvTemperatureCoefficient::default(),
            cold_capacity: [(-20.0, 0.5), (0.0, 0.8), (25.0, 1.0)],
            ocv_error_v: (0.008, 0.012),
            soc_sigma_floor: 0.005,
            voltage_sigma_v: 0.003,
        }
    }

    /// Accessible fraction of the capacity at `temperature_c`.
    pub fn accessible(&self, temperature_c: f32) -> f32 {
        let t = &self.cold_capacity;
        let mut prev = t[0];
        if temperature_c <= prev.0 {
            return prev.1.clamp(0.05, 1.0);
        }
        for &p in &t[1..] {
            if temperature_c <= p.0 {
                let f = prev.1 + (temperature_c - prev.0) / (p.0 - prev.0) * (p.1 - prev.1);
                return f.clamp(0.05, 1.0);
            }
            prev = p;
        }
        prev.1.clamp(0.05, 1.0)
    }

    /// Arrhenius factor of the resistances at `temperature_c` (1 at 25 °C).
    pub fn resistance_factor(&self, temperature_c: f32) -> f32 {
        let t_k = temperature_c.clamp(-40.0, 80.0) + 273.15;
        libm::expf(self.activation_energy_j_per_mol / GAS_CONSTANT * (1.0 / t_k - 1.0 / 298.15))
    }
}

/// Which estimator an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum EstimatorKind {
    /// Kalman filter per cell with bias, hysteresis and SOH ([`ModelEstimator`]).
    #[default]
    Model,
    /// Coulomb counting with OCV and full-charge resets ([`BaselineEstimator`]).
    Baseline,
}

/// One step's input to an estimator, derived from the measurement by the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInput<'a> {
    /// Cell voltages, mV (implausible ones are skipped).
    pub cell_voltages_mv: &'a [u16],
    /// Measured pack current, A (positive charges).
    pub current_a: f32,
    /// Mean of the plausible temperatures, °C (25 °C when none).
    pub temperature_c: f32,
    /// Time since the previous step, s.
    pub dt_secs: f32,
    /// Lowest and highest plausible cell reading, mV.
    pub plausible_mv: (u16, u16),
    /// Charged voltage per cell, V, and the tail current, A, for full-charge detection.
    pub full_charge: (f32, f32),
    /// Detection time of a full charge, s.
    pub full_detect_secs: f32,
    /// Rest: current below this is rest, A; after this long at rest the OCV shows, s.
    pub rest: (f32, f32),
    /// What balancing drew from each cell beside the string's current, A (negative: an
    /// active balancer's transfer into it), cell 1 first, in the lanes the filters take.
    pub balance_a: &'a [f32; MAX_CELLS],
}

/// No cell balanced: what a step's input says until the engine tells otherwise.
const NO_BALANCING: [f32; MAX_CELLS] = [0.0; MAX_CELLS];

impl<'a> StepInput<'a> {
    /// The same input with each cell's balancing current `balance_a` (see
    /// [`StepInput::balance_a`]).
    pub fn with_balancing(self, balance_a: &'a [f32; MAX_CELLS]) -> Self {
        StepInput { balance_a, ..self }
    }

    /// What balancing drew from cell `i`, A.
    pub fn balance_a(&self, i: usize) -> f32 {
        self.balance_a.get(i).copied().unwrap_or(0.0)
    }

    /// The input for `m` under `config`, `dt_millis` after the previous one.
    pub fn new(m: &'a Measurement, config: &PackConfig, dt_millis: u32) -> Self {
        let limit = config.temperature_reading_limit_deci_c;
        let (sum, count) = m
            .temperatures_deci_c
            .iter()
            .flatten()
            .filter(|t| t.saturating_abs() <= limit)
            .fold((0_i32, 0_i32), |(s, n), &t| (s + i32::from(t), n + 1));
        let temperature_c = if count == 0 {
            25.0
        } else {
            sum as f32 / count as f32 / 10.0
        };
        StepInput {
            cell_voltages_mv: &m.cell_voltages_mv,
            current_a: m.current_ma as f32 / 1000.0,
            temperature_c,
            dt_secs: dt_millis as f32 / 1000.0,
            plausible_mv: (config.open_wire_mv, config.cell_reading_max_mv),
            full_charge: (
                f32::from(config.absorption_cell_mv) / 1000.0,
                config.absorption_tail_current_ma as f32 / 1000.0,
            ),
            full_detect_secs: 180.0,
            rest: (
                config.rest_current_ma as f32 / 1000.0,
                config.rest_time_ms as f32 / 1000.0,
            ),
            balance_a: &NO_BALANCING,
        }
    }

    /// Cell `i`'s voltage in V, if its reading is plausible.
    pub fn cell_v(&self, i: usize) -> Option<f32> {
        self.cell_voltages_mv
            .get(i)
            .filter(|&&mv| self.plausible(mv))
            .map(|&mv| f32::from(mv) / 1000.0)
    }

    /// Whether a cell reading of `mv` lies within [`StepInput::plausible_mv`].
    #[inline(always)]
    fn plausible(&self, mv: u16) -> bool {
        mv >= self.plausible_mv.0 && mv <= self.plausible_mv.1
    }
}

/// One cell's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CellEstimate {
    /// SOC, fraction 0..1.
    pub soc: f32,
    /// 1σ of the SOC, fraction; `None` for an estimator without a bound.
    pub sigma: Option<f32>,
}

/// The pack's state of charge as users need it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SocReport {
    /// Mean cell SOC, fraction.
    pub average: f32,
    /// 3σ bound of the average, fraction; `None` for the baseline.
    pub bound: Option<f32>,
    /// Usable SOC of the string: the charge the weakest cell can still give over what the
    /// string can give plus what the fullest cell can still take.
    pub usable: f32,
    /// Lowest cell SOC (limits discharge).
    pub lowest: f32,
    /// Highest cell SOC (limits charge).
    pub highest: f32,
    /// Estimated current-sensor bias, A (measured − true), with its 1σ (for the model: the root
    /// of its cells' mean variance of it); `None` for the baseline.
    pub bias_a: Option<(f32, f32)>,
    /// Remaining charge of the string (the weakest cell's), Ah.
    pub remaining_ah: f32,
}

/// A state-of-charge estimator for a series string.
pub trait SocEstimator {
    /// Advances by one measurement.
    fn update(&mut self, input: &StepInput<'_>);
    /// Cell `i`'s estimate.
    fn cell(&self, i: usize) -> Option<CellEstimate>;
    /// Cell `i`'s SOC alone, fraction 0..1 (every step's outputs need no σ).
    fn cell_soc(&self, i: usize) -> Option<f32> {
        self.cell(i).map(|c| c.soc)
    }
    /// The pack view.
    fn report(&self) -> SocReport;
    /// State of health, when the estimator tracks it.
    fn health(&self) -> Option<HealthReport>;
    /// SOH % and its 1σ alone, for every step's outputs (the full report is not needed).
    fn soh_pct(&self) -> Option<(f32, f32)>;
    /// Each cell's R0 at 25 °C, Ω (`None` for a cell not yet learnt), cell 1 first, into
    /// `out`; `false` from an estimator that learns no resistance (and `out` is untouched).
    /// For every report, without the full health report.
    fn cell_r0_ohm(&self, out: &mut [Option<f32>]) -> bool;
    /// Each cell's capacity as learnt, Ah (`None` for a cell not yet learnt), cell 1 first, into
    /// `out`; `false` from an estimator that learns no capacity (and `out` is untouched). For
    /// every report, without the full health report.
    fn cell_capacity_ah(&self, out: &mut [Option<f32>]) -> bool;
}

/// The pack view from per-cell estimates and capacities.
fn pack_report(
    cells: impl Iterator<Item = (CellEstimate, f32)> + Clone,
    bias_a: Option<(f32, f32)>,
) -> SocReport {
    let mut sums = ReportSums::new();
    for (c, capacity_ah) in cells {
        sums.add(c.soc, c.sigma, capacity_ah);
    }
    sums.finish(bias_a)
}

/// What the pack view sums and picks over the cells, one cell at a time.
struct ReportSums {
    n: f32,
    sum: f32,
    sigma_sum: f32,
    has_sigma: bool,
    lowest: f32,
    highest: f32,
    remaining: f32,
    headroom: f32,
}

impl ReportSums {
    fn new() -> Self {
        ReportSums {
            n: 0.0,
            sum: 0.0,
            sigma_sum: 0.0,
            has_sigma: true,
            lowest: f32::INFINITY,
            highest: f32::NEG_INFINITY,
            remaining: f32::INFINITY,
            headroom: f32::INFINITY,
        }
    }

    /// One cell: its SOC, the SOC's 1σ (`None`: the estimator gives none), its capacity, Ah.
    #[inline(always)]
    fn add(&mut self, soc: f32, sigma: Option<f32>, capacity_ah: f32) {
        self.n += 1.0;
        self.sum += soc;
        match sigma {
            Some(s) => self.sigma_sum += s,
            None => self.has_sigma = false,
        }
        // Compare-and-pick rather than `f32::min`, whose care for NaN costs three instructions
        // a call (this runs for every cell every step; an estimate is never NaN).
        let pick_low = |held: f32, x: f32| if x < held { x } else { held };
        let pick_high = |held: f32, x: f32| if x > held { x } else { held };
        self.lowest = pick_low(self.lowest, soc);
        self.highest = pick_high(self.highest, soc);
        self.remaining = pick_low(self.remaining, soc * capacity_ah);
        self.headroom = pick_low(self.headroom, (1.0 - soc) * capacity_ah);
    }

    fn finish(self, bias_a: Option<(f32, f32)>) -> SocReport {
        if self.n == 0.0 {
            return SocReport::default();
        }
        let (remaining, headroom) = (self.remaining, self.headroom);
        let usable = if remaining + headroom > 0.0 {
            remaining / (remaining + headroom)
        } else {
            0.0
        };
        SocReport {
            average: self.sum / self.n,
            // Cells share the current sensor, so their errors are correlated: the mean σ, not
            // σ/√n, is the honest bound of the average.
            bound: self.has_sigma.then_some(3.0 * self.sigma_sum / self.n),
            usable,
            lowest: self.lowest,
            highest: self.highest,
            bias_a,
            remaining_ah: remaining,
        }
    }
}

/// The model-based estimator: a Kalman filter per cell plus state of health.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEstimator {
    params: CellModelParams,
    filters: Filters,
    health: Health,
    /// RC decay factors for the last (dt, temperature): (dt, T, a1, a2, resistance factor).
    decays: (f32, f32, f32, f32, f32),
    /// Accessible capacity fraction at that temperature.
    accessible: f32,
    /// Steps so far, for the staggered corrections.
    steps: u32,
    /// The current-sensor bias as the cells' filters see it on average, A, and its 1σ: the
    /// root of the filters' mean variance of it (the sensor is one for the string), and each
    /// cell's SOC σ, as of the filters' last change (see [`ModelEstimator::note_filters`]):
    /// the step's health counting, the report and every cell's estimate need them. Each SOC σ
    /// costs a root per cell; the bias's costs one.
    bias_mean: (f32, f32),
    soc_sigma: Lanes,
    /// What each cell is counted against, A·s, and its relative uncertainty: the health
    /// tracker's capacity once trusted, else the nominal one (as of `capacity_generation`).
    coulombs: Lanes,
    capacity_rel_sigma: Lanes,
    /// Each cell's capacity for the report, Ah (the estimate once trusted, else nominal).
    capacity_ah: Lanes,
    capacity_generation: Option<u32>,
    /// The step's plausible cell voltages, V (NaN: none).
    voltages: Lanes,
    /// How fast the bias has been seen to move, and so how fast it may walk.
    drift: BiasDrift,
}

/// Hours over which the bias's movement is judged.
const DRIFT_HOURS: usize = 24;
/// A bias moving less than this over [`DRIFT_HOURS`], A, walks at [`filter::BIAS_WALK_A`].
const DRIFT_DEADBAND_A: f32 = 0.3;
/// The bias is noted only once known better than this (1σ), A: learning it from its prior is
/// not a drift.
const DRIFT_LEARNT_SIGMA_A: f32 = 0.5;
/// The widened walk, as a multiple of the one that would have moved the bias as far as it was
/// seen to move: the estimate lags a ramp, so what it saw is less than what happened.
const DRIFT_GAIN: f32 = 2.0;

/// The current-sensor bias's walk, sized to how fast the bias has been seen to move.
///
/// The filters take the bias for a slow random walk ([`filter::BIAS_WALK_A`], 0.3 A in a day
/// at 3σ), and a sensor that drifts outruns it: at 0.1 A an hour (`fault-current-drift`) the
/// estimate followed a third of the ramp, its σ shrinking while it fell behind, and after
/// three days the SOC was 21 points high with the truth inside the 3σ bound for 64 % of the
/// steps. So the bias mean is noted every hour once learnt, and when it has moved more than
/// [`DRIFT_DEADBAND_A`] since a day before (a healthy sensor's estimate moves less than 0.2 A
/// once learnt), the walk becomes [`DRIFT_GAIN`] times the one that moves that far in
/// a day, until the movement falls back inside the deadband. Not saved across a restart:
/// after one, the walk is the slow one until a day has been seen again.
#[derive(Debug, Clone, PartialEq)]
struct BiasDrift {
    /// The bias mean at each of the last [`DRIFT_HOURS`] hours (NaN: not yet learnt then);
    /// the slot at `next` is the oldest, a day before the next.
    hourly: [f32; DRIFT_HOURS],
    next: usize,
    /// Seconds since the last note.
    since_s: f32,
    /// The walk in force, A per √hour.
    walk_a: f32,
}

impl BiasDrift {
    fn new() -> Self {
        BiasDrift {
            hourly: [f32::NAN; DRIFT_HOURS],
            next: 0,
            since_s: 0.0,
            walk_a: filter::BIAS_WALK_A,
        }
    }

    /// Counts `dt_secs` more; on the hour notes `bias` (mean, 1σ) and sizes the walk.
    fn note(&mut self, dt_secs: f32, (bias_a, sigma_a): (f32, f32)) {
        self.since_s += dt_secs;
        if self.since_s < 3_600.0 {
            return;
        }
        self.since_s = (self.since_s - 3_600.0).min(3_600.0);
        let now = if sigma_a < DRIFT_LEARNT_SIGMA_A {
            bias_a
        } else {
            f32::NAN
        };
        let Some(slot) = self.hourly.get_mut(self.next) else {
            return;
        };
        let moved = libm::fabsf(now - *slot);
        *slot = now;
        self.next = (self.next + 1) % DRIFT_HOURS;
        // NaN (a side not learnt) compares false: the slow walk.
        self.walk_a = if moved > DRIFT_DEADBAND_A {
            DRIFT_GAIN * moved / crate::math::sqrtf(DRIFT_HOURS as f32)
        } else {
            filter::BIAS_WALK_A
        };
    }

    /// The bias's walk in force, A per √hour.
    fn walk_a(&self) -> f32 {
        self.walk_a
    }
}

/// Each cell's filter is corrected with its voltage every this many steps, the cells in turn
/// (cell `i` when `(step + i) % CORRECTION_EVERY == 0`), so that a step corrects an even share
/// of them. Between corrections a filter counts charge, moves its RC and hysteresis states and
/// composes its covariance propagation (see `filter::Pending`): the O(N²) work happens only at
/// a correction. At 1 s steps a cell's voltage is heard every 16 s, far faster than LiFePO4's
/// SOC or the slow RC pair move (see "Cost" above for why not more often).
pub const CORRECTION_EVERY: usize = 16;

impl ModelEstimator {
    /// Works out what every step's outputs need of the filters once they have changed:
    /// `bias_mean` and `soc_sigma`.
    fn note_filters(&mut self) {
        self.filters.soc_sigmas(&mut self.soc_sigma);
        let (b, variance) = (0..self.filters.len()).fold((0.0, 0.0), |(b, v), c| {
            (
                b + self.filters.bias_a(c),
                v + self.filters.bias_variance(c),
            )
        });
        // Summed, then divided once (not each term: a division a cell, twice, every step).
        let n = self.filters.len().max(1) as f32;
        self.bias_mean = (b / n, crate::math::sqrtf(variance / n));
    }

    /// `cell_count` filters starting at `soc` (fraction) with an uncertainty of `soc_sigma`.
    pub fn new(params: CellModelParams, cell_count: usize, soc: f32, soc_sigma: f32) -> Self {
        let mut estimator = ModelEstimator {
            health: Health::new(&params, cell_count),
            filters: Filters::new(&params, cell_count, soc, soc_sigma),
            params,
            decays: (f32::NAN, f32::NAN, 1.0, 1.0, 1.0),
            accessible: 1.0,
            steps: 0,
            bias_mean: (0.0, 0.0),
            soc_sigma: [0.0; MAX_CELLS],
            coulombs: [0.0; MAX_CELLS],
            capacity_rel_sigma: [0.0; MAX_CELLS],
            capacity_ah: [0.0; MAX_CELLS],
            capacity_generation: None,
            voltages: [f32::NAN; MAX_CELLS],
            drift: BiasDrift::new(),
        };
        estimator.note_filters();
        estimator.follow_capacities();
        estimator
    }

    /// Brings the per-cell capacities up to date with the health tracker's, when they changed.
    fn follow_capacities(&mut self) {
        let generation = self.health.capacity_generation();
        if self.capacity_generation == Some(generation) {
            return;
        }
        self.capacity_generation = Some(generation);
        let nominal = self.params.capacity_ah;
        for (i, ((coulombs, rel_sigma), capacity)) in self
            .coulombs
            .iter_mut()
            .zip(self.capacity_rel_sigma.iter_mut())
            .zip(self.capacity_ah.iter_mut())
            .enumerate()
        {
            let (q, s) = self
                .health
                .capacity_ah(i)
                .map_or((nominal, health::NOMINAL_CAPACITY_REL_SIGMA), |(q, s)| {
                    (q, (s / q).max(0.01))
                });
            *coulombs = q.max(0.001) * 3600.0;
            *rel_sigma = s;
            *capacity = q;
        }
    }

    /// The cell model in use.
    pub fn params(&self) -> &CellModelParams {
        &self.params
    }

    /// The state-of-health tracker.
    pub fn health_tracker(&self) -> &Health {
        &self.health
    }

    /// Writes what must survive a restart into `out`; returns the bytes written.
    pub fn save(&self, out: &mut [u8]) -> Result<usize, BlobError> {
        blob::save(self, out)
    }

    /// Restores what [`ModelEstimator::save`] wrote; on error nothing changes.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        blob::restore(self, bytes)?;
        self.note_filters();
        self.follow_capacities();
        Ok(())
    }

    /// Takes up what it had learnt of its cells before: each cell's capacity, Ah, with its
    /// 1σ, and its R0 at 25 °C, Ω (cell 1 first; a `None` or a NaN for a cell not known; cells
    /// beyond the estimator's are ignored). A BMS that has served with its pack for years
    /// knows these; a state saved and restored ([`ModelEstimator::restore`]) brings them back
    /// the same way, with the SOC as well.
    pub fn take_up_learnt(&mut self, capacity_ah: &[Option<(f32, f32)>], r0_ohm: &[f32]) {
        let n = self.filters.len().min(MAX_CELLS);
        self.health.take_up(
            capacity_ah
                .get(..n.min(capacity_ah.len()))
                .unwrap_or_default(),
            r0_ohm.get(..n.min(r0_ohm.len())).unwrap_or_default(),
        );
        self.follow_capacities();
    }
}

impl SocEstimator for ModelEstimator {
    fn update(&mut self, input: &StepInput<'_>) {
        let dt = input.dt_secs;
        if dt <= 0.0 {
            return;
        }
        if self.decays.0 != dt || (self.decays.1 - input.temperature_c).abs() > 0.1 {
            let f = self.params.resistance_factor(input.temperature_c);
            self.decays = (
                dt,
                input.temperature_c,
                libm::expf(-dt / self.params.rc1.1),
                libm::expf(-dt / self.params.rc2.1),
                f,
            );
            self.accessible = self.params.accessible(input.temperature_c);
        }
        let (_, _, a1, a2, rf) = self.decays;
        // Ageing grows every resistance of a cell alike: the RC pairs follow the string's R0
        // as learnt, against the model's (an old pack's polarisation is a new one's and more).
        let grown = self
            .health
            .string_r0_ohm()
            .map_or(1.0, |r| (r / self.params.r0_ohm).clamp(0.5, 4.0));
        let step = filter::Step::new(
            &self.params,
            input.current_a,
            dt,
            (a1, a2),
            rf * grown,
            self.accessible,
            input.temperature_c,
        )
        .with_bias_walk(self.drift.walk_a());
        let n = self.filters.len();
        // The string's cells only (the lanes beyond are never read), in one loop without a
        // call a cell; a cell without a plausible reading is NaN, as `StepInput::cell_v` says.
        let voltages = self.voltages.get_mut(..n).unwrap_or_default();
        let read = input.cell_voltages_mv.len().min(n);
        let (read_v, unread_v) = voltages.split_at_mut(read);
        for (v, &mv) in read_v.iter_mut().zip(input.cell_voltages_mv) {
            *v = if input.plausible(mv) {
                f32::from(mv) / 1000.0
            } else {
                f32::NAN
            };
        }
        unread_v.fill(f32::NAN);
        self.filters.predict(
            &self.params,
            &step,
            &self.coulombs,
            &self.capacity_rel_sigma,
            input.balance_a,
        );
        // One cell's voltage correction this step, the cells in turn.
        let turn = (CORRECTION_EVERY - self.steps as usize % CORRECTION_EVERY) % CORRECTION_EVERY;
        let mut corrected = turn;
        while corrected < n {
            if let Some(&v) = self.voltages.get(corrected).filter(|v| !v.is_nan()) {
                let r0_ohm = self
                    .health
                    .r0_ohm_at(corrected, rf)
                    .unwrap_or(self.params.r0_ohm * rf);
                self.filters
                    .correct(corrected, &self.params, &step, r0_ohm, v);
            }
            corrected += CORRECTION_EVERY;
        }
        self.filters
            .full_charge_sync(&self.params, input, &self.voltages);
        // The sensor's bias is one for the string; a cell the model does not fit bends its own
        // estimate of it, so charge is counted for health against the cells' mean.
        let (bias_a, _) = self.bias_mean;
        if input.balance_a.iter().any(|&a| a != 0.0) {
            self.health.balance(input.balance_a, dt);
        }
        self.health.begin(&health::StringStep {
            current_a: input.current_a - bias_a,
            resistance_factor: rf,
            dt_secs: dt,
        });
        if self.health.cells_wanted() {
            for i in 0..n {
                let voltage = self.voltages.get(i).copied().filter(|v| !v.is_nan());
                self.health.observe(
                    i,
                    &health::Observation {
                        voltage_v: voltage,
                        rc_change_v: self.filters.rc_change_v(i),
                        soc: self.filters.soc(i),
                        soc_variance: self.filters.soc_variance(i),
                        ocv: &self.params.ocv,
                        voltage_agrees: self.filters.agrees(i),
                        ocv_error_v: self.filters.ocv_error_v(i),
                    },
                );
            }
        }
        self.health.end(self.voltages.get(..n).unwrap_or_default());
        self.follow_capacities();
        self.steps = self.steps.wrapping_add(1);
        self.note_filters();
        self.drift.note(dt, self.bias_mean);
    }

    fn cell(&self, i: usize) -> Option<CellEstimate> {
        (i < self.filters.len()).then(|| CellEstimate {
            soc: self.filters.soc(i).clamp(0.0, 1.0),
            sigma: self.soc_sigma.get(i).copied(),
        })
    }

    fn cell_soc(&self, i: usize) -> Option<f32> {
        self.filters.socs().get(i).map(|z| z.clamp(0.0, 1.0))
    }

    fn report(&self) -> SocReport {
        // Over the lanes themselves (this runs every step): what `cell` gives, without an
        // `Option` a cell.
        let mut sums = ReportSums::new();
        for ((&z, &sigma), &capacity_ah) in self
            .filters
            .socs()
            .iter()
            .zip(&self.soc_sigma)
            .zip(&self.capacity_ah)
        {
            sums.add(z.clamp(0.0, 1.0), Some(sigma), capacity_ah);
        }
        sums.finish(Some(self.bias_mean))
    }

    fn health(&self) -> Option<HealthReport> {
        Some(self.health.report())
    }

    fn soh_pct(&self) -> Option<(f32, f32)> {
        self.health.soh_pct()
    }

    fn cell_r0_ohm(&self, out: &mut [Option<f32>]) -> bool {
        for (i, slot) in out.iter_mut().take(self.filters.len()).enumerate() {
            *slot = self.health.r0_ohm(i).map(|(r, _)| r);
        }
        true
    }

    fn cell_capacity_ah(&self, out: &mut [Option<f32>]) -> bool {
        for (i, slot) in out.iter_mut().take(self.filters.len()).enumerate() {
            *slot = self.health.learnt_capacity_ah(i).map(|(q, _)| q);
        }
        true
    }
}

/// The engine's estimator: one of the two, chosen at start.
// The engine holds exactly one, in place (no allocator): the baseline's unused space is the
// price of choosing at run time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Estimator {
    /// See [`ModelEstimator`].
    Model(ModelEstimator),
    /// See [`BaselineEstimator`].
    Baseline(BaselineEstimator),
}

impl Estimator {
    /// An estimator of `kind` for `cell_count` cells of `params`, starting at `soc`.
    pub fn new(kind: EstimatorKind, params: CellModelParams, cell_count: usize, soc: f32) -> Self {
        match kind {
            // An initial guess is only a guess: 25 % σ until the voltage says more.
            EstimatorKind::Model => {
                Estimator::Model(ModelEstimator::new(params, cell_count, soc, 0.25))
            }
            EstimatorKind::Baseline => {
                Estimator::Baseline(BaselineEstimator::new(params, cell_count, soc))
            }
        }
    }

    /// Which one this is.
    pub fn kind(&self) -> EstimatorKind {
        match self {
            Estimator::Model(_) => EstimatorKind::Model,
            Estimator::Baseline(_) => EstimatorKind::Baseline,
        }
    }
}

/// Calls `$call` on whichever estimator `$e` holds: a `match`, so the call inlines (these run
/// for every cell every step; a `dyn` call would not).
macro_rules! dispatch {
    ($e:expr, $inner:ident => $call:expr) => {
        match $e {
            Estimator::Model($inner) => $call,
            Estimator::Baseline($inner) => $call,
        }
    };
}

impl SocEstimator for Estimator {
    fn update(&mut self, input: &StepInput<'_>) {
        dispatch!(self, e => e.update(input))
    }

    fn cell(&self, i: usize) -> Option<CellEstimate> {
        dispatch!(self, e => e.cell(i))
    }

    fn cell_soc(&self, i: usize) -> Option<f32> {
        dispatch!(self, e => e.cell_soc(i))
    }

    fn report(&self) -> SocReport {
        dispatch!(self, e => e.report())
    }

    fn health(&self) -> Option<HealthReport> {
        dispatch!(self, e => e.health())
    }

    fn soh_pct(&self) -> Option<(f32, f32)> {
        dispatch!(self, e => e.soh_pct())
    }

    fn cell_r0_ohm(&self, out: &mut [Option<f32>]) -> bool {
        dispatch!(self, e => e.cell_r0_ohm(out))
    }

    fn cell_capacity_ah(&self, out: &mut [Option<f32>]) -> bool {
        dispatch!(self, e => e.cell_capacity_ah(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Notes `HOURS` hours of a bias moving `per_hour` A an hour from `start` A, with a 1σ
    /// of `sigma` A, a second at a time; returns the walk in force after each hour.
    fn walks<const HOURS: usize>(
        drift: &mut BiasDrift,
        start: f32,
        per_hour: f32,
        sigma: f32,
    ) -> [f32; HOURS] {
        core::array::from_fn(|h| {
            for s in 0..3_600 {
                let t = h as f32 + s as f32 / 3_600.0;
                drift.note(1.0, (start + per_hour * t, sigma));
            }
            drift.walk_a()
        })
    }

    /// A bias seen to move 1.2 A in a day walks fast enough to have moved twice that: the
    /// filters' slow walk (0.02 A/√h) would move it 0.1 A in a day, 1σ.
    #[test]
    fn a_bias_seen_moving_a_day_long_walks_faster() {
        let mut drift = BiasDrift::new();
        let walk: [f32; 30] = walks(&mut drift, 0.5, 0.05, 0.3);
        // Until a day has been seen, the slow walk.
        assert!(
            walk[..24].iter().all(|&w| w == filter::BIAS_WALK_A),
            "{walk:?}"
        );
        // Then notes a day apart, 1.2 A: the walk that moves that far in a day, twice.
        let wide = 2.0 * 0.05 * 24.0 / libm::sqrtf(24.0);
        assert!(
            walk[24..].iter().all(|&w| (w - wide).abs() < 0.01),
            "{wide} {walk:?}"
        );
        // The sensor holds again: once the day's movement is inside the deadband, slow again.
        let held: [f32; 30] = walks(&mut drift, 2.0, 0.0, 0.3);
        assert!(held[0] > 0.3, "{held:?}");
        assert_eq!(held.last(), Some(&filter::BIAS_WALK_A), "{held:?}");
    }

    /// A healthy sensor's estimate wanders less than the deadband in a day; a bias still being
    /// learnt from its prior (σ 0.5 A or more) moves by amperes, and is no drift either.
    #[test]
    fn a_bias_wandering_little_or_still_being_learnt_keeps_the_slow_walk() {
        let mut drift = BiasDrift::new();
        let walk: [f32; 72] = walks(&mut drift, 0.1, 0.01, 0.2);
        assert!(walk.iter().all(|&w| w == filter::BIAS_WALK_A), "{walk:?}");
        let mut drift = BiasDrift::new();
        let walk: [f32; 72] = walks(&mut drift, 0.0, 0.1, 0.6);
        assert!(walk.iter().all(|&w| w == filter::BIAS_WALK_A), "{walk:?}");
    }

    /// What a BMS learnt of its pack before is taken up as if learnt now: the capacities give
    /// the SOH, the resistances the report; a value that is no capacity is left unknown.
    #[test]
    fn capacities_and_resistances_learnt_before_are_taken_up() {
        let mut estimator = ModelEstimator::new(CellModelParams::lfp(280.0), 4, 0.5, 0.1);
        assert_eq!(estimator.soh_pct(), None);
        let capacity = [
            Some((240.0, 2.4)),
            Some((238.0, 2.4)),
            Some((f32::NAN, 1.0)),
            Some((242.0, 2.4)),
        ];
        estimator.take_up_learnt(&capacity, &[0.000_37, 0.000_38, f32::NAN, 0.000_37]);
        let mut learnt = [None; 4];
        assert!(estimator.cell_capacity_ah(&mut learnt));
        assert_eq!(learnt, [Some(240.0), Some(238.0), None, Some(242.0)]);
        let (soh, _) = estimator.soh_pct().unwrap();
        assert!(
            (soh - 238.0 / 2.8).abs() < 0.1,
            "{soh} %: the lowest cell's"
        );
        let mut r0 = [None; 4];
        assert!(estimator.cell_r0_ohm(&mut r0));
        assert!(
            r0[0]
                .zip(r0[1])
                .is_some_and(|(a, b)| a < b && (a - 0.000_37).abs() < 1e-6),
            "{r0:?}"
        );
    }

    /// The voltages a step hears are `StepInput::cell_v`'s for every cell of the string: a
    /// missing or implausible reading is not heard (NaN), whatever lane it is in.
    #[test]
    fn a_step_hears_each_cells_plausible_reading_only() {
        // One estimator through them all: a lane heard last step and missing now is not heard.
        let mut estimator = ModelEstimator::new(CellModelParams::lfp(280.0), 4, 0.5, 0.1);
        for readings in [
            &[3_300_u16, 3_310, 3_320, 3_330][..],
            &[3_300, 60_000, 3_320],
            &[0, 3_310],
            &[],
            &[3_300, 3_310, 3_320, 3_330, 3_340, 3_350],
        ] {
            let input = StepInput {
                cell_voltages_mv: readings,
                current_a: 10.0,
                temperature_c: 25.0,
                dt_secs: 1.0,
                plausible_mv: (500, 5_000),
                full_charge: (3.55, 14.0),
                full_detect_secs: 180.0,
                rest: (1.0, 1_800.0),
                balance_a: &NO_BALANCING,
            };
            estimator.update(&input);
            for (i, &heard) in estimator.voltages.iter().enumerate().take(4) {
                match input.cell_v(i) {
                    Some(v) => assert_eq!(heard, v, "cell {i} of {readings:?}"),
                    None => assert!(heard.is_nan(), "cell {i} of {readings:?}: {heard}"),
                }
            }
        }
    }
}
