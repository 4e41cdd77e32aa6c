//! State of health: each cell's capacity by weighted total least squares over large ΔSOC
//! windows (Plett's AWTLS family), its ohmic resistance from current steps, SOH with a
//! confidence, and a remaining-life projection from the capacity trend.
//!
//! **Capacity.** When a cell's SOC is known well (σ ≤ 1 %) where the OCV curve is steep enough
//! for the voltage to tell (≥ 0.25 V per unit SOC, 2.5 mV per %: on the LiFePO4 table below
//! 30 %, at 70–75 % and above 95 %), the cell carries at most 0.05 C (so the SOC does not lean
//! on the resistance model) and its last voltage correction agreed with the filter's model, or
//! a full charge or a rest below the curve's empty end vouched for it (see
//! `CellFilter::agrees`), it is a *pin*. The last condition matters: a cell the model does not
//! fit (far less capacity than it counts with, a bad connection) makes the filter bend its
//! states to follow the voltage while its σ stays small. Two pins at least 50 % of SOC apart
//! give one data point: ΔSOC `x` (both ends uncertain, σx² = σ₁² + σ₂²) against the charge
//! counted between them `y` in Ah (less what the balancer drew from that cell; with the
//! cells' mean bias estimate: one cell's own bends when the model does not fit it; uncertain
//! by the bias over the time and a 0.5 % gain error). Both coordinates are noisy, so ordinary
//! least squares of `y` on `x` is biased low; the estimate minimises
//! Σ w (y − Q·x)² / (σy² + Q²·σx²) instead, solved by golden-section search, with weights
//! fading over 30 days so that fade is tracked.
//!
//! **Resistance.** A current step of at least 0.05 C between two samples moves the voltage by
//! R0·ΔI within a second, before the RC pairs respond; the filter's own RC prediction is
//! subtracted, and the ratio is averaged with weight ΔI² and a forgetting factor. Steps into or
//! out of light discharge (below 0.1 C) are left out: there the cell's load-dependent
//! polarisation (its reduced accessible capacity, strong in the cold) adds to the ohmic drop.
//! Every cell of the string sees the same step at the same temperature, so each step gives the
//! string's typical resistance (the median cell's), brought to 25 °C by the Arrhenius factor,
//! and each cell's excess over it, which is not: what one cell has beyond its neighbours is a
//! connection's (a loose busbar reads 5 mΩ warm or cold), while the cells' own resistance,
//! spread and ageing included, follows the string's Arrhenius. A connection read as a cell's
//! resistance and scaled to the night's 16 °C was once 1.2 mΩ too high for the filter, and its
//! cell's SOC on the flat of the curve 20 % too high.

use super::{CellModelParams, OcvTable};
use crate::MAX_CELLS;
use heapless::Vec;

/// A pin needs this SOC σ or better.
const PIN_SIGMA: f32 = 0.01;
/// … and an OCV slope at least this steep, V per unit SOC: on the plateau a small σ only says
/// the filter believes its own model. (0.5 V, below ~10 % on LiFePO4, left packs whose
/// evenings end at 15–20 % without any capacity estimate, counting a 243 Ah cell as 280 Ah.)
const PIN_MIN_SLOPE: f32 = 0.25;
/// … and a current at most this, in units of the nominal capacity: under load the SOC read
/// from the voltage leans on the resistance model.
const PIN_MAX_C_RATE: f32 = 0.05;
/// … and the SOC known to this (1σ) once what the filter leans on the OCV-model error is
/// counted: a filter that explains its voltage by a table error `E` where the curve's slope is
/// `s` would put the SOC `E / s` elsewhere were the table exact. A cell the model does not fit
/// (a weak one, counted as full-sized) leans tens of millivolts on it: a pin taken at 21 % for
/// a cell at 12 %, 21 mV explained as the table's error, once made a 196 Ah cell 220 Ah with
/// a σ of 3.5 Ah (`fault-weak-cell`, seeds 13, 17 and 19 of 1–20).
const PIN_LEAN_SIGMA: f32 = 0.02;
/// Two pins make a data point when this far apart in SOC.
const MIN_WINDOW: f32 = 0.5;
/// A pin this close to the last one (in SOC) and as good replaces it: less counting.
const PIN_REFRESH: f32 = 0.02;
/// Data points kept per cell.
const MAX_POINTS: usize = 8;
/// Weight of a data point falls by e every this many days.
const FADING_DAYS: f32 = 30.0;
/// Uncertainty of the measured charge: gain error, fraction.
const GAIN_ERROR: f32 = 0.005;
/// Current step that reveals R0, in units of the nominal capacity (0.05 C). A quiet solar day
/// has 16–28 such steps outside light discharge against 12–15 of 0.1 C; but a connection gone
/// bad brings on a charge derate that steps the current by 15–25 A again and again (380 steps
/// in `fault-resistance-step`'s first day, 11 of them 0.1 C), so it is known in hours, where at
/// 0.1 C it took 63.
const STEP_C_RATE: f32 = 0.05;
/// Discharge lighter than this, in units of the nominal capacity (0.1 C), shows the cell's
/// load-dependent polarisation as well as R0.
const LIGHT_DISCHARGE_C_RATE: f32 = 0.1;
/// Resistance samples a resistance taken up from before counts as ([`Health::take_up`]).
const TAKEN_UP_R0_SAMPLES: f32 = 50.0;
/// Forgetting factor of the resistance average per step used.
const R0_FORGET: f32 = 0.995;
/// Samples (effective) before the resistance estimate is used.
const R0_MIN_SAMPLES: f32 = 20.0;
/// How far a cell's real capacity may be from nominal before any estimate, 1σ fraction (a
/// new cell's spread, an unknown age).
pub const NOMINAL_CAPACITY_REL_SIGMA: f32 = 0.05;
/// Capacity σ, fraction of nominal, below which the filter uses the estimate.
const CAPACITY_TRUSTED_SIGMA: f32 = 0.03;

/// What the string did in one step: every cell carries its current.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StringStep {
    /// Current corrected by the string's bias estimate (the cells' mean), A.
    pub current_a: f32,
    /// Arrhenius factor of the resistances now.
    pub resistance_factor: f32,
    /// Step length, s.
    pub dt_secs: f32,
}

/// What one cell showed in one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<'a> {
    /// Terminal voltage, V, if plausible.
    pub voltage_v: Option<f32>,
    /// Change of the filter's RC voltages over the step, V.
    pub rc_change_v: f32,
    /// Estimated SOC after the step.
    pub soc: f32,
    /// Variance of `soc`.
    pub soc_variance: f32,
    /// The OCV curve (its slope at `soc` says whether a well-known SOC is a pin).
    pub ocv: &'a OcvTable,
    /// Whether the filter's last voltage correction agreed with its model, or a full charge or
    /// an empty cell vouched for the SOC: a small variance while the voltage disagrees (a weak
    /// cell, a bad connection) is the model believing itself.
    pub voltage_agrees: bool,
    /// The filter's OCV-model error, V: how much of the voltage it explains as the table's.
    pub ocv_error_v: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pin {
    soc: f32,
    variance: f32,
    ah: f64,
    secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    day: f32,
}

#[derive(Debug, Clone, PartialEq)]
struct CellHealth {
    pin: Option<Pin>,
    points: Vec<Point, MAX_POINTS>,
    capacity: Option<(f32, f32)>,
    /// Sums of the excess over the string's resistance at each step, Ω (see [`Sums`]).
    r0_excess: Sums,
    /// Charge balancing has drawn from the cell since the start, Ah (negative: given to it):
    /// beside the string's, the only charge a cell's own counting differs by.
    balanced_ah: f64,
}

/// Weighted sums of a resistance with forgetting: Σw, Σw·r, Σw·r², effective count.
type Sums = (f32, f32, f32, f32);

/// `sums` with one more value `r` of weight `w`, the earlier ones weighing [`R0_FORGET`] less.
fn remember((sw, swr, swr2, n): Sums, w: f32, r: f32) -> Sums {
    (
        R0_FORGET * sw + w,
        R0_FORGET * swr + w * r,
        R0_FORGET * swr2 + w * r * r,
        R0_FORGET * n + 1.0,
    )
}

/// Sums as if `samples` steps had shown `r`.
fn sums_of(r: f32, samples: f32) -> Sums {
    (samples, samples * r, samples * r * r, samples)
}

impl CellHealth {
    fn new() -> Self {
        CellHealth {
            pin: None,
            points: Vec::new(),
            capacity: None,
            r0_excess: (0.0, 0.0, 0.0, 0.0),
            balanced_ah: 0.0,
        }
    }
}

/// State of health as reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthReport {
    /// Per cell: estimated capacity and its 1σ, Ah (`None` until two pins were far apart).
    pub cell_capacity_ah: Vec<Option<(f32, f32)>, MAX_CELLS>,
    /// Per cell: R0 at 25 °C and its 1σ, Ω (`None` until enough current steps were seen).
    pub cell_r0_ohm: Vec<Option<(f32, f32)>, MAX_CELLS>,
    /// The string's capacity (its weakest estimated cell) and 1σ, Ah.
    pub capacity_ah: Option<(f32, f32)>,
    /// SOH: capacity over nominal, % and its 1σ.
    pub soh_pct: Option<(f32, f32)>,
    /// Mean R0 at 25 °C over the cells with an estimate, Ω, and its 1σ.
    pub r0_ohm: Option<(f32, f32)>,
    /// Years until the capacity reaches 80 % of nominal at the present trend, when the trend
    /// is a fade.
    pub years_to_80_pct: Option<f32>,
}

/// Tracks capacity and resistance of every cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    nominal_ah: f32,
    charge_efficiency: f32,
    cells: Vec<CellHealth, MAX_CELLS>,
    secs: f64,
    /// Charge counted since the start (stored charge: efficiency applied), Ah: the same for
    /// every cell of the string, which all carry its current.
    ah: f64,
    /// The step under way (see [`Health::begin`]).
    step: StringStep,
    /// The current of the step before, A, once there was one.
    previous_current_a: Option<f32>,
    /// This step's change of current from the one before, A, when it is large enough to show
    /// R0 (and does not touch light discharge).
    current_step_a: Option<f32>,
    /// Each cell's voltage in the step before, V (NaN: none plausible).
    previous_v: [f32; MAX_CELLS],
    /// Counts the changes of any cell's capacity estimate.
    capacity_generation: u32,
    /// The weakest estimated cell's capacity and 1σ, Ah, as of the last change.
    weakest: Option<(f32, f32)>,
    /// Capacity trend: n, Σt, Σc, Σt·c, Σt² (t in days, c as fraction of nominal).
    trend: (f32, f32, f32, f32, f32),
    /// The string's typical resistance at 25 °C, Ω (see [`Sums`]).
    string_r0: Sums,
    /// This step, if it is a current step: its weight ΔI², the Arrhenius factor, and the
    /// resistance each cell showed, Ω (NaN: none), taken in when the step is over.
    step_r0: Option<(f32, f32)>,
    step_cells_r0: [f32; MAX_CELLS],
}

impl Health {
    /// A tracker for `cell_count` cells of `params`.
    pub fn new(params: &CellModelParams, cell_count: usize) -> Self {
        let mut cells = Vec::new();
        for _ in 0..cell_count.min(MAX_CELLS) {
            let _ = cells.push(CellHealth::new());
        }
        Health {
            nominal_ah: params.capacity_ah,
            charge_efficiency: params.charge_efficiency,
            cells,
            secs: 0.0,
            ah: 0.0,
            step: StringStep {
                current_a: 0.0,
                resistance_factor: 1.0,
                dt_secs: 0.0,
            },
            previous_current_a: None,
            current_step_a: None,
            previous_v: [f32::NAN; MAX_CELLS],
            capacity_generation: 0,
            weakest: None,
            trend: (0.0, 0.0, 0.0, 0.0, 0.0),
            string_r0: (0.0, 0.0, 0.0, 0.0),
            step_r0: None,
            step_cells_r0: [f32::NAN; MAX_CELLS],
        }
    }

    /// Cell `i`'s capacity and its 1σ for the filter, once it is trusted, Ah.
    pub fn capacity_ah(&self, i: usize) -> Option<(f32, f32)> {
        self.cells
            .get(i)
            .and_then(|c| c.capacity)
            .filter(|&(_, sigma)| sigma <= CAPACITY_TRUSTED_SIGMA * self.nominal_ah)
    }

    /// Cell `i`'s capacity as learnt and its 1σ, Ah: the one the SOH is worked out from (the
    /// string's is its weakest cell's), whether or not yet trusted enough to count by.
    pub fn learnt_capacity_ah(&self, i: usize) -> Option<(f32, f32)> {
        self.cells.get(i).and_then(|c| c.capacity)
    }

    /// Changes whenever any cell's capacity estimate does (for a caller that keeps copies).
    pub fn capacity_generation(&self) -> u32 {
        self.capacity_generation
    }

    /// Data points (ΔSOC windows) behind cell `i`'s capacity estimate.
    pub fn capacity_points(&self, i: usize) -> usize {
        self.cells.get(i).map_or(0, |c| c.points.len())
    }

    /// Cell `i`'s last pin: SOC and its σ.
    pub fn last_pin(&self, i: usize) -> Option<(f32, f32)> {
        self.cells
            .get(i)
            .and_then(|c| c.pin)
            .map(|p| (p.soc, crate::math::sqrtf(p.variance)))
    }

    /// Cell `i`'s R0 at 25 °C, once enough steps were seen, Ω, and its 1σ.
    pub fn r0_ohm(&self, i: usize) -> Option<(f32, f32)> {
        self.r0_parts(i)
            .map(|((r, rs), (e, es))| (r + e, crate::math::sqrtf(rs * rs + es * es)))
    }

    /// The string's typical R0 at 25 °C, once enough steps were seen, Ω.
    pub fn string_r0_ohm(&self) -> Option<f32> {
        r0_mean(self.string_r0)
    }

    /// Cell `i`'s R0 for the filter at Arrhenius factor `resistance_factor`, once enough steps
    /// were seen, Ω: the string's share scales, the cell's excess does not.
    pub fn r0_ohm_at(&self, i: usize, resistance_factor: f32) -> Option<f32> {
        // Asked at every correction: the means alone, without the σ's square roots.
        let r = r0_mean(self.string_r0)?;
        let e = r0_mean(self.cells.get(i)?.r0_excess)?;
        // However noisy the excess, never below a tenth of the string's.
        Some((r * resistance_factor + e).max(0.1 * r * resistance_factor))
    }

    /// The string's typical R0 at 25 °C and cell `i`'s excess over it, each with its 1σ.
    fn r0_parts(&self, i: usize) -> Option<((f32, f32), (f32, f32))> {
        let string = r0_estimate(self.string_r0)?;
        let excess = r0_estimate(self.cells.get(i)?.r0_excess)?;
        Some((string, excess))
    }

    /// Takes up what was learnt of the cells before (a restored state, or a BMS that has
    /// served with its pack): each cell's capacity, Ah, with its 1σ, and its R0 at 25 °C, Ω,
    /// cell 1 first. A capacity that is not a positive number with a σ, or an R0 that is not a
    /// positive number, is left unknown; the resistances count as [`TAKEN_UP_R0_SAMPLES`]
    /// steps.
    pub(crate) fn take_up(&mut self, capacity_ah: &[Option<(f32, f32)>], r0_ohm: &[f32]) {
        for (i, &capacity) in capacity_ah.iter().enumerate() {
            let valid =
                capacity.filter(|&(q, sigma)| q.is_finite() && q > 0.0 && sigma.is_finite());
            self.set_capacity(i, valid);
        }
        let mut known = [f32::NAN; MAX_CELLS];
        for (slot, &r) in known.iter_mut().zip(r0_ohm) {
            if r.is_finite() && r > 0.0 {
                *slot = r;
            }
        }
        let n = r0_ohm.len().min(MAX_CELLS);
        self.set_r0(known.get(..n).unwrap_or_default(), TAKEN_UP_R0_SAMPLES);
    }

    /// Sets cell `i`'s capacity estimate (restoring saved state).
    pub(crate) fn set_capacity(&mut self, i: usize, capacity: Option<(f32, f32)>) {
        if let Some(c) = self.cells.get_mut(i) {
            c.capacity = capacity;
            self.capacity_changed();
        }
    }

    /// Sets the cells' resistances at 25 °C (NaN: not known) as if `samples` steps had shown
    /// them (restoring): the string's is their median, each cell's excess the rest.
    pub(crate) fn set_r0(&mut self, r0_ohm: &[f32], samples: f32) {
        let Some(string) = crate::median(r0_ohm) else {
            return;
        };
        self.string_r0 = sums_of(string, samples);
        for (c, &r) in self.cells.iter_mut().zip(r0_ohm) {
            if r.is_finite() {
                c.r0_excess = sums_of(r - string, samples);
            }
        }
    }

    /// Counts what balancing drew from each cell over a step of `dt_secs` (`balance_a`, A,
    /// cell 1 first; see [`super::StepInput::balance_a`]).
    pub fn balance(&mut self, balance_a: &[f32], dt_secs: f32) {
        for (cell, &a) in self.cells.iter_mut().zip(balance_a) {
            cell.balanced_ah += f64::from(a) * f64::from(dt_secs) / 3600.0;
        }
    }

    /// Starts a step of the string: counts its charge and notes whether its current moved by
    /// enough to show R0. Each cell's view of it follows ([`Health::observe`], where
    /// [`Health::cells_wanted`] says it can matter), then [`Health::end`].
    pub fn begin(&mut self, step: &StringStep) {
        let stored_a = if step.current_a > 0.0 {
            step.current_a * self.charge_efficiency
        } else {
            step.current_a
        };
        self.ah += f64::from(stored_a) * f64::from(step.dt_secs) / 3600.0;
        self.step = *step;
        self.current_step_a = self.previous_current_a.and_then(|i0| {
            let i1 = step.current_a;
            let di = i1 - i0;
            // A step from rest or light load into discharge also shows the cell's
            // load-dependent polarisation (strong in the cold), which is not R0: such steps
            // are left out.
            let light_a = LIGHT_DISCHARGE_C_RATE * self.nominal_ah;
            let touches_light_discharge = [i0, i1].iter().any(|&i| i < 0.0 && i > -light_a)
                || (i0.min(i1) < 0.0 && i0.max(i1) >= 0.0);
            (libm::fabsf(di) >= STEP_C_RATE * self.nominal_ah && !touches_light_discharge)
                .then_some(di)
        });
    }

    /// Whether any cell's observation can matter this step beyond its voltage: the current
    /// stepped (R0), or it is light enough for a pin. Most steps neither.
    pub fn cells_wanted(&self) -> bool {
        self.current_step_a.is_some()
            || libm::fabsf(self.step.current_a) <= PIN_MAX_C_RATE * self.nominal_ah
    }

    /// Takes in cell `i`'s view of the step begun.
    pub fn observe(&mut self, i: usize, o: &Observation<'_>) {
        let nominal = self.nominal_ah;
        let Some(cell) = self.cells.get_mut(i) else {
            return;
        };

        // Resistance from a current step.
        let v0 = self.previous_v.get(i).copied().unwrap_or(f32::NAN);
        if let (Some(di), Some(v), false) = (self.current_step_a, o.voltage_v, v0.is_nan()) {
            let r = (v - v0 - o.rc_change_v) / di;
            if let (true, Some(slot)) = (r.is_finite() && r > 0.0, self.step_cells_r0.get_mut(i)) {
                *slot = r;
                self.step_r0 = Some((di * di, self.step.resistance_factor.max(1e-3)));
            }
        }

        // Capacity from pins far apart.
        // The variance first: the curve is looked up only for a well-known SOC.
        if libm::fabsf(self.step.current_a) > PIN_MAX_C_RATE * nominal
            || o.soc_variance > PIN_SIGMA * PIN_SIGMA
            || !o.voltage_agrees
        {
            return;
        }
        let slope = o.ocv.voltage(o.soc).1;
        if slope < PIN_MIN_SLOPE {
            return;
        }
        let lean = o.ocv_error_v / slope;
        if o.soc_variance + lean * lean > PIN_LEAN_SIGMA * PIN_LEAN_SIGMA {
            return;
        }
        let here = Pin {
            soc: o.soc,
            variance: o.soc_variance,
            ah: self.ah - cell.balanced_ah,
            secs: self.secs,
        };
        let Some(pin) = cell.pin else {
            cell.pin = Some(here);
            return;
        };
        let x = here.soc - pin.soc;
        if libm::fabsf(x) < MIN_WINDOW {
            // Near the last pin: keep the better one; a fresh one as good right beside it has
            // less counting behind it (never a worse one, or pins would creep).
            let better = here.variance < pin.variance;
            let refresh = libm::fabsf(x) < PIN_REFRESH && here.variance <= pin.variance;
            if better || refresh {
                cell.pin = Some(here);
            }
            return;
        }
        let day = (self.secs / 86_400.0) as f32;
        let y = (here.ah - pin.ah) as f32;
        let hours = ((here.secs - pin.secs) / 3600.0) as f32;
        // Bias uncertainty of 0.05 A over the window, plus the gain error.
        let vy = (0.05 * hours) * (0.05 * hours) + (GAIN_ERROR * y) * (GAIN_ERROR * y);
        let point = Point {
            x,
            y,
            vx: pin.variance + here.variance,
            vy,
            day,
        };
        if cell.points.is_full() {
            cell.points.remove(0);
        }
        let _ = cell.points.push(point);
        cell.pin = Some(here);
        cell.capacity = awtls(&cell.points, nominal, day);
        self.capacity_changed();
        if let Some(pack) = self.weakest {
            let c = pack.0 / nominal;
            let (n, st, sc, stc, stt) = self.trend;
            self.trend = (n + 1.0, st + day, sc + c, stc + day * c, stt + day * day);
        }
    }

    /// Ends the step begun: a current step's resistances are taken in, each cell's voltage
    /// (`voltages_v`, V, cell 1 first; NaN where none was plausible) is kept for the next, and
    /// the clock advances.
    pub fn end(&mut self, voltages_v: &[f32]) {
        self.secs += f64::from(self.step.dt_secs);
        self.previous_current_a = Some(self.step.current_a);
        for (kept, &v) in self.previous_v.iter_mut().zip(voltages_v) {
            *kept = v;
        }
        let Some((w, resistance_factor)) = self.step_r0.take() else {
            return;
        };
        let n = self.cells.len();
        let seen = self.step_cells_r0.get_mut(..n).unwrap_or_default();
        if let Some(string) = crate::median(seen) {
            self.string_r0 = remember(self.string_r0, w, string / resistance_factor);
            for (c, r) in self.cells.iter_mut().zip(seen.iter()) {
                if r.is_finite() {
                    c.r0_excess = remember(c.r0_excess, w, r - string);
                }
            }
        }
        seen.fill(f32::NAN);
    }

    /// SOH: the weakest cell's estimated capacity over nominal, % and its 1σ (cheap: no
    /// report is built).
    pub fn soh_pct(&self) -> Option<(f32, f32)> {
        self.weakest
            .map(|(q, s)| (q / self.nominal_ah * 100.0, s / self.nominal_ah * 100.0))
    }

    /// Notes that a cell's capacity estimate changed.
    fn capacity_changed(&mut self) {
        self.capacity_generation = self.capacity_generation.wrapping_add(1);
        self.weakest = self.pack_capacity();
    }

    fn pack_capacity(&self) -> Option<(f32, f32)> {
        self.cells
            .iter()
            .filter_map(|c| c.capacity)
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// The report.
    pub fn report(&self) -> HealthReport {
        let mut report = HealthReport::default();
        let (mut r_sum, mut r_var, mut r_n) = (0.0_f32, 0.0_f32, 0.0_f32);
        for (i, c) in self.cells.iter().enumerate() {
            let _ = report.cell_capacity_ah.push(c.capacity);
            let r0 = self.r0_ohm(i);
            if let Some((r, s)) = r0 {
                r_sum += r;
                r_var += s * s;
                r_n += 1.0;
            }
            let _ = report.cell_r0_ohm.push(r0);
        }
        report.capacity_ah = self.weakest;
        report.soh_pct = self.soh_pct();
        if r_n > 0.0 {
            report.r0_ohm = Some((r_sum / r_n, crate::math::sqrtf(r_var) / r_n));
        }
        let (n, st, sc, stc, stt) = self.trend;
        let denominator = n * stt - st * st;
        if n >= 3.0 && denominator > 1.0 {
            let slope_per_day = (n * stc - st * sc) / denominator;
            if let (true, Some((q, _))) = (slope_per_day < 0.0, report.capacity_ah) {
                let above = q / self.nominal_ah - 0.8;
                report.years_to_80_pct = Some((above / -slope_per_day / 365.0).max(0.0));
            }
        }
        report
    }
}

/// The weighted mean of `sums`, once enough steps were seen.
fn r0_mean((sw, swr, _, n): Sums) -> Option<f32> {
    (n >= R0_MIN_SAMPLES && sw > 0.0).then(|| swr / sw)
}

/// The weighted mean of `sums` and its 1σ, once enough steps were seen.
fn r0_estimate(sums: Sums) -> Option<(f32, f32)> {
    let (sw, _, swr2, n) = sums;
    let mean = r0_mean(sums)?;
    let variance = (swr2 / sw - mean * mean).max(0.0);
    Some((mean, crate::math::sqrtf(variance / n)))
}

/// Capacity by weighted total least squares: minimises Σ w (y − Q·x)² / (σy² + Q²·σx²) over
/// Q in 0.3 … 1.5 × nominal by golden-section search; σ from the curvature of the weighted
/// least-squares cost at the minimum.
fn awtls(points: &[Point], nominal: f32, today: f32) -> Option<(f32, f32)> {
    if points.is_empty() {
        return None;
    }
    let weight = |p: &Point| libm::expf(-(today - p.day).max(0.0) / FADING_DAYS);
    let cost = |q: f32| -> f32 {
        points
            .iter()
            .map(|p| {
                let r = p.y - q * p.x;
                weight(p) * r * r / (p.vy + q * q * p.vx)
            })
            .sum()
    };
    const INV_PHI: f32 = 0.618_034;
    let (mut lo, mut hi) = (0.3 * nominal, 1.5 * nominal);
    let mut a = hi - INV_PHI * (hi - lo);
    let mut b = lo + INV_PHI * (hi - lo);
    let (mut fa, mut fb) = (cost(a), cost(b));
    for _ in 0..40 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - INV_PHI * (hi - lo);
            fa = cost(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + INV_PHI * (hi - lo);
            fb = cost(b);
        }
    }
    let q = 0.5 * (lo + hi);
    let information: f32 = points
        .iter()
        .map(|p| weight(p) * p.x * p.x / (p.vy + q * q * p.vx))
        .sum();
    (information > 0.0).then(|| (q, crate::math::sqrtf(1.0 / information)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f32, q: f32, sigma_x: f32, day: f32) -> Point {
        Point {
            x,
            y: q * x,
            vx: sigma_x * sigma_x,
            vy: 0.25,
            day,
        }
    }

    #[test]
    fn awtls_finds_the_capacity_of_exact_points() {
        let points = [point(0.6, 250.0, 0.01, 0.0), point(-0.5, 250.0, 0.01, 1.0)];
        let (q, sigma) = awtls(&points, 280.0, 1.0).unwrap();
        assert!((q - 250.0).abs() < 0.1, "{q}");
        assert!(sigma > 0.0 && sigma < 5.0, "{sigma}");
    }

    #[test]
    fn noisy_soc_ends_bias_least_squares_low_but_not_awtls() {
        // Each window's ΔSOC read 5 % too wide or too narrow, the charge exact.
        let q = 270.0;
        let mut points: Vec<Point, 8> = Vec::new();
        for (k, (true_x, e)) in [
            (0.5_f32, 0.05_f32),
            (0.5, -0.05),
            (-0.6, 0.05),
            (-0.6, -0.05),
        ]
        .into_iter()
        .enumerate()
        {
            let _ = points.push(Point {
                x: true_x + e,
                y: q * true_x,
                vx: 0.05 * 0.05,
                vy: 0.25,
                day: k as f32,
            });
        }
        let sxy: f32 = points.iter().map(|p| p.x * p.y).sum();
        let sxx: f32 = points.iter().map(|p| p.x * p.x).sum();
        let ols = sxy / sxx;
        let (estimate, _) = awtls(&points, 280.0, 4.0).unwrap();
        assert!((ols - q).abs() / q > 0.005, "OLS {ols}");
        assert!(
            (estimate - q).abs() < (ols - q).abs(),
            "{estimate} vs OLS {ols}"
        );
        assert!((estimate - q).abs() / q < 0.005, "{estimate}");
    }

    /// A cell with its SOC known to `sigma` and the filter's voltage agreement `agrees`.
    fn seen(params: &CellModelParams, soc: f32, sigma: f32, agrees: bool) -> Observation<'_> {
        Observation {
            voltage_v: None,
            rc_change_v: 0.0,
            soc,
            soc_variance: sigma * sigma,
            ocv: &params.ocv,
            voltage_agrees: agrees,
            ocv_error_v: 0.0,
        }
    }

    /// A step of the string of `dt_secs` at `current_a` (at 25 °C unless `resistance_factor`
    /// says otherwise) in which cell `i` shows `cells[i]`.
    fn step(h: &mut Health, current_a: f32, dt_secs: f32, cells: &[Observation<'_>]) {
        step_at(h, current_a, 1.0, dt_secs, cells);
    }

    fn step_at(
        h: &mut Health,
        current_a: f32,
        resistance_factor: f32,
        dt_secs: f32,
        cells: &[Observation<'_>],
    ) {
        h.begin(&StringStep {
            current_a,
            resistance_factor,
            dt_secs,
        });
        for (i, o) in cells.iter().enumerate() {
            h.observe(i, o);
        }
        let voltages: Vec<f32, MAX_CELLS> = cells
            .iter()
            .map(|o| o.voltage_v.unwrap_or(f32::NAN))
            .collect();
        h.end(&voltages);
    }

    #[test]
    fn a_fading_capacity_is_tracked_and_projected_to_80_percent() {
        let params = CellModelParams::lfp(280.0);
        let mut h = Health::new(&params, 1);
        // Pins at rest at 100 % and 5 %, where the LFP curve is steep; the charge between them
        // is counted while the SOC is not known well.
        let pin = |h: &mut Health, soc: f32| step(h, 0.0, 0.0, &[seen(&params, soc, 0.005, true)]);
        let count = |h: &mut Health, current_a: f32, dt_secs: f32| {
            step(h, current_a, dt_secs, &[seen(&params, 0.5, 0.1, true)]);
        };
        // Every day a full cycle between pins at 100 % and 5 % on a cell at 90 % of nominal
        // losing 10 % of it a year; the charge is counted exactly.
        let true_capacity = |day: f32| 252.0 * (1.0 - 0.1 * day / 365.0);
        for day in 0..60 {
            let q = true_capacity(day as f32);
            let half_day = 43_200.0;
            pin(&mut h, 1.0);
            // Discharge 95 % over half a day; efficiency only applies to charge.
            count(&mut h, -0.95 * q * 3600.0 / half_day, half_day);
            pin(&mut h, 0.05);
            count(&mut h, 0.95 * q * 3600.0 / half_day / 0.999, half_day);
        }
        pin(&mut h, 1.0);
        let r = h.report();
        let (capacity, sigma) = r.capacity_ah.unwrap();
        let truth = true_capacity(59.0);
        assert!(
            (capacity - truth).abs() / truth < 0.01,
            "{capacity} ± {sigma} vs {truth}"
        );
        let (soh, _) = r.soh_pct.unwrap();
        assert!((soh - truth / 2.8).abs() < 1.0, "{soh}");
        // 252 Ah · 0.1/year is 9 % of nominal a year: from ~88.4 % to 80 % is ~0.93 years.
        let years = r.years_to_80_pct.unwrap();
        assert!((0.75..1.15).contains(&years), "{years}");
    }

    #[test]
    fn no_pin_under_load_or_while_the_voltage_disagrees_with_the_model() {
        let params = CellModelParams::lfp(280.0);
        // A discharge from a pin at full to a well-known 10 %, ending each way in turn.
        let capacity_after = |current_a: f32, end: Observation<'_>| {
            let mut h = Health::new(&params, 1);
            step(&mut h, 0.0, 0.0, &[seen(&params, 1.0, 0.005, true)]);
            step(
                &mut h,
                -20.0,
                0.9 * 250.0 * 180.0,
                &[seen(&params, 0.5, 0.1, true)],
            );
            step(&mut h, current_a, 0.0, &[end]);
            h.report().cell_capacity_ah[0]
        };
        let (q, _) = capacity_after(-1.0, seen(&params, 0.1, 0.005, true))
            .expect("a rested, agreeing cell at 10 % is a pin");
        assert!((q - 250.0).abs() < 1.0, "{q}");
        // 28 A on a 280 Ah cell: 0.1 C, beyond the light load a pin may carry.
        assert_eq!(capacity_after(-28.0, seen(&params, 0.1, 0.005, true)), None);
        assert_eq!(capacity_after(-1.0, seen(&params, 0.1, 0.005, false)), None);
        // Agreeing, but only by explaining 50 mV of the voltage as the table's error: the SOC
        // leans on that explanation by several percent, and is no pin. A few millivolts are.
        let leaning = |e: f32| Observation {
            ocv_error_v: e,
            ..seen(&params, 0.1, 0.005, true)
        };
        assert_eq!(capacity_after(-1.0, leaning(0.05)), None);
        assert_eq!(capacity_after(-1.0, leaning(-0.05)), None);
        assert!(capacity_after(-1.0, leaning(0.002)).is_some());
    }

    /// Two cells discharged from full to 10 % by 20 A, the second bled 2 A besides all the
    /// way: each window counts the cell's own charge, so the first is found at 250 Ah and the
    /// second at 275 Ah (counted with the string's charge alone, it would read 250 Ah too).
    #[test]
    fn a_bled_cells_capacity_counts_its_bleed() {
        let params = CellModelParams::lfp(280.0);
        let mut h = Health::new(&params, 2);
        let pinned = |soc| {
            [
                seen(&params, soc, 0.005, true),
                seen(&params, soc, 0.005, true),
            ]
        };
        step(&mut h, 0.0, 0.0, &pinned(1.0));
        let secs = 0.9 * 250.0 * 3600.0 / 20.0;
        h.balance(&[0.0, 2.0], secs);
        step(
            &mut h,
            -20.0,
            secs,
            &[seen(&params, 0.5, 0.1, true), seen(&params, 0.5, 0.1, true)],
        );
        step(&mut h, -1.0, 0.0, &pinned(0.1));
        let report = h.report();
        for (q, truth) in report.cell_capacity_ah.iter().zip([250.0, 275.0]) {
            let (q, _) = q.expect("pinned at both ends");
            assert!((q - truth).abs() < 0.5, "{q} Ah, {truth} Ah true");
        }
    }

    /// Four cells of 0.3 mΩ at 25 °C, one (cell 2) behind a 5 mΩ connection, see current
    /// steps of 20 A warm and cold: the cells' resistance scales with the Arrhenius factor, the
    /// connection's does not, and the filter is given each at the temperature.
    #[test]
    fn a_connection_does_not_scale_with_temperature_and_the_cells_do() {
        let params = CellModelParams::lfp(280.0);
        let mut h = Health::new(&params, 4);
        let cell_r = |i: usize, factor: f32| 0.3e-3 * factor + if i == 2 { 5.0e-3 } else { 0.0 };
        for k in 0..200 {
            // Warm and cold by turns, a sample without voltage between (no step across them).
            let factor = if k / 20 % 2 == 0 { 1.0 } else { 2.0 };
            if k % 20 == 0 {
                step(&mut h, 10.0, 1.0, &[seen(&params, 0.5, 0.1, false); 4]);
            }
            // From 10 A to 30 A of charge and back: steps the estimate takes.
            for current in [10.0_f32, 30.0] {
                let cells: [Observation<'_>; 4] = core::array::from_fn(|i| Observation {
                    voltage_v: Some(3.3 + cell_r(i, factor) * current),
                    ..seen(&params, 0.5, 0.1, false)
                });
                step_at(&mut h, current, factor, 1.0, &cells);
            }
        }
        for factor in [1.0, 2.0] {
            for i in 0..4 {
                let r = h.r0_ohm_at(i, factor).expect("400 steps were seen");
                let want = cell_r(i, factor);
                assert!(
                    (r - want).abs() < 0.01e-3,
                    "cell {i} ×{factor}: {r} Ω, not {want}"
                );
            }
        }
        let (r25, _) = h.r0_ohm(2).unwrap();
        assert!((r25 - 5.3e-3).abs() < 0.01e-3, "{r25}");
        // Saved and restored at 25 °C, the split comes back.
        let mut restored = Health::new(&params, 4);
        let saved: [f32; 4] = core::array::from_fn(|i| h.r0_ohm(i).unwrap().0);
        restored.set_r0(&saved, 50.0);
        let r = restored.r0_ohm_at(2, 2.0).unwrap();
        assert!((r - cell_r(2, 2.0)).abs() < 0.01e-3, "{r}");
    }
}
