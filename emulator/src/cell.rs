//! One LiFePO4 cell as an equivalent circuit: OCV(SOC, T) from tables (the rested curve at
//! 25 °C and its temperature coefficient by SOC) plus a one-state OCV hysteresis, a series
//! resistance R0 and two RC pairs, all resistances Arrhenius in temperature, reduced
//! accessible capacity in the cold, coulombic efficiency, self-discharge, and ageing
//! (capacity fade and resistance growth from calendar time and charge throughput).
//!
//! Parameters come from a JSON parameter file (`emulator/params/lfp_280ah.json`, documented in
//! `emulator/params/README.md`). Current is positive when charging.
//!
//! The cells of a string are held as a structure of arrays ([`Cells`]), with one exception
//! to the crate's rule against indexing: the lane arrays have [`MAX_CELLS`] entries and are
//! indexed only by a cell number below the string's length (itself at most [`MAX_CELLS`]),
//! the shape the compiler vectorises.
#![allow(clippy::indexing_slicing, clippy::needless_range_loop)]

use crate::Error;
use bms_engine::MAX_CELLS;
use serde::Deserialize;

/// Gas constant, J/(mol·K).
const GAS_CONSTANT: f64 = 8.314;
/// Reference temperature of the parameters, K (25 °C).
const T_REF_K: f64 = 298.15;
/// Hours per second.
const HOURS_PER_SEC: f64 = 1.0 / 3600.0;
/// Days per second.
const DAYS_PER_SEC: f64 = 1.0 / 86_400.0;

/// The SOC a cell in a solar home's battery is reckoned to sit at through its years of service
/// ([`Cells::age_in_service`]): full by afternoon, drawn down overnight.
pub const SERVICE_SOC: f64 = 0.7;

/// Full cycles a day a cell in a solar home's battery is reckoned to go through in service.
pub const SERVICE_CYCLES_PER_DAY: f64 = 0.7;
/// Seconds in a (30-day) month.
const SECS_PER_MONTH: f64 = 30.0 * 86_400.0;

/// The default parameter file, compiled in.
pub const LFP_280AH_JSON: &str = include_str!("../params/lfp_280ah.json");

/// Parameters of one cell type (see `emulator/params/README.md` for units and sources).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellParams {
    /// What the parameters describe.
    #[serde(default)]
    pub description: String,
    /// Capacity when new at 25 °C, Ah.
    pub capacity_ah: f64,
    /// Manufacturing spread of capacity, σ as a fraction.
    pub capacity_spread_sigma: f64,
    /// Manufacturing spread of resistances, σ as a fraction.
    pub resistance_spread_sigma: f64,
    /// Ohmic resistance at 25 °C, Ω.
    pub r0_ohm: f64,
    /// First RC pair resistance, Ω.
    pub r1_ohm: f64,
    /// First RC pair time constant, s.
    pub tau1_secs: f64,
    /// Second RC pair resistance, Ω.
    pub r2_ohm: f64,
    /// Second RC pair time constant, s.
    pub tau2_secs: f64,
    /// Arrhenius activation energy of the resistances and calendar ageing, J/mol.
    pub activation_energy_j_per_mol: f64,
    /// Accessible capacity fraction by temperature, [°C, fraction], ascending.
    pub capacity_vs_temperature: Vec<[f64; 2]>,
    /// OCV hysteresis half-width, V.
    pub hysteresis_v: f64,
    /// How fast the hysteresis state follows the current direction, per unit of SOC moved.
    pub hysteresis_rate: f64,
    /// Fraction of charge current that is stored.
    pub coulombic_efficiency: f64,
    /// Self-discharge, % of capacity per month.
    pub self_discharge_pct_per_month: f64,
    /// Cell-to-cell spread of self-discharge, σ in % per month.
    pub self_discharge_spread_pct_per_month: f64,
    /// Heat capacity, J/K.
    pub heat_capacity_j_per_k: f64,
    /// Heat exchange with the ambient, W/K.
    pub cooling_w_per_k: f64,
    /// Heat exchange with each neighbouring cell, W/K.
    pub neighbour_w_per_k: f64,
    /// Cooling multiplier while the fan runs.
    pub fan_cooling_factor: f64,
    /// Heater power per cell while the heater runs, W.
    pub heater_w_per_cell: f64,
    /// Calendar capacity fade in the first year at 25 °C and 50 % SOC, fraction (∝ √t).
    pub calendar_fade_per_year: f64,
    /// Calendar ageing speed-up at 100 % SOC (linear from 1 at 50 %).
    pub calendar_high_soc_factor: f64,
    /// Capacity fade after `cycles_to_eol` equivalent full cycles, fraction.
    pub cycle_fade_at_eol: f64,
    /// Equivalent full cycles to `cycle_fade_at_eol`.
    pub cycles_to_eol: f64,
    /// Relative resistance growth per relative capacity fade.
    pub resistance_growth_per_fade: f64,
    /// Extra capacity fade linear in time, fraction per year (accelerated-ageing scenarios;
    /// 0 for a real cell).
    #[serde(default)]
    pub extra_fade_per_year: f64,
    /// Rested OCV at 25 °C, [SOC %, V], ascending in SOC.
    pub ocv: Vec<[f64; 2]>,
    /// How the rested OCV moves with temperature (the entropic coefficient dU/dT),
    /// [SOC %, mV/K], ascending in SOC: OCV(SOC, T) = OCV(SOC, 25 °C) + dU/dT(SOC) · (T − 25 °C).
    /// Empty (the default): the same OCV at every temperature.
    #[serde(default)]
    pub ocv_temperature_coefficient: Vec<[f64; 2]>,
}

impl CellParams {
    /// The 280 Ah LFP defaults from the compiled-in parameter file.
    pub fn lfp_280ah() -> Result<Self, Error> {
        Self::from_json(LFP_280AH_JSON)
    }

    /// Parses and checks a parameter file.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let params: CellParams = serde_json::from_str(text).map_err(|e| Error::Params {
            reason: format!("line {}, column {}: {e}", e.line(), e.column()),
        })?;
        params.check()?;
        Ok(params)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |reason: &str| {
            Err(Error::Params {
                reason: reason.to_owned(),
            })
        };
        let positive = [
            ("capacity_ah", self.capacity_ah),
            ("r0_ohm", self.r0_ohm),
            ("tau1_secs", self.tau1_secs),
            ("tau2_secs", self.tau2_secs),
            ("heat_capacity_j_per_k", self.heat_capacity_j_per_k),
            ("cycles_to_eol", self.cycles_to_eol),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("`{name}` must be a number above 0, got {v}"));
            }
        }
        if !(0.5..=1.0).contains(&self.coulombic_efficiency) {
            return bad("`coulombic_efficiency` must be between 0.5 and 1");
        }
        if self.ocv.len() < 2 {
            return bad("`ocv` needs at least two [soc_pct, volts] points");
        }
        if self
            .ocv
            .windows(2)
            .any(|w| matches!(w, [a, b] if !(b[0] > a[0] && b[1] >= a[1])))
        {
            return bad("`ocv` points must rise in SOC and never fall in voltage");
        }
        if self
            .ocv_temperature_coefficient
            .iter()
            .any(|p| !(p[1].is_finite() && p[1].abs() <= 5.0))
        {
            return bad("`ocv_temperature_coefficient` values must be mV/K within ±5");
        }
        if self
            .ocv_temperature_coefficient
            .windows(2)
            .any(|w| matches!(w, [a, b] if b[0] <= a[0]))
        {
            return bad("`ocv_temperature_coefficient` points must rise in SOC");
        }
        if self.capacity_vs_temperature.is_empty()
            || self
                .capacity_vs_temperature
                .windows(2)
                .any(|w| matches!(w, [a, b] if b[0] <= a[0]))
        {
            return bad("`capacity_vs_temperature` needs points ascending in temperature");
        }
        Ok(())
    }
}

/// Piecewise-linear interpolation in an ascending table, clamped at its ends.
fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    let i = table.partition_point(|p| p.0 < x);
    match (i.checked_sub(1).and_then(|j| table.get(j)), table.get(i)) {
        (Some(a), Some(b)) => a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1),
        (None, Some(b)) => b.1,
        (Some(a), None) => a.1,
        (None, None) => 0.0,
    }
}

/// Resolution of the OCV lookup grid, points per unit of SOC (0.1 % steps). Breakpoints on
/// whole tenths of a percent (every table we ship) are reproduced exactly.
const OCV_GRID_PER_UNIT: f64 = 1_000.0;

/// A voltage too small to matter to anything the model computes, V (see [`Cells::advance`]).
const NEGLIGIBLE_V: f64 = 1e-15;

/// Temperature change that refreshes the temperature-dependent quantities, K. Resistances move
/// about 0.03 % per 0.01 K, well below anything a sensor or the engine resolves.
const THERMAL_REFRESH_K: f64 = 0.01;

/// A cell type ready to simulate: its parameters, its OCV(SOC, T) curve extended beyond 0 % and
/// 100 % with steep segments (so over-charge and over-discharge behave like a real cell's knee),
/// and its accessible-capacity-by-temperature table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellModel {
    /// The parameters.
    pub params: CellParams,
    /// The extended OCV curve at 25 °C and its temperature coefficient (V, V/K) sampled on a
    /// uniform SOC grid, for a lookup without a search (both from one index).
    ocv_grid: Vec<(f64, f64)>,
    /// SOC of the grid's first point.
    ocv_grid_start: f64,
    accessible: Vec<(f64, f64)>,
}

impl CellModel {
    /// The model of `params`.
    pub fn new(params: CellParams) -> Self {
        let table: Vec<(f64, f64)> = params.ocv.iter().map(|p| (p[0] / 100.0, p[1])).collect();
        let (first, last) = match (table.first(), table.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => ((0.0, 2.8), (1.0, 3.4)),
        };
        let mut ocv = vec![
            (first.0 - 0.10, 1.5_f64.min(first.1 - 0.6)),
            (first.0 - 0.03, first.1 - 0.55),
            (first.0 - 0.01, first.1 - 0.25),
        ];
        ocv.extend(table);
        ocv.extend([
            (last.0 + 0.01, last.1 + 0.16),
            (last.0 + 0.02, last.1 + 0.31),
            (last.0 + 0.10, last.1 + 1.2),
        ]);
        let ocv_grid_start = first.0 - 0.10;
        let points = ((last.0 + 0.10 - ocv_grid_start) * OCV_GRID_PER_UNIT).round() as usize + 1;
        // The coefficient, clamped beyond its table's ends (the knees' extensions too).
        let coefficient: Vec<(f64, f64)> = params
            .ocv_temperature_coefficient
            .iter()
            .map(|p| (p[0] / 100.0, p[1] / 1000.0))
            .collect();
        let ocv_grid = (0..points)
            .map(|k| {
                let soc = ocv_grid_start + k as f64 / OCV_GRID_PER_UNIT;
                (interpolate(&ocv, soc), interpolate(&coefficient, soc))
            })
            .collect();
        let accessible = params
            .capacity_vs_temperature
            .iter()
            .map(|p| (p[0], p[1]))
            .collect();
        CellModel {
            params,
            ocv_grid,
            ocv_grid_start,
            accessible,
        }
    }

    /// The default 280 Ah LFP cell.
    pub fn lfp_280ah() -> Result<Self, Error> {
        CellParams::lfp_280ah().map(Self::new)
    }

    /// Rested OCV at `soc` (fraction) and `temperature_c`, V; clamped beyond the extended
    /// curve's ends.
    pub fn ocv_v(&self, soc: f64, temperature_c: f64) -> f64 {
        let x = (soc - self.ocv_grid_start) * OCV_GRID_PER_UNIT;
        let first = self.ocv_grid.first().copied().unwrap_or_default();
        let at = |(v, per_k): (f64, f64)| v + per_k * (temperature_c - 25.0);
        if x.is_nan() || x <= 0.0 {
            return at(first);
        }
        // Through u32: x86-64 has no unsigned 64-bit conversion, so `as usize` costs two
        // paths; a grid never has 4 billion points (beyond it, `get` finds none).
        let k = x as u32;
        let i = k as usize;
        match self.ocv_grid.get(i..i + 2) {
            // The index back to f64 from u32 too (one instruction, where u64 takes several).
            Some(&[a, b]) => {
                let f = x - f64::from(k);
                at((a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1)))
            }
            _ => at(self.ocv_grid.last().copied().unwrap_or(first)),
        }
    }

    /// Accessible fraction of the capacity at `temperature_c`.
    pub fn accessible(&self, temperature_c: f64) -> f64 {
        interpolate(&self.accessible, temperature_c).clamp(0.05, 1.0)
    }
}

/// One value per cell, cell 1 first; lanes beyond the string's length are unused.
pub type Lanes = [f64; MAX_CELLS];

/// The cells of a series string (each a parallel group): their own (spread) parameters and
/// true state, laid out by quantity, one value per cell in each array.
///
/// A pack step advances them stage by stage across the string: charge, RC pairs, hysteresis and
/// ageing for every cell, then heat, then voltage. Each stage is one loop over these arrays, which
/// the compiler vectorises and the processor overlaps; taken one cell at a time, the same
/// arithmetic left it waiting on each cell's chain of dependent steps.
///
/// Cells are numbered from 0 below [`Cells::len`]; an accessor given another number answers
/// `None` (a setter does nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct Cells {
    len: usize,
    /// Capacity when new, Ah (after manufacturing spread).
    capacity_new_ah: Lanes,
    /// Resistances when new at 25 °C, Ω (after spread): R0, the first and the second RC pair's.
    r0_new_ohm: Lanes,
    r1_new_ohm: Lanes,
    r2_new_ohm: Lanes,
    /// Self-discharge, fraction of capacity per second.
    self_discharge_per_sec: Lanes,
    /// Stored charge, Ah (SOC = stored / present capacity).
    charge_ah: Lanes,
    /// Voltage across the first and the second RC pair, V.
    v_rc1: Lanes,
    v_rc2: Lanes,
    /// Hysteresis state, −1 (discharged side) … +1 (charged side).
    hysteresis: Lanes,
    /// Cell temperature, °C.
    temperature_c: Lanes,
    /// Current in the last step, A.
    current_a: Lanes,
    /// Stress-weighted calendar time, days (calendar fade ∝ √t of it).
    calendar_equivalent_days: Lanes,
    /// Charge moved in and out since new, Ah.
    throughput_ah: Lanes,
    /// Time simulated since the start, days.
    age_days: Lanes,
    /// Extra self-discharge current from an internal short, A (fault injection).
    internal_short_a: Lanes,
    /// Extra ohmic resistance (fault injection), Ω.
    extra_r0_ohm: Lanes,
    /// Extra heat from a thermal-runaway precursor (fault injection), W.
    extra_heat_w: Lanes,
    /// What the slow processes have made of each cell, refreshed by [`Cells::refresh`] and,
    /// for the temperature, whenever it has moved by [`THERMAL_REFRESH_K`].
    derived: Derived,
    /// Terminal voltage as of the last step, V.
    voltage: Lanes,
    /// Scratch of a step: each cell's hysteresis exponent, then the SOC its OCV shows.
    scratch: Lanes,
}

/// Quantities that change slowly (with temperature and age) and are costly to compute, kept so
/// that a step is only multiplications and one table lookup; one value per cell.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Derived {
    /// Temperature the thermal quantities were computed at, °C.
    at_c: Lanes,
    /// Arrhenius factor of the resistances (1 at 25 °C).
    arrhenius: Lanes,
    /// Its inverse, the temperature stress of calendar ageing.
    inv_arrhenius: Lanes,
    /// Accessible fraction of the capacity at this temperature.
    accessible: Lanes,
    /// Capacity fade, fraction of the new capacity.
    fade: Lanes,
    /// Present capacity at 25 °C, Ah.
    capacity_ah: Lanes,
    /// Its inverse, 1/Ah.
    inv_capacity: Lanes,
    /// Resistance factor: temperature times ageing.
    resistance_factor: Lanes,
    /// 1 / (R1 · factor) and 1 / (R2 · factor), for the RC pairs' heat, 1/Ω.
    conductance1: Lanes,
    conductance2: Lanes,
}

/// e^(−x) for the hysteresis update; per-second steps move x ≈ 0.004, where the series is
/// exact to 1e-9.
fn hysteresis_decay(x: f64) -> f64 {
    if x < HYSTERESIS_SERIES_BELOW {
        hysteresis_series(x)
    } else {
        (-x).exp()
    }
}

fn hysteresis_series(x: f64) -> f64 {
    1.0 - x + 0.5 * x * x
}

/// Below this exponent the hysteresis decay is its series (see [`hysteresis_decay`]).
const HYSTERESIS_SERIES_BELOW: f64 = 0.01;

impl Default for Cells {
    fn default() -> Self {
        Self::new()
    }
}

impl Cells {
    /// No cells.
    pub fn new() -> Self {
        const ZERO: Lanes = [0.0; MAX_CELLS];
        Cells {
            len: 0,
            capacity_new_ah: ZERO,
            r0_new_ohm: ZERO,
            r1_new_ohm: ZERO,
            r2_new_ohm: ZERO,
            self_discharge_per_sec: ZERO,
            charge_ah: ZERO,
            v_rc1: ZERO,
            v_rc2: ZERO,
            hysteresis: ZERO,
            temperature_c: ZERO,
            current_a: ZERO,
            calendar_equivalent_days: ZERO,
            throughput_ah: ZERO,
            age_days: ZERO,
            internal_short_a: ZERO,
            extra_r0_ohm: ZERO,
            extra_heat_w: ZERO,
            derived: Derived {
                at_c: [f64::NAN; MAX_CELLS],
                arrhenius: [1.0; MAX_CELLS],
                inv_arrhenius: [1.0; MAX_CELLS],
                accessible: [1.0; MAX_CELLS],
                fade: ZERO,
                capacity_ah: ZERO,
                inv_capacity: ZERO,
                resistance_factor: [1.0; MAX_CELLS],
                conductance1: ZERO,
                conductance2: ZERO,
            },
            voltage: ZERO,
            scratch: ZERO,
        }
    }

    /// Adds a rested cell of `capacity_ah` (resistances `resistance_factor` times the
    /// parameters', self-discharge in % a month) at `soc` (fraction) and `temperature_c`.
    /// A string holds at most [`MAX_CELLS`]; beyond that nothing is added.
    pub fn push(
        &mut self,
        capacity_ah: f64,
        resistance_factor: f64,
        self_discharge_pct_per_month: f64,
        model: &CellModel,
        soc: f64,
        temperature_c: f64,
    ) {
        let i = self.len;
        if i >= MAX_CELLS {
            return;
        }
        self.len += 1;
        let params = &model.params;
        self.capacity_new_ah[i] = capacity_ah;
        self.r0_new_ohm[i] = params.r0_ohm * resistance_factor;
        self.r1_new_ohm[i] = params.r1_ohm * resistance_factor;
        self.r2_new_ohm[i] = params.r2_ohm * resistance_factor;
        self.self_discharge_per_sec[i] =
            (self_discharge_pct_per_month / 100.0).max(0.0) / SECS_PER_MONTH;
        self.charge_ah[i] = soc * capacity_ah;
        self.temperature_c[i] = temperature_c;
        self.derived.capacity_ah[i] = capacity_ah;
        self.derived.inv_capacity[i] = capacity_ah.recip();
        self.refresh(i, model);
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Cell `i`'s value in `lanes`, if there is such a cell.
    fn at(&self, lanes: &Lanes, i: usize) -> Option<f64> {
        lanes.get(..self.len.min(MAX_CELLS))?.get(i).copied()
    }

    /// Recomputes everything derived from temperature, age and cell `i`'s own parameters,
    /// then its terminal voltage. Call it after changing a parameter (fault injection); a pack
    /// refreshes ageing about once a minute.
    pub fn refresh(&mut self, i: usize, model: &CellModel) {
        if i >= self.len {
            return;
        }
        self.derived.at_c[i] = f64::NAN;
        self.refresh_ageing(i, model);
        self.refresh_thermal(i, model);
        self.refresh_voltage(i, model);
    }

    /// Capacity fade of cell `i` and what follows from it (capacity, resistance growth).
    pub(crate) fn refresh_ageing(&mut self, i: usize, model: &CellModel) {
        let Some(fade) = self.fade(i, model) else {
            return;
        };
        let d = &mut self.derived;
        d.fade[i] = fade;
        d.capacity_ah[i] = self.capacity_new_ah[i] * (1.0 - fade);
        d.inv_capacity[i] = d.capacity_ah[i].recip();
        self.refresh_resistances(i, model);
    }

    /// Cell `i`'s temperature-dependent quantities, when its temperature has moved enough to
    /// matter.
    fn refresh_thermal(&mut self, i: usize, model: &CellModel) {
        let t = self.temperature_c[i];
        let moved = (t - self.derived.at_c[i]).abs();
        if moved < THERMAL_REFRESH_K {
            return;
        }
        let arrhenius = arrhenius(model, t);
        let d = &mut self.derived;
        d.at_c[i] = t;
        d.arrhenius[i] = arrhenius;
        d.inv_arrhenius[i] = arrhenius.recip();
        d.accessible[i] = model.accessible(t);
        self.refresh_resistances(i, model);
    }

    fn refresh_resistances(&mut self, i: usize, model: &CellModel) {
        let d = &mut self.derived;
        d.resistance_factor[i] =
            d.arrhenius[i] * (1.0 + model.params.resistance_growth_per_fade * d.fade[i]);
        d.conductance1[i] = (self.r1_new_ohm[i] * d.resistance_factor[i]).recip();
        d.conductance2[i] = (self.r2_new_ohm[i] * d.resistance_factor[i]).recip();
    }

    fn refresh_voltage(&mut self, i: usize, model: &CellModel) {
        self.voltage[i] = self.terminal_v(i, model, self.ocv_soc(i));
    }

    /// Cell `i`'s terminal voltage with its OCV read at `ocv_soc`, V.
    #[inline(always)]
    fn terminal_v(&self, i: usize, model: &CellModel, ocv_soc: f64) -> f64 {
        model.ocv_v(ocv_soc, self.temperature_c[i])
            + model.params.hysteresis_v * self.hysteresis[i]
            + self.current_a[i] * self.r0(i)
            + self.v_rc1[i]
            + self.v_rc2[i]
    }

    /// The string's terminal voltage if `current_a` (charging positive) went through every
    /// cell now, V: each cell's OCV at the SOC it shows under that current, its hysteresis,
    /// its RC voltages as they stand and its R0. What the string offers a bus at that current
    /// for the next second (the RC voltages move by a few per cent of their way in a second).
    pub fn voltage_at(&self, model: &CellModel, current_a: f64) -> f64 {
        let n = self.len.min(MAX_CELLS);
        let d = &self.derived;
        (0..n)
            .map(|i| {
                let soc = ocv_soc(
                    self.charge_ah[i],
                    current_a,
                    d.capacity_ah[i],
                    d.inv_capacity[i],
                    d.accessible[i],
                );
                model.ocv_v(soc, self.temperature_c[i])
                    + model.params.hysteresis_v * self.hysteresis[i]
                    + current_a * self.r0(i)
                    + self.v_rc1[i]
                    + self.v_rc2[i]
            })
            .sum()
    }

    /// Cell `i`'s capacity fade so far, fraction of its new capacity (computed now, not
    /// cached).
    pub fn fade(&self, i: usize, model: &CellModel) -> Option<f64> {
        let p = &model.params;
        let calendar_days = self.at(&self.calendar_equivalent_days, i)?;
        let calendar = p.calendar_fade_per_year * (calendar_days / 365.0).max(0.0).sqrt();
        let cycles = self.throughput_ah[i] / (2.0 * self.capacity_new_ah[i]);
        let cycle = p.cycle_fade_at_eol * cycles / p.cycles_to_eol;
        let extra = p.extra_fade_per_year * self.age_days[i] / 365.0;
        Some((calendar + cycle + extra).min(0.9))
    }

    /// Cell `i`'s present capacity at 25 °C, Ah (as of the last ageing refresh).
    pub fn capacity_ah(&self, i: usize) -> Option<f64> {
        self.at(&self.derived.capacity_ah, i)
    }

    /// Cell `i`'s capacity when new, Ah.
    pub fn capacity_new_ah(&self, i: usize) -> Option<f64> {
        self.at(&self.capacity_new_ah, i)
    }

    /// Cell `i`'s state of charge, fraction of its present capacity.
    pub fn soc(&self, i: usize) -> Option<f64> {
        Some(self.at(&self.charge_ah, i)? * self.derived.inv_capacity[i])
    }

    /// Cell `i`'s self-discharge, fraction of its capacity per second.
    pub fn self_discharge_per_sec(&self, i: usize) -> Option<f64> {
        self.at(&self.self_discharge_per_sec, i)
    }

    /// Cell `i`'s stored charge, Ah.
    pub fn charge_ah(&self, i: usize) -> Option<f64> {
        self.at(&self.charge_ah, i)
    }

    /// Cell `i`'s terminal voltage as of the last step, V.
    pub fn voltage_v(&self, i: usize) -> Option<f64> {
        self.at(&self.voltage, i)
    }

    /// Every cell's terminal voltage as of the last step, V.
    pub fn voltages_v(&self) -> &[f64] {
        self.voltage.get(..self.len).unwrap_or_default()
    }

    /// Cell `i`'s temperature, °C.
    pub fn temperature_c(&self, i: usize) -> Option<f64> {
        self.at(&self.temperature_c, i)
    }

    /// Every cell's temperature, °C.
    pub fn temperatures_c(&self) -> &[f64] {
        self.temperature_c.get(..self.len).unwrap_or_default()
    }

    /// The current through cell `i` in the last step, A (the string's plus its balancing).
    pub fn current_a(&self, i: usize) -> Option<f64> {
        self.at(&self.current_a, i)
    }

    /// Cell `i`'s ohmic resistance now (temperature, ageing and injected faults included), Ω.
    pub fn r0_ohm(&self, i: usize) -> Option<f64> {
        self.at(&self.r0_new_ohm, i).map(|_| self.r0(i))
    }

    #[inline(always)]
    fn r0(&self, i: usize) -> f64 {
        self.r0_new_ohm[i] * self.derived.resistance_factor[i] + self.extra_r0_ohm[i]
    }

    /// Cell `i`'s ohmic resistance at 25 °C with ageing and injected faults, Ω.
    pub fn r0_at_25c_ohm(&self, i: usize, model: &CellModel) -> Option<f64> {
        let r0_new = self.at(&self.r0_new_ohm, i)?;
        let ageing = 1.0 + model.params.resistance_growth_per_fade * self.derived.fade[i];
        Some(r0_new * ageing + self.extra_r0_ohm[i])
    }

    /// Adds an internal short of `leak_a` to cell `i` (fault injection).
    pub fn add_internal_short(&mut self, i: usize, leak_a: f64) {
        if i < self.len {
            self.internal_short_a[i] += leak_a;
        }
    }

    /// Adds `added_ohm` to cell `i`'s ohmic resistance (fault injection: a connection).
    pub fn add_resistance(&mut self, i: usize, added_ohm: f64) {
        if i < self.len {
            self.extra_r0_ohm[i] += added_ohm;
        }
    }

    /// Adds a heat source of `heat_w` to cell `i` (fault injection).
    pub fn add_heat(&mut self, i: usize, heat_w: f64) {
        if i < self.len {
            self.extra_heat_w[i] += heat_w;
        }
    }

    /// Puts `years` of service in a solar home behind cell `i` (an older pack at the start of
    /// a run): calendar time at the stress of a cell kept near [`SERVICE_SOC`] at 25 °C, and
    /// [`SERVICE_CYCLES_PER_DAY`] full cycles a day, through the same ageing law as the run's
    /// own time. Its charge keeps its SOC. With the 280 Ah defaults five years leave about
    /// 88 % of the capacity and 24 % more resistance, ten about 81 % and 39 %.
    pub fn age_in_service(&mut self, i: usize, years: f64, model: &CellModel) {
        if i >= self.len || years <= 0.0 {
            return;
        }
        let soc = self.soc(i).unwrap_or(0.0);
        let p = &model.params;
        let stress = 1.0 + (p.calendar_high_soc_factor - 1.0) * (SERVICE_SOC - 0.5) * 2.0;
        let days = years * 365.0;
        self.age_days[i] += days;
        self.calendar_equivalent_days[i] += days * stress * stress;
        self.throughput_ah[i] += days * SERVICE_CYCLES_PER_DAY * 2.0 * self.capacity_new_ah[i];
        self.refresh(i, model);
        self.charge_ah[i] = soc * self.derived.capacity_ah[i];
        self.refresh_voltage(i, model);
    }

    /// Scales cell `i`'s capacity and its charge by `factor` (fault injection: a weak cell).
    pub fn scale_capacity(&mut self, i: usize, factor: f64, model: &CellModel) {
        if i < self.len {
            self.capacity_new_ah[i] *= factor;
            self.charge_ah[i] *= factor;
            self.refresh(i, model);
        }
    }

    /// SOC cell `i`'s OCV sees. In the cold only part of the charge is accessible *under
    /// load*: while discharging (fully from 0.1 C) the cell looks emptier by the
    /// capacity-vs-temperature factor and reaches its cut-off sooner; at rest it shows its true
    /// OCV.
    fn ocv_soc(&self, i: usize) -> f64 {
        ocv_soc(
            self.charge_ah[i],
            self.current_a[i],
            self.derived.capacity_ah[i],
            self.derived.inv_capacity[i],
            self.derived.accessible[i],
        )
    }

    /// Passes `current_a` (positive = charge) plus each cell's `extra_a` (balancing) through
    /// every cell for `dt_secs`: charge, RC pairs (`decays` are their e^(−dt/τ) for this step),
    /// hysteresis and ageing. Temperatures and voltages follow in [`Cells::set_temperatures`].
    pub(crate) fn advance(
        &mut self,
        model: &CellModel,
        current_a: f64,
        extra_a: &Lanes,
        dt_secs: f64,
        decays: (f64, f64),
    ) {
        let n = self.len.min(MAX_CELLS);
        let p = &model.params;
        let (d1, d2) = decays;
        let d = &self.derived;
        for i in 0..n {
            let current = current_a + extra_a[i];
            let capacity = d.capacity_ah[i];
            let stored_a = if current > 0.0 {
                current * p.coulombic_efficiency
            } else {
                current
            };
            let self_discharge_a =
                self.self_discharge_per_sec[i] * capacity * 3600.0 + self.internal_short_a[i];
            let delta_ah = (stored_a - self_discharge_a) * dt_secs * HOURS_PER_SEC;
            self.charge_ah[i] += delta_ah;

            // RC pairs, exact for a current held over the step, resistances at temperature.
            let rf = d.resistance_factor[i];
            let v1 = self.v_rc1[i] * d1 + self.r1_new_ohm[i] * rf * current * (1.0 - d1);
            let v2 = self.v_rc2[i] * d2 + self.r2_new_ohm[i] * rf * current * (1.0 - d2);
            // A pair relaxing without current for hours would decay into subnormal numbers,
            // which cost a hundred times as much to compute with: below a femtovolt it is 0.
            self.v_rc1[i] = if v1.abs() < NEGLIGIBLE_V { 0.0 } else { v1 };
            self.v_rc2[i] = if v2.abs() < NEGLIGIBLE_V { 0.0 } else { v2 };

            // One-state hysteresis: moves towards ±1 with the SOC moved in that direction (in
            // a loop of its own below).
            let moved_ah = (current * dt_secs * HOURS_PER_SEC).abs();
            self.scratch[i] = p.hysteresis_rate * moved_ah * d.inv_capacity[i];

            // Ageing: calendar time weighted by SOC and temperature stress (squared, because
            // fade grows with √t), throughput for cycling.
            let soc = (self.charge_ah[i] * d.inv_capacity[i]).clamp(0.0, 1.0);
            let soc_stress = if soc > 0.5 {
                1.0 + (p.calendar_high_soc_factor - 1.0) * (soc - 0.5) * 2.0
            } else {
                1.0 - 0.4 * (0.5 - soc) * 2.0
            };
            let stress = soc_stress * d.inv_arrhenius[i];
            self.calendar_equivalent_days[i] += dt_secs * DAYS_PER_SEC * stress * stress;
            self.age_days[i] += dt_secs * DAYS_PER_SEC;
            self.throughput_ah[i] += moved_ah;
            self.current_a[i] = current;
        }
        // e^(−x) is needed only for a step far longer or stronger than a second's.
        if self.scratch[..n]
            .iter()
            .all(|&x| x < HYSTERESIS_SERIES_BELOW)
        {
            self.move_hysteresis(hysteresis_series);
        } else {
            self.move_hysteresis(hysteresis_decay);
        }
    }

    /// Moves every cell's hysteresis towards the direction of its current by `decay(x)` of
    /// the way, with `x` from [`Cells::advance`]; a cell without current keeps its state.
    #[inline(always)]
    fn move_hysteresis(&mut self, decay: impl Fn(f64) -> f64) {
        let n = self.len.min(MAX_CELLS);
        for i in 0..n {
            let current = self.current_a[i];
            let k = decay(self.scratch[i]);
            let moved = k * self.hysteresis[i] + (1.0 - k) * current.signum();
            self.hysteresis[i] = if current != 0.0 {
                moved
            } else {
                self.hysteresis[i]
            };
        }
    }

    /// Sets every cell's temperature (`temperatures_c`, °C, cell 1 first), updates what depends
    /// on it where it has moved enough to matter, and every cell's terminal voltage.
    pub(crate) fn set_temperatures(&mut self, model: &CellModel, temperatures_c: &Lanes) {
        let n = self.len.min(MAX_CELLS);
        let mut moved = 0_u64;
        for i in 0..n {
            let t = temperatures_c[i];
            self.temperature_c[i] = t;
            // As in `refresh_thermal`: a NaN (never computed) counts as moved.
            let stays = (t - self.derived.at_c[i]).abs() < THERMAL_REFRESH_K;
            moved |= u64::from(!stays) << i;
        }
        while moved != 0 {
            let i = moved.trailing_zeros() as usize;
            moved &= moved - 1;
            self.refresh_thermal(i, model);
        }
        let d = &self.derived;
        // The cold's "emptier under load" needs two divisions a cell; most steps no cell is
        // both discharging and cold, and the SOC is all the OCV sees.
        let any_cold_load = (0..n).any(|i| !(self.current_a[i] >= 0.0 || d.accessible[i] >= 1.0));
        if any_cold_load {
            for i in 0..n {
                self.scratch[i] = ocv_soc(
                    self.charge_ah[i],
                    self.current_a[i],
                    d.capacity_ah[i],
                    d.inv_capacity[i],
                    d.accessible[i],
                );
            }
        } else {
            for i in 0..n {
                self.scratch[i] = self.charge_ah[i] * d.inv_capacity[i];
            }
        }
        for i in 0..n {
            self.voltage[i] = self.terminal_v(i, model, self.scratch[i]);
        }
    }

    /// Every cell's heat from current and injected faults, W, into `out` (cell 1 first).
    pub(crate) fn heats_w(&self, out: &mut Lanes) {
        let n = self.len.min(MAX_CELLS);
        let d = &self.derived;
        for i in 0..n {
            let current = self.current_a[i];
            out[i] = current * current * self.r0(i)
                + self.v_rc1[i] * self.v_rc1[i] * d.conductance1[i]
                + self.v_rc2[i] * self.v_rc2[i] * d.conductance2[i]
                + self.extra_heat_w[i];
        }
    }
}

/// The SOC a cell's OCV sees (see [`Cells::ocv_soc`]); written for any cell so that the voltage
/// stage computes it across the string at once.
#[inline(always)]
fn ocv_soc(
    charge_ah: f64,
    current_a: f64,
    capacity_ah: f64,
    inv_capacity: f64,
    accessible: f64,
) -> f64 {
    let soc = charge_ah * inv_capacity;
    let load = (-current_a / (0.1 * capacity_ah)).min(1.0);
    let cold_soc = 1.0 - (1.0 - soc) / accessible;
    let emptier = soc + load * (cold_soc.max(0.0).min(soc) - soc);
    if current_a >= 0.0 || accessible >= 1.0 {
        soc
    } else {
        emptier
    }
}

/// Arrhenius factor of resistances at `temperature_c` (1 at 25 °C).
fn arrhenius(model: &CellModel, temperature_c: f64) -> f64 {
    let t_k = temperature_c + 273.15;
    (model.params.activation_energy_j_per_mol / GAS_CONSTANT * (1.0 / t_k - 1.0 / T_REF_K)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> CellParams {
        CellParams::lfp_280ah().unwrap()
    }

    fn model() -> CellModel {
        CellModel::new(params())
    }

    /// One cell of 280 Ah at `soc` and `t` °C, on its own.
    fn cell(soc: f64, t: f64) -> Cells {
        let mut cells = Cells::new();
        cells.push(280.0, 1.0, 0.0, &model(), soc, t);
        cells
    }

    /// A step of every cell of `c` at `current_a` for `dt_secs`, its temperature held: the
    /// charge and dynamics advance, then everything derived follows at once (a pack refreshes
    /// ageing once a minute instead).
    fn step(c: &mut Cells, p: &CellModel, current_a: f64, dt_secs: f64) {
        let decays = (
            (-dt_secs / p.params.tau1_secs).exp(),
            (-dt_secs / p.params.tau2_secs).exp(),
        );
        c.advance(p, current_a, &[0.0; MAX_CELLS], dt_secs, decays);
        for i in 0..c.len() {
            c.refresh(i, p);
        }
    }

    #[test]
    fn years_in_service_fade_the_cell_and_grow_its_resistance_at_its_soc() {
        let m = model();
        let mut c = cell(0.6, 25.0);
        let r0_new = c.r0_ohm(0).unwrap();
        c.age_in_service(0, 5.0, &m);
        let five = (
            c.capacity_ah(0).unwrap() / 280.0,
            c.r0_ohm(0).unwrap() / r0_new,
        );
        assert!((0.87..0.89).contains(&five.0), "{five:?}");
        assert!((1.22..1.26).contains(&five.1), "{five:?}");
        assert!((c.soc(0).unwrap() - 0.6).abs() < 1e-12, "its SOC stays");
        c.age_in_service(0, 5.0, &m);
        let ten = c.capacity_ah(0).unwrap() / 280.0;
        assert!((0.80..0.82).contains(&ten), "{ten}");
        // No years, or none negative, change nothing.
        let before = c.capacity_ah(0);
        c.age_in_service(0, 0.0, &m);
        c.age_in_service(0, -3.0, &m);
        assert_eq!(c.capacity_ah(0), before);
    }

    #[test]
    fn the_parameter_file_loads_and_bad_files_say_where() {
        let p = params();
        assert_eq!(p.capacity_ah, 280.0);
        assert_eq!(p.ocv.len(), 21);
        let err = CellParams::from_json("{\"capacity_ah\": 280,\n \"r0_ohm\": \"x\"}").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let mut bad = LFP_280AH_JSON.replace(
            "\"coulombic_efficiency\": 0.999",
            "\"coulombic_efficiency\": 2",
        );
        assert!(
            CellParams::from_json(&bad)
                .unwrap_err()
                .to_string()
                .contains("coulombic_efficiency")
        );
        for (table, says) in [
            ("[40, -0.06], [30, -0.02]", "must rise in SOC"),
            ("[40, -0.06], [60, 9.0]", "within ±5"),
        ] {
            let bad = LFP_280AH_JSON.replace("[40, -0.06], [60, -0.02]", table);
            let err = CellParams::from_json(&bad).unwrap_err().to_string();
            assert!(
                err.contains("ocv_temperature_coefficient") && err.contains(says),
                "{err}"
            );
        }
        bad = LFP_280AH_JSON.replace("[45, 3.264]", "[45, 3.100]");
        assert!(
            CellParams::from_json(&bad)
                .unwrap_err()
                .to_string()
                .contains("never fall")
        );
    }

    /// OCV(SOC, T): the 25 °C curve plus the coefficient times the distance from 25 °C, the
    /// coefficient interpolated in SOC and held beyond its ends; without one, no dependence.
    #[test]
    fn the_ocv_moves_with_temperature_by_its_coefficient() {
        let curve = model();
        // −0.15 mV/K at 20 %: 35 K colder reads 5.25 mV higher.
        let v25 = curve.ocv_v(0.2, 25.0);
        assert!((curve.ocv_v(0.2, -10.0) - v25 - 0.005_25).abs() < 1e-12);
        // Half-way between −0.06 (40 %) and −0.02 mV/K (60 %), 20 K warmer.
        let mid = curve.ocv_v(0.5, 45.0) - curve.ocv_v(0.5, 25.0);
        assert!((mid + 0.000_8).abs() < 1e-12, "{mid}");
        // Beyond 100 % the last coefficient holds.
        let over = curve.ocv_v(1.05, 35.0) - curve.ocv_v(1.05, 25.0);
        assert!((over - 0.000_2).abs() < 1e-12, "{over}");
        let mut p = params();
        p.ocv_temperature_coefficient.clear();
        let flat = CellModel::new(p);
        assert_eq!(flat.ocv_v(0.2, -10.0), flat.ocv_v(0.2, 25.0));
        assert_eq!(flat.ocv_v(0.2, 25.0), v25);
    }

    #[test]
    fn ocv_matches_the_table_extends_steeply_and_never_falls() {
        let curve = model();
        assert!((curve.ocv_v(0.5, 25.0) - 3.265).abs() < 1e-9);
        assert!((curve.ocv_v(0.525, 25.0) - 3.2665).abs() < 1e-9);
        assert!((curve.ocv_v(1.0, 25.0) - 3.392).abs() < 1e-9);
        assert!(curve.ocv_v(1.02, 25.0) > 3.65);
        assert!(curve.ocv_v(-0.02, 25.0) < 2.5);
        let mut last = 0.0;
        for i in -200..=1200 {
            let v = curve.ocv_v(f64::from(i) / 1000.0, 25.0);
            assert!(v >= last, "OCV falls at soc {i}‰");
            last = v;
        }
    }

    #[test]
    fn one_hour_at_one_c_moves_the_whole_capacity_minus_efficiency() {
        let p = model();
        let mut c = cell(0.0, 25.0);
        for _ in 0..3600 {
            step(&mut c, &p, 280.0, 1.0);
        }
        assert!((c.charge_ah(0).unwrap() - 280.0 * 0.999).abs() < 1e-6);
        for _ in 0..3600 {
            step(&mut c, &p, -280.0, 1.0);
        }
        assert!((c.charge_ah(0).unwrap() + 280.0 * 0.001).abs() < 1e-6);
    }

    #[test]
    fn resistance_doubles_at_zero_degrees() {
        let ratio = cell(0.5, 0.0).r0_ohm(0).unwrap() / cell(0.5, 25.0).r0_ohm(0).unwrap();
        assert!((2.0..2.3).contains(&ratio), "{ratio}");
    }

    #[test]
    fn the_cold_cell_looks_emptier_under_load_but_not_at_rest() {
        let p = model();
        let at_rest = |t| cell(0.3, t).voltage_v(0).unwrap();
        // At rest only the OCV's temperature coefficient moves it (−0.105 mV/K at 30 %: 4.7 mV
        // higher 45 K colder), not the cold's "emptier".
        assert!(
            (at_rest(-20.0) - p.ocv_v(0.3, -20.0)).abs() < 1e-9
                && (at_rest(-20.0) - at_rest(25.0) - 0.004_725).abs() < 1e-9,
            "rested: {} V cold, {} V at 25 °C",
            at_rest(-20.0),
            at_rest(25.0)
        );
        let loaded = |t| {
            let mut c = cell(0.3, t);
            step(&mut c, &p, -56.0, 1.0);
            c.voltage_v(0).unwrap()
        };
        let (warm, cold) = (loaded(25.0), loaded(-20.0));
        // At −20 °C only half the capacity is accessible: 30 % looks empty under 0.2 C.
        assert!(cold < warm - 0.3, "{cold} vs {warm}");
        assert!(cold > 2.0, "a sag, not a collapse: {cold}");
    }

    #[test]
    fn hysteresis_follows_the_current_direction_and_persists_at_rest() {
        let p = model();
        let rest = |c: &mut Cells| {
            for _ in 0..20_000 {
                step(c, &p, 0.0, 1.0);
            }
        };
        // Reach 55 % SOC once from below and once from above, then rest for hours.
        let mut up = cell(0.50, 25.0);
        for _ in 0..1800 {
            step(&mut up, &p, 28.0, 1.0);
        }
        assert!(up.hysteresis[0] > 0.85, "{}", up.hysteresis[0]);
        rest(&mut up);
        let mut down = cell(0.60, 25.0);
        for _ in 0..1800 {
            step(&mut down, &p, -28.0, 1.0);
        }
        assert!(down.hysteresis[0] < -0.85, "{}", down.hysteresis[0]);
        rest(&mut down);
        assert!((up.soc(0).unwrap() - down.soc(0).unwrap()).abs() < 0.001);
        // Same SOC, rested: the charged-side voltage sits ≈ 2 × 7.5 mV × 0.86 higher.
        let gap = up.voltage_v(0).unwrap() - down.voltage_v(0).unwrap();
        assert!((gap - 0.013).abs() < 0.002, "{gap}");
    }

    /// Resting without current for a day, the RC pairs relax to exactly 0 V, never into
    /// subnormal numbers (a pack whose switches stay open did, and every step after cost a
    /// hundred times as much).
    #[test]
    fn a_rested_cell_relaxes_to_exactly_zero() {
        let p = model();
        let mut c = cell(0.5, 25.0);
        for _ in 0..600 {
            step(&mut c, &p, -100.0, 1.0);
        }
        assert!(c.v_rc1[0] < -0.01);
        for _ in 0..86_400 {
            step(&mut c, &p, 0.0, 1.0);
            for v in [c.v_rc1[0], c.v_rc2[0]] {
                assert!(v == 0.0 || v.is_normal(), "{v:e} V");
            }
        }
        assert_eq!(c.v_rc1[0], 0.0);
    }

    #[test]
    fn self_discharge_is_two_percent_a_month() {
        let p = model();
        let mut c = Cells::new();
        c.push(280.0, 1.0, 2.0, &p, 0.5, 25.0);
        for _ in 0..30 * 24 {
            step(&mut c, &p, 0.0, 3600.0);
        }
        let lost = 0.5 - c.charge_ah(0).unwrap() / 280.0;
        assert!((0.019..0.0205).contains(&lost), "{lost}");
    }

    #[test]
    fn a_year_at_25_degrees_and_half_charge_fades_two_percent() {
        let p = model();
        let mut c = cell(0.5, 25.0);
        for _ in 0..365 {
            step(&mut c, &p, 0.0, 86_400.0);
        }
        assert!(
            (c.fade(0, &p).unwrap() - 0.02).abs() < 0.001,
            "{}",
            c.fade(0, &p).unwrap()
        );
        let mut full = cell(1.0, 25.0);
        for _ in 0..365 {
            step(&mut full, &p, 0.0, 86_400.0);
        }
        // 2.75× at full charge; the half-charged cell's SOC creeps up as its capacity fades,
        // which ages it a little faster, so the ratio lands just under 2.75.
        let ratio = full.fade(0, &p).unwrap() / c.fade(0, &p).unwrap();
        assert!((2.6..=2.75).contains(&ratio), "{ratio}");
        let mut hot = cell(0.5, 45.0);
        for _ in 0..365 {
            step(&mut hot, &p, 0.0, 86_400.0);
        }
        assert!(hot.fade(0, &p).unwrap() > 1.5 * c.fade(0, &p).unwrap());
    }

    #[test]
    fn cycling_fades_twenty_percent_over_six_thousand_cycles() {
        let p = model();
        let mut c = cell(0.5, 25.0);
        c.throughput_ah[0] = 6_000.0 * 2.0 * 280.0;
        step(&mut c, &p, 0.0, 0.0);
        assert!((c.fade(0, &p).unwrap() - 0.20).abs() < 1e-9);
        assert!(c.r0_ohm(0).unwrap() > 1.35 * cell(0.5, 25.0).r0_ohm(0).unwrap());
    }
}
