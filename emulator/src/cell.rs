//! One LiFePO4 cell as an equivalent circuit: OCV(SOC) from a table plus a one-state OCV
//! hysteresis, a series resistance R0 and two RC pairs, all resistances Arrhenius in temperature,
//! reduced accessible capacity in the cold, coulombic efficiency, self-discharge, and ageing
//! (capacity fade and resistance growth from calendar time and charge throughput).
//!
//! Parameters come from a JSON parameter file (`emulator/params/lfp_280ah.json`, documented in
//! `emulator/params/README.md`). Current is positive when charging.

use crate::Error;
use serde::Deserialize;

/// Gas constant, J/(mol·K).
const GAS_CONSTANT: f64 = 8.314;
/// Reference temperature of the parameters, K (25 °C).
const T_REF_K: f64 = 298.15;
/// Hours per second.
const HOURS_PER_SEC: f64 = 1.0 / 3600.0;
/// Days per second.
const DAYS_PER_SEC: f64 = 1.0 / 86_400.0;
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

/// Temperature change that refreshes the temperature-dependent quantities, K. Resistances move
/// about 0.03 % per 0.01 K, well below anything a sensor or the engine resolves.
const THERMAL_REFRESH_K: f64 = 0.01;

/// A cell type ready to simulate: its parameters, its OCV(SOC) curve extended beyond 0 % and
/// 100 % with steep segments (so over-charge and over-discharge behave like a real cell's knee),
/// and its accessible-capacity-by-temperature table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellModel {
    /// The parameters.
    pub params: CellParams,
    /// The extended OCV curve sampled on a uniform SOC grid, for a lookup without a search.
    ocv_grid: Vec<f64>,
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
        let ocv_grid = (0..points)
            .map(|k| interpolate(&ocv, ocv_grid_start + k as f64 / OCV_GRID_PER_UNIT))
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

    /// Rested OCV at `soc` (fraction), V; clamped beyond the extended curve's ends.
    pub fn ocv_v(&self, soc: f64) -> f64 {
        let x = (soc - self.ocv_grid_start) * OCV_GRID_PER_UNIT;
        let first = self.ocv_grid.first().copied().unwrap_or_default();
        if x.is_nan() || x <= 0.0 {
            return first;
        }
        // Through u32: x86-64 has no unsigned 64-bit conversion, so `as usize` costs two
        // paths; a grid never has 4 billion points (beyond it, `get` finds none).
        let i = x as u32 as usize;
        match (self.ocv_grid.get(i), self.ocv_grid.get(i + 1)) {
            (Some(a), Some(b)) => a + (x - i as f64) * (b - a),
            _ => self.ocv_grid.last().copied().unwrap_or(first),
        }
    }

    /// Accessible fraction of the capacity at `temperature_c`.
    pub fn accessible(&self, temperature_c: f64) -> f64 {
        interpolate(&self.accessible, temperature_c).clamp(0.05, 1.0)
    }
}

/// A cell's own (spread) parameters and true state.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Capacity when new, Ah (after manufacturing spread).
    pub capacity_new_ah: f64,
    /// Resistances when new at 25 °C, Ω (after spread).
    pub r0_new_ohm: f64,
    /// First RC resistance when new, Ω.
    pub r1_new_ohm: f64,
    /// Second RC resistance when new, Ω.
    pub r2_new_ohm: f64,
    /// Self-discharge, fraction of capacity per second.
    pub self_discharge_per_sec: f64,
    /// Stored charge, Ah (SOC = stored / present capacity).
    pub charge_ah: f64,
    /// Voltage across the first RC pair, V.
    pub v_rc1: f64,
    /// Voltage across the second RC pair, V.
    pub v_rc2: f64,
    /// Hysteresis state, −1 (discharged side) … +1 (charged side).
    pub hysteresis: f64,
    /// Cell temperature, °C.
    pub temperature_c: f64,
    /// Current in the last step, A.
    pub current_a: f64,
    /// Stress-weighted calendar time, days (calendar fade ∝ √t of it).
    pub calendar_equivalent_days: f64,
    /// Charge moved in and out since new, Ah.
    pub throughput_ah: f64,
    /// Time simulated since the start, days.
    pub age_days: f64,
    /// Extra self-discharge current from an internal short, A (fault injection).
    pub internal_short_a: f64,
    /// Extra ohmic resistance (fault injection), Ω.
    pub extra_r0_ohm: f64,
    /// Extra heat from a thermal-runaway precursor (fault injection), W.
    pub extra_heat_w: f64,
    /// What the slow processes have made of the cell, refreshed by [`Cell::refresh`] and, for
    /// the temperature, whenever it has moved by [`THERMAL_REFRESH_K`].
    derived: Derived,
    /// Terminal voltage as of the last step, V.
    voltage: f64,
}

/// Quantities that change slowly (with temperature and age) and are costly to compute, kept so
/// that a step is only multiplications and one table lookup.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Derived {
    /// Temperature the thermal quantities were computed at, °C.
    at_c: f64,
    /// Arrhenius factor of the resistances (1 at 25 °C).
    arrhenius: f64,
    /// Its inverse, the temperature stress of calendar ageing.
    inv_arrhenius: f64,
    /// Accessible fraction of the capacity at this temperature.
    accessible: f64,
    /// Capacity fade, fraction of the new capacity.
    fade: f64,
    /// Present capacity at 25 °C, Ah.
    capacity_ah: f64,
    /// Its inverse, 1/Ah.
    inv_capacity: f64,
    /// Resistance factor: temperature times ageing.
    resistance_factor: f64,
    /// 1 / (R1 · factor) and 1 / (R2 · factor), for the RC pairs' heat, 1/Ω.
    rc_conductance: (f64, f64),
}

impl Cell {
    /// A rested cell at `soc` (fraction) and `temperature_c`.
    pub fn new(
        capacity_ah: f64,
        resistance_factor: f64,
        self_discharge_pct_per_month: f64,
        model: &CellModel,
        soc: f64,
        temperature_c: f64,
    ) -> Self {
        let params = &model.params;
        let mut cell = Cell {
            capacity_new_ah: capacity_ah,
            r0_new_ohm: params.r0_ohm * resistance_factor,
            r1_new_ohm: params.r1_ohm * resistance_factor,
            r2_new_ohm: params.r2_ohm * resistance_factor,
            self_discharge_per_sec: (self_discharge_pct_per_month / 100.0).max(0.0)
                / SECS_PER_MONTH,
            charge_ah: soc * capacity_ah,
            v_rc1: 0.0,
            v_rc2: 0.0,
            hysteresis: 0.0,
            temperature_c,
            current_a: 0.0,
            calendar_equivalent_days: 0.0,
            throughput_ah: 0.0,
            age_days: 0.0,
            internal_short_a: 0.0,
            extra_r0_ohm: 0.0,
            extra_heat_w: 0.0,
            derived: Derived {
                at_c: f64::NAN,
                arrhenius: 1.0,
                inv_arrhenius: 1.0,
                accessible: 1.0,
                fade: 0.0,
                capacity_ah,
                inv_capacity: capacity_ah.recip(),
                resistance_factor: 1.0,
                rc_conductance: (0.0, 0.0),
            },
            voltage: 0.0,
        };
        cell.refresh(model);
        cell
    }

    /// Recomputes everything derived from temperature, age and the cell's own parameters, then
    /// the terminal voltage. Call it after changing a public parameter (fault injection); a
    /// pack calls it about once a minute for ageing.
    pub fn refresh(&mut self, model: &CellModel) {
        self.derived.at_c = f64::NAN;
        self.refresh_ageing(model);
        self.refresh_thermal(model);
        self.refresh_voltage(model);
    }

    /// Capacity fade and what follows from it (capacity, resistance growth).
    pub(crate) fn refresh_ageing(&mut self, model: &CellModel) {
        let fade = self.fade(model);
        self.derived.fade = fade;
        self.derived.capacity_ah = self.capacity_new_ah * (1.0 - fade);
        self.derived.inv_capacity = self.derived.capacity_ah.recip();
        self.refresh_resistances(model);
    }

    /// The temperature-dependent quantities, when the temperature has moved enough to matter.
    fn refresh_thermal(&mut self, model: &CellModel) {
        let moved = (self.temperature_c - self.derived.at_c).abs();
        if moved < THERMAL_REFRESH_K {
            return;
        }
        self.derived.at_c = self.temperature_c;
        self.derived.arrhenius = self.arrhenius(model);
        self.derived.inv_arrhenius = self.derived.arrhenius.recip();
        self.derived.accessible = model.accessible(self.temperature_c);
        self.refresh_resistances(model);
    }

    fn refresh_resistances(&mut self, model: &CellModel) {
        let d = &mut self.derived;
        d.resistance_factor =
            d.arrhenius * (1.0 + model.params.resistance_growth_per_fade * d.fade);
        d.rc_conductance = (
            (self.r1_new_ohm * d.resistance_factor).recip(),
            (self.r2_new_ohm * d.resistance_factor).recip(),
        );
    }

    fn refresh_voltage(&mut self, model: &CellModel) {
        self.voltage = model.ocv_v(self.ocv_soc())
            + model.params.hysteresis_v * self.hysteresis
            + self.current_a * self.r0_ohm(model)
            + self.v_rc1
            + self.v_rc2;
    }

    /// Capacity fade so far, fraction of the new capacity (computed now, not cached).
    pub fn fade(&self, model: &CellModel) -> f64 {
        let calendar = model.params.calendar_fade_per_year
            * (self.calendar_equivalent_days / 365.0).max(0.0).sqrt();
        let cycles = self.throughput_ah / (2.0 * self.capacity_new_ah);
        let cycle = model.params.cycle_fade_at_eol * cycles / model.params.cycles_to_eol;
        let extra = model.params.extra_fade_per_year * self.age_days / 365.0;
        (calendar + cycle + extra).min(0.9)
    }

    /// Present capacity at 25 °C, Ah (as of the last ageing refresh).
    pub fn capacity_ah(&self, _model: &CellModel) -> f64 {
        self.derived.capacity_ah
    }

    /// State of charge, fraction of the present capacity.
    pub fn soc(&self, _model: &CellModel) -> f64 {
        self.charge_ah * self.derived.inv_capacity
    }

    /// Arrhenius factor of resistances at the cell's temperature (1 at 25 °C).
    fn arrhenius(&self, model: &CellModel) -> f64 {
        let t_k = self.temperature_c + 273.15;
        (model.params.activation_energy_j_per_mol / GAS_CONSTANT * (1.0 / t_k - 1.0 / T_REF_K))
            .exp()
    }

    /// Ohmic resistance at 25 °C with ageing and injected faults, Ω.
    pub fn r0_at_25c_ohm(&self, model: &CellModel) -> f64 {
        let ageing = 1.0 + model.params.resistance_growth_per_fade * self.derived.fade;
        self.r0_new_ohm * ageing + self.extra_r0_ohm
    }

    /// Ohmic resistance now (temperature, ageing and injected faults included), Ω.
    pub fn r0_ohm(&self, _model: &CellModel) -> f64 {
        self.r0_new_ohm * self.derived.resistance_factor + self.extra_r0_ohm
    }

    /// SOC the OCV sees. In the cold only part of the charge is accessible *under load*: while
    /// discharging (fully from 0.1 C) the cell looks emptier by the capacity-vs-temperature
    /// factor and reaches its cut-off sooner; at rest it shows its true OCV.
    fn ocv_soc(&self) -> f64 {
        let d = &self.derived;
        let soc = self.charge_ah * d.inv_capacity;
        if self.current_a >= 0.0 || d.accessible >= 1.0 {
            return soc;
        }
        let load = (-self.current_a / (0.1 * d.capacity_ah)).min(1.0);
        let cold_soc = 1.0 - (1.0 - soc) / d.accessible;
        soc + load * (cold_soc.max(0.0).min(soc) - soc)
    }

    /// Passes `current_a` (positive = charge) for `dt_secs`.
    pub fn step(&mut self, model: &CellModel, current_a: f64, dt_secs: f64) {
        let decays = (
            (-dt_secs / model.params.tau1_secs).exp(),
            (-dt_secs / model.params.tau2_secs).exp(),
        );
        self.advance(model, current_a, dt_secs, decays);
        self.refresh(model);
    }

    /// [`Cell::step`] without the refresh, for a pack that sets the temperature (and so the
    /// voltage) right after and refreshes ageing on its own schedule; `decays` are the RC
    /// pairs' e^(−dt/τ) for this step.
    pub(crate) fn advance(
        &mut self,
        model: &CellModel,
        current_a: f64,
        dt_secs: f64,
        decays: (f64, f64),
    ) {
        let p = &model.params;
        let capacity = self.derived.capacity_ah;
        let stored_a = if current_a > 0.0 {
            current_a * p.coulombic_efficiency
        } else {
            current_a
        };
        let self_discharge_a =
            self.self_discharge_per_sec * capacity * 3600.0 + self.internal_short_a;
        let delta_ah = (stored_a - self_discharge_a) * dt_secs * HOURS_PER_SEC;
        self.charge_ah += delta_ah;

        // RC pairs, exact for a current held over the step, resistances at temperature.
        let rf = self.derived.resistance_factor;
        let (d1, d2) = decays;
        self.v_rc1 = self.v_rc1 * d1 + self.r1_new_ohm * rf * current_a * (1.0 - d1);
        self.v_rc2 = self.v_rc2 * d2 + self.r2_new_ohm * rf * current_a * (1.0 - d2);

        // One-state hysteresis: moves towards ±1 with the SOC moved in that direction.
        let moved_ah = (current_a * dt_secs * HOURS_PER_SEC).abs();
        if current_a != 0.0 {
            let x = p.hysteresis_rate * moved_ah * self.derived.inv_capacity;
            // e^(−x); per-second steps move x ≈ 0.004, where the series is exact to 1e-9.
            let k = if x < 0.01 {
                1.0 - x + 0.5 * x * x
            } else {
                (-x).exp()
            };
            self.hysteresis = k * self.hysteresis + (1.0 - k) * current_a.signum();
        }

        // Ageing: calendar time weighted by SOC and temperature stress (squared, because fade
        // grows with √t), throughput for cycling.
        let soc = (self.charge_ah * self.derived.inv_capacity).clamp(0.0, 1.0);
        let soc_stress = if soc > 0.5 {
            1.0 + (p.calendar_high_soc_factor - 1.0) * (soc - 0.5) * 2.0
        } else {
            1.0 - 0.4 * (0.5 - soc) * 2.0
        };
        let stress = soc_stress * self.derived.inv_arrhenius;
        self.calendar_equivalent_days += dt_secs * DAYS_PER_SEC * stress * stress;
        self.age_days += dt_secs * DAYS_PER_SEC;
        self.throughput_ah += moved_ah;
        self.current_a = current_a;
    }

    /// Sets the cell's temperature (the pack's thermal model) and updates what depends on it
    /// and the terminal voltage.
    pub fn set_temperature(&mut self, model: &CellModel, temperature_c: f64) {
        self.temperature_c = temperature_c;
        self.refresh_thermal(model);
        self.refresh_voltage(model);
    }

    /// Terminal voltage as of the last step, V.
    pub fn voltage_v(&self, _model: &CellModel) -> f64 {
        self.voltage
    }

    /// Heat generated in the cell by current and injected faults, W.
    pub fn heat_w(&self, model: &CellModel) -> f64 {
        let (g1, g2) = self.derived.rc_conductance;
        self.current_a * self.current_a * self.r0_ohm(model)
            + self.v_rc1 * self.v_rc1 * g1
            + self.v_rc2 * self.v_rc2 * g2
            + self.extra_heat_w
    }
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

    fn cell(soc: f64, t: f64) -> Cell {
        Cell::new(280.0, 1.0, 0.0, &model(), soc, t)
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
        bad = LFP_280AH_JSON.replace("[45, 3.264]", "[45, 3.100]");
        assert!(
            CellParams::from_json(&bad)
                .unwrap_err()
                .to_string()
                .contains("never fall")
        );
    }

    #[test]
    fn ocv_matches_the_table_extends_steeply_and_never_falls() {
        let curve = model();
        assert!((curve.ocv_v(0.5) - 3.265).abs() < 1e-9);
        assert!((curve.ocv_v(0.525) - 3.2665).abs() < 1e-9);
        assert!((curve.ocv_v(1.0) - 3.392).abs() < 1e-9);
        assert!(curve.ocv_v(1.02) > 3.65);
        assert!(curve.ocv_v(-0.02) < 2.5);
        let mut last = 0.0;
        for i in -200..=1200 {
            let v = curve.ocv_v(f64::from(i) / 1000.0);
            assert!(v >= last, "OCV falls at soc {i}‰");
            last = v;
        }
    }

    #[test]
    fn one_hour_at_one_c_moves_the_whole_capacity_minus_efficiency() {
        let p = model();
        let mut c = cell(0.0, 25.0);
        for _ in 0..3600 {
            c.step(&p, 280.0, 1.0);
        }
        assert!((c.charge_ah - 280.0 * 0.999).abs() < 1e-6);
        for _ in 0..3600 {
            c.step(&p, -280.0, 1.0);
        }
        assert!((c.charge_ah + 280.0 * 0.001).abs() < 1e-6);
    }

    #[test]
    fn resistance_doubles_at_zero_degrees() {
        let p = model();
        let ratio = cell(0.5, 0.0).r0_ohm(&p) / cell(0.5, 25.0).r0_ohm(&p);
        assert!((2.0..2.3).contains(&ratio), "{ratio}");
    }

    #[test]
    fn the_cold_cell_looks_emptier_under_load_but_not_at_rest() {
        let p = model();
        let at_rest = |t| cell(0.3, t).voltage_v(&p);
        assert!(
            (at_rest(-20.0) - at_rest(25.0)).abs() < 1e-9,
            "rested OCV does not move"
        );
        let loaded = |t| {
            let mut c = cell(0.3, t);
            c.step(&p, -56.0, 1.0);
            c.voltage_v(&p)
        };
        let (warm, cold) = (loaded(25.0), loaded(-20.0));
        // At −20 °C only half the capacity is accessible: 30 % looks empty under 0.2 C.
        assert!(cold < warm - 0.3, "{cold} vs {warm}");
        assert!(cold > 2.0, "a sag, not a collapse: {cold}");
    }

    #[test]
    fn hysteresis_follows_the_current_direction_and_persists_at_rest() {
        let p = model();
        let rest = |c: &mut Cell| {
            for _ in 0..20_000 {
                c.step(&p, 0.0, 1.0);
            }
        };
        // Reach 55 % SOC once from below and once from above, then rest for hours.
        let mut up = cell(0.50, 25.0);
        for _ in 0..1800 {
            up.step(&p, 28.0, 1.0);
        }
        assert!(up.hysteresis > 0.85, "{}", up.hysteresis);
        rest(&mut up);
        let mut down = cell(0.60, 25.0);
        for _ in 0..1800 {
            down.step(&p, -28.0, 1.0);
        }
        assert!(down.hysteresis < -0.85, "{}", down.hysteresis);
        rest(&mut down);
        assert!((up.soc(&p) - down.soc(&p)).abs() < 0.001);
        // Same SOC, rested: the charged-side voltage sits ≈ 2 × 7.5 mV × 0.86 higher.
        let gap = up.voltage_v(&p) - down.voltage_v(&p);
        assert!((gap - 0.013).abs() < 0.002, "{gap}");
    }

    #[test]
    fn self_discharge_is_two_percent_a_month() {
        let p = model();
        let mut c = Cell::new(280.0, 1.0, 2.0, &p, 0.5, 25.0);
        c.calendar_equivalent_days = 0.0;
        for _ in 0..30 * 24 {
            c.step(&p, 0.0, 3600.0);
        }
        let lost = 0.5 - c.charge_ah / 280.0;
        assert!((0.019..0.0205).contains(&lost), "{lost}");
    }

    #[test]
    fn a_year_at_25_degrees_and_half_charge_fades_two_percent() {
        let p = model();
        let mut c = cell(0.5, 25.0);
        for _ in 0..365 {
            c.step(&p, 0.0, 86_400.0);
        }
        assert!((c.fade(&p) - 0.02).abs() < 0.001, "{}", c.fade(&p));
        let mut full = cell(1.0, 25.0);
        for _ in 0..365 {
            full.step(&p, 0.0, 86_400.0);
        }
        // 2.75× at full charge; the half-charged cell's SOC creeps up as its capacity fades,
        // which ages it a little faster, so the ratio lands just under 2.75.
        let ratio = full.fade(&p) / c.fade(&p);
        assert!((2.6..=2.75).contains(&ratio), "{ratio}");
        let mut hot = cell(0.5, 45.0);
        for _ in 0..365 {
            hot.step(&p, 0.0, 86_400.0);
        }
        assert!(hot.fade(&p) > 1.5 * c.fade(&p));
    }

    #[test]
    fn cycling_fades_twenty_percent_over_six_thousand_cycles() {
        let p = model();
        let mut c = cell(0.5, 25.0);
        c.throughput_ah = 6_000.0 * 2.0 * 280.0;
        c.step(&p, 0.0, 0.0);
        assert!((c.fade(&p) - 0.20).abs() < 1e-9);
        assert!(c.r0_ohm(&p) > 1.35 * cell(0.5, 25.0).r0_ohm(&p));
    }
}
