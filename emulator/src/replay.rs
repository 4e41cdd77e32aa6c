//! `emulator replay`: the engine on recorded measurements instead of the emulated pack.
//!
//! Input is a CSV with a header naming `time_s`, `current_a` (positive when charging),
//! `cell1_v` … `cellN_v`, optionally `temp_c`, and optionally `true_soc1_pct` … `true_socN_pct`
//! for scoring; other columns are ignored. The cell is described as on a datasheet:
//! `{"capacity_ah": …, "ocv": [[soc_pct, volts], …], "v_min": …, "v_max": …}`. Protection limits
//! follow from `v_min`/`v_max`; the state of charge starts from the OCV table at the first row.
//! Every problem in either file is reported with its line and column, and nothing panics.

use crate::Trip;
use bms_engine::estimation::{CellModelParams, Estimator, EstimatorKind, OcvTable};
use bms_engine::{Engine, EventKind, GradedLimit, Level, Measurement, PackConfig};
use serde::{Deserialize, Serialize};

/// A datasheet-like cell description.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellDescription {
    /// Nominal capacity, Ah.
    pub capacity_ah: f64,
    /// Rested OCV, [SOC %, V], ascending.
    pub ocv: Vec<[f64; 2]>,
    /// Lowest allowed cell voltage, V.
    pub v_min: f64,
    /// Highest allowed cell voltage, V.
    pub v_max: f64,
}

impl CellDescription {
    /// Parses and checks a description; errors name the line and column or the field.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let d: CellDescription = serde_json::from_str(text).map_err(|e| {
            format!(
                "cell description, line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
        if !(d.capacity_ah.is_finite() && d.capacity_ah > 0.0 && d.capacity_ah < 4_000_000.0) {
            return Err(format!(
                "cell description: `capacity_ah` must be above 0, got {}",
                d.capacity_ah
            ));
        }
        if !(d.v_min.is_finite()
            && d.v_max.is_finite()
            && 1.0 <= d.v_min
            && d.v_min + 0.3 < d.v_max
            && d.v_max <= 5.0)
        {
            return Err(format!(
                "cell description: need 1 V ≤ `v_min` < `v_max` − 0.3 V ≤ 4.7 V, got {} and {}",
                d.v_min, d.v_max
            ));
        }
        if d.ocv.len() < 2 {
            return Err(
                "cell description: `ocv` needs at least two [soc_pct, volts] points".into(),
            );
        }
        for (i, w) in d.ocv.windows(2).enumerate() {
            if let [a, b] = w
                && !(b[0] > a[0] && b[1] >= a[1])
            {
                return Err(format!(
                    "cell description: `ocv` point {} must rise in SOC and not fall in voltage after point {}",
                    i + 2,
                    i + 1
                ));
            }
        }
        Ok(d)
    }

    /// What the estimator knows of this cell: the datasheet's capacity and OCV table,
    /// completed with LiFePO4-typical dynamics.
    pub fn model(&self) -> Result<CellModelParams, String> {
        let points: Vec<(f32, f32)> = self
            .ocv
            .iter()
            .map(|p| ((p[0] / 100.0) as f32, p[1] as f32))
            .collect();
        let table = OcvTable::new(&points).map_err(|e| match e {
            bms_engine::estimation::OcvError::TooManyPoints => format!(
                "cell description: `ocv` has {} points, at most {}",
                points.len(),
                bms_engine::estimation::ocv::MAX_OCV_POINTS
            ),
            other => format!("cell description: `ocv` is not usable: {other:?}"),
        })?;
        Ok(CellModelParams::from_datasheet(
            self.capacity_ah as f32,
            table,
        ))
    }

    /// SOC (fraction) whose rested OCV is `volts`, by interpolation in the table.
    pub fn soc_at(&self, volts: f64) -> f64 {
        let mut prev: Option<&[f64; 2]> = None;
        for p in &self.ocv {
            if volts <= p[1] {
                return match prev {
                    None => p[0] / 100.0,
                    Some(a) if p[1] > a[1] => {
                        (a[0] + (volts - a[1]) / (p[1] - a[1]) * (p[0] - a[0])) / 100.0
                    }
                    Some(_) => p[0] / 100.0,
                };
            }
            prev = Some(p);
        }
        prev.map_or(0.0, |p| p[0] / 100.0)
    }

    /// An engine configuration for `cells` of this cell: protection at `v_max` / `v_min` with
    /// the usual hysteresis and grading, 1 C over-current, one temperature sensor, and no
    /// balancer: whatever balanced the recorded cells did so before, and it is in their
    /// voltages; a bleed the engine decided on here would flow through nothing, and the
    /// estimator would count it.
    pub fn engine_config(&self, cells: u8) -> PackConfig {
        let mut c = PackConfig::lfp_280ah(cells);
        let mv = |v: f64| (v * 1000.0).round() as i32;
        let (lo, hi) = (mv(self.v_min), mv(self.v_max));
        let n = i32::from(cells);
        c.temperature_count = 1;
        c.capacity_mah = (self.capacity_ah * 1000.0).round() as u32;
        c.cell_voltage_max_mv = u16::try_from(hi + 150).unwrap_or(u16::MAX);
        c.cell_voltage_min_mv = u16::try_from((lo - 500).max(500)).unwrap_or(0);
        c.open_wire_mv = c.cell_voltage_min_mv.saturating_sub(100).min(500);
        c.cell_over_voltage = GradedLimit {
            warn: hi - 100,
            derate: hi - 50,
            trip: hi,
            hysteresis: 100,
            trip_release: hi - 250,
            ..c.cell_over_voltage
        };
        c.cell_under_voltage = GradedLimit {
            warn: lo + 400,
            derate: lo + 300,
            trip: lo,
            hysteresis: 100,
            trip_release: lo + 600,
            ..c.cell_under_voltage
        };
        c.pack_over_voltage = GradedLimit {
            warn: (hi - 90) * n,
            derate: (hi - 40) * n,
            trip: (hi + 10) * n,
            hysteresis: 100 * n,
            trip_release: (hi - 240) * n,
            ..c.pack_over_voltage
        };
        c.pack_under_voltage = GradedLimit {
            warn: (lo + 400) * n,
            derate: (lo + 300) * n,
            trip: (lo - 50) * n,
            hysteresis: 100 * n,
            trip_release: (lo + 500) * n,
            ..c.pack_under_voltage
        };
        let one_c = i32::try_from(c.capacity_mah).unwrap_or(i32::MAX);
        for oc in [&mut c.charge_over_current, &mut c.discharge_over_current] {
            *oc = GradedLimit {
                warn: one_c * 5 / 7,
                derate: one_c * 6 / 7,
                trip: one_c,
                hysteresis: one_c / 14,
                trip_release: one_c * 13 / 14,
                ..*oc
            };
        }
        c.short_circuit_current_ma = c.capacity_mah.saturating_mul(2);
        c.absorption_cell_mv = u16::try_from(hi - 200).unwrap_or(0);
        c.float_cell_mv = u16::try_from(hi - 275).unwrap_or(0);
        c.discharge_cell_mv = u16::try_from(lo + 400).unwrap_or(0);
        c.balance_min_cell_mv = u16::try_from(hi - 350).unwrap_or(0);
        c.balancer = bms_engine::BalancerKind::Passive {
            bleed_current_ma: 0,
            max_channels: 0,
            no_adjacent: true,
        };
        c.max_charge_current_ma = c.capacity_mah / 2;
        c.max_discharge_current_ma = c.capacity_mah * 5 / 7;
        c.absorption_tail_current_ma = c.capacity_mah / 20;
        c
    }
}

/// What a replay shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaySummary {
    /// Always `replay`.
    pub scenario: &'static str,
    /// Series cells in the file.
    pub cells: usize,
    /// Rows replayed.
    pub steps: u64,
    /// Time covered, s.
    pub duration_s: f64,
    /// Lowest and highest measured cell voltage, V.
    pub min_cell_v: f64,
    /// See `min_cell_v`.
    pub max_cell_v: f64,
    /// Every protection trip.
    pub trips: Vec<Trip>,
    /// SOC the engine ended at, %.
    pub final_soc_pct: f64,
    /// RMS SOC error against the truth columns, % (when present).
    pub soc_rmse_pct: Option<f64>,
    /// Largest SOC error against the truth columns, % (when present).
    pub soc_max_err_pct: Option<f64>,
    /// Share of rows with the true SOC inside the estimator's 3σ bound, % (model estimator,
    /// truth columns present).
    pub soc_in_bound_pct: Option<f64>,
    /// Energy charged and discharged, from the measurements, kWh.
    pub energy_in_kwh: f64,
    /// See `energy_in_kwh`.
    pub energy_out_kwh: f64,
}

/// Column positions found in the header.
struct Columns {
    time: usize,
    current: usize,
    cells: Vec<usize>,
    temp: Option<usize>,
    truth: Vec<usize>,
}

fn columns(header: &str) -> Result<Columns, String> {
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| names.iter().position(|n| *n == name);
    let time = find("time_s").ok_or("line 1: missing column `time_s`")?;
    let current = find("current_a").ok_or("line 1: missing column `current_a`")?;
    let mut cells = Vec::new();
    while let Some(i) = find(&format!("cell{}_v", cells.len() + 1)) {
        cells.push(i);
    }
    if cells.is_empty() {
        return Err("line 1: missing column `cell1_v`".into());
    }
    if cells.len() > bms_engine::MAX_CELLS {
        return Err(format!(
            "line 1: {} cell columns, one engine monitors at most {}",
            cells.len(),
            bms_engine::MAX_CELLS
        ));
    }
    let truth: Vec<usize> = (1..=cells.len())
        .map_while(|k| find(&format!("true_soc{k}_pct")))
        .collect();
    if !truth.is_empty() && truth.len() != cells.len() {
        return Err(format!(
            "line 1: {} cells but {} `true_socK_pct` columns; give all or none",
            cells.len(),
            truth.len()
        ));
    }
    Ok(Columns {
        time,
        current,
        cells,
        temp: find("temp_c"),
        truth,
    })
}

/// A numeric field, or an error naming line, column and header name.
fn number(fields: &[&str], index: usize, line: usize, header: &[&str]) -> Result<f64, String> {
    let name = header.get(index).copied().unwrap_or("?");
    let text = fields
        .get(index)
        .map(|f| f.trim())
        .ok_or_else(|| format!("line {line}, column {} (`{name}`): missing", index + 1))?;
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            format!(
                "line {line}, column {} (`{name}`): `{text}` is not a number",
                index + 1
            )
        })
}

/// One replayed row as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayRow<'a> {
    /// The row's time, s.
    pub time_s: f64,
    /// The engine's pack SOC, %.
    pub soc_pct: f64,
    /// Its 3σ bound, percentage points (model estimator).
    pub bound_pct: Option<f64>,
    /// The mean of the truth columns, %, when present.
    pub true_soc_pct: Option<f64>,
    /// Every trip so far.
    pub trips: &'a [Trip],
}

/// Replays `csv` with `cell` through `estimator`; `on_row` sees every row.
pub fn replay(
    csv: &str,
    cell: &CellDescription,
    estimator: EstimatorKind,
    mut on_row: impl FnMut(&ReplayRow<'_>),
) -> Result<ReplaySummary, String> {
    let model = cell.model()?;
    let mut lines = csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("the measurement file is empty")?;
    let cols = columns(header)?;
    let header_names: Vec<&str> = header.split(',').map(str::trim).collect();
    let cell_count = u8::try_from(cols.cells.len()).map_err(|_| "too many cells".to_owned())?;
    let config = cell.engine_config(cell_count);
    config.validate().map_err(|e| {
        format!("the cell description gives an engine configuration the engine rejects: {e}")
    })?;

    let mut engine: Option<Engine> = None;
    let mut last_time: Option<f64> = None;
    let mut summary = ReplaySummary {
        scenario: "replay",
        cells: cols.cells.len(),
        steps: 0,
        duration_s: 0.0,
        min_cell_v: f64::INFINITY,
        max_cell_v: f64::NEG_INFINITY,
        trips: Vec::new(),
        final_soc_pct: 0.0,
        soc_rmse_pct: None,
        soc_max_err_pct: None,
        soc_in_bound_pct: None,
        energy_in_kwh: 0.0,
        energy_out_kwh: 0.0,
    };
    let (mut sq_err, mut max_err, mut scored, mut in_bound) = (0.0_f64, 0.0_f64, 0_u64, 0_u64);
    let mut first_time = None;
    for (index, line) in lines {
        let n = index + 1;
        let fields: Vec<&str> = line.split(',').collect();
        let time = number(&fields, cols.time, n, &header_names)?;
        let current = number(&fields, cols.current, n, &header_names)?;
        let mut volts = Vec::with_capacity(cols.cells.len());
        for &c in &cols.cells {
            let v = number(&fields, c, n, &header_names)?;
            if !(0.0..=6.5).contains(&v) {
                let name = header_names.get(c).copied().unwrap_or("?");
                return Err(format!(
                    "line {n}, column {} (`{name}`): {v} V is not a cell voltage",
                    c + 1
                ));
            }
            volts.push(v);
        }
        let temp = match cols.temp {
            Some(t) => Some(number(&fields, t, n, &header_names)?),
            None => None,
        };
        let truth = if cols.truth.is_empty() {
            None
        } else {
            let mut sum = 0.0;
            for &t in &cols.truth {
                sum += number(&fields, t, n, &header_names)?;
            }
            Some(sum / cols.truth.len() as f64)
        };
        let dt_s = match last_time {
            Some(prev) if time <= prev => {
                return Err(format!(
                    "line {n}, column {} (`time_s`): {time} s does not come after {prev} s",
                    cols.time + 1
                ));
            }
            Some(prev) => time - prev,
            None => 0.0,
        };
        last_time = Some(time);
        first_time.get_or_insert(time);

        let millivolts: Vec<u16> = volts.iter().map(|v| (v * 1000.0).round() as u16).collect();
        let current_ma = (current * 1000.0)
            .round()
            .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        let mut m =
            Measurement::new(&millivolts, current_ma).map_err(|e| format!("line {n}: {e}"))?;
        if let Some(t) = temp {
            m = m
                .with_temperatures(&[bms_engine::deci_c_from_celsius(t as f32)])
                .map_err(|e| format!("line {n}: {e}"))?;
        } else {
            m = m
                .with_temperatures(&[Some(250)])
                .map_err(|e| format!("line {n}: {e}"))?;
        }
        let engine = match &mut engine {
            Some(e) => e,
            None => {
                let mean_v = volts.iter().sum::<f64>() / volts.len() as f64;
                let soc = (cell.soc_at(mean_v) * 1000.0).round().clamp(0.0, 1000.0) as u16;
                let mut e = Engine::new(config, soc).map_err(|e| e.to_string())?;
                e.set_estimator(Estimator::new(
                    estimator,
                    model.clone(),
                    cols.cells.len(),
                    f32::from(soc) / 1000.0,
                ));
                engine.insert(e)
            }
        };
        let dt_ms = (dt_s * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32;
        let out = engine.step(&m, dt_ms);
        for e in &out.events {
            if e.kind == EventKind::Tripped && e.level == Level::Trip {
                summary.trips.push(Trip {
                    time_s: time as u64,
                    fault: e.fault.name(),
                    cell: e
                        .location
                        .filter(|_| e.fault.located_at_cell())
                        .map(|i| i + 1),
                });
            }
        }
        let report = engine.soc_report();
        let soc_pct = f64::from(report.average) * 100.0;
        if let Some(t) = truth {
            let err = soc_pct - t;
            sq_err += err * err;
            max_err = max_err.max(err.abs());
            scored += 1;
            if report
                .bound
                .is_some_and(|b| err.abs() <= f64::from(b) * 100.0)
            {
                in_bound += 1;
            }
        }
        let pack_v: f64 = volts.iter().sum();
        let wh = pack_v * current * dt_s / 3600.0;
        if wh > 0.0 {
            summary.energy_in_kwh += wh / 1000.0;
        } else {
            summary.energy_out_kwh -= wh / 1000.0;
        }
        for v in &volts {
            summary.min_cell_v = summary.min_cell_v.min(*v);
            summary.max_cell_v = summary.max_cell_v.max(*v);
        }
        summary.steps += 1;
        summary.final_soc_pct = soc_pct;
        on_row(&ReplayRow {
            time_s: time,
            soc_pct,
            bound_pct: report.bound.map(|b| f64::from(b) * 100.0),
            true_soc_pct: truth,
            trips: &summary.trips,
        });
    }
    if summary.steps == 0 {
        return Err("the measurement file has a header but no rows".into());
    }
    summary.duration_s = last_time.unwrap_or(0.0) - first_time.unwrap_or(0.0);
    if scored > 0 {
        summary.soc_rmse_pct = Some((sq_err / scored as f64).sqrt());
        summary.soc_max_err_pct = Some(max_err);
        summary.soc_in_bound_pct =
            (estimator == EstimatorKind::Model).then(|| in_bound as f64 / scored as f64 * 100.0);
    }
    Ok(summary)
}
