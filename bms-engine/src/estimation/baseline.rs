//! The baseline most BMSs ship, kept for reproducible comparisons: coulomb counting per cell,
//! reset from the OCV table once the pack has rested, and to 100 % after a full charge (charged
//! voltage and tail current for the detection time, as a shunt does). No bias, no hysteresis,
//! no bound.

use super::health::HealthReport;
use super::{CellEstimate, CellModelParams, SocEstimator, SocReport, StepInput, pack_report};
use crate::MAX_CELLS;
use heapless::Vec;

/// Coulomb counting with OCV and full-charge resets.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineEstimator {
    params: CellModelParams,
    /// Per cell: SOC (f64 so that per-second increments are not lost) and full-charge time.
    cells: Vec<(f64, f32), MAX_CELLS>,
    rest_secs: f32,
    /// The OCV reset of this rest has been done.
    rest_used: bool,
}

impl BaselineEstimator {
    /// `cell_count` counters starting at `soc`.
    pub fn new(params: CellModelParams, cell_count: usize, soc: f32) -> Self {
        let mut cells = Vec::new();
        for _ in 0..cell_count.min(MAX_CELLS) {
            let _ = cells.push((f64::from(soc), 0.0));
        }
        BaselineEstimator {
            params,
            cells,
            rest_secs: 0.0,
            rest_used: false,
        }
    }
}

impl SocEstimator for BaselineEstimator {
    fn update(&mut self, input: &StepInput<'_>) {
        let (rest_a, rest_needed_secs) = input.rest;
        if input.current_a.abs() < rest_a {
            self.rest_secs += input.dt_secs;
        } else {
            self.rest_secs = 0.0;
            self.rest_used = false;
        }
        let reset = self.rest_secs >= rest_needed_secs && !self.rest_used;
        let coulombs = f64::from(self.params.capacity_ah.max(0.001)) * 3600.0;
        let (charged_v, tail_a) = input.full_charge;
        for (i, (soc, full_secs)) in self.cells.iter_mut().enumerate() {
            let current_a = input.current_a - input.balance_a(i);
            *soc += f64::from(current_a) * f64::from(input.dt_secs) / coulombs;
            let v = input.cell_v(i);
            if let Some(v) = v.filter(|_| reset) {
                *soc = f64::from(self.params.ocv.soc_at(v));
            }
            match v {
                Some(v) if v >= charged_v && (0.0..=tail_a).contains(&input.current_a) => {
                    *full_secs += input.dt_secs;
                }
                _ => *full_secs = 0.0,
            }
            if *full_secs >= input.full_detect_secs {
                *soc = 1.0;
            }
            *soc = soc.clamp(0.0, 1.0);
        }
        if reset {
            self.rest_used = true;
        }
    }

    fn cell(&self, i: usize) -> Option<CellEstimate> {
        self.cells.get(i).map(|&(soc, _)| CellEstimate {
            soc: soc as f32,
            sigma: None,
        })
    }

    fn report(&self) -> SocReport {
        let capacity = self.params.capacity_ah;
        pack_report(
            (0..self.cells.len()).filter_map(|i| self.cell(i).map(|c| (c, capacity))),
            None,
        )
    }

    fn health(&self) -> Option<HealthReport> {
        None
    }

    fn soh_pct(&self) -> Option<(f32, f32)> {
        None
    }

    fn cell_r0_ohm(&self, _out: &mut [Option<f32>]) -> bool {
        false
    }

    fn cell_capacity_ah(&self, _out: &mut [Option<f32>]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{MAX_CELLS, Measurement, PackConfig};

    /// The coulomb counter counts a bled cell's bleed too (what the balancer says it drew).
    #[test]
    fn a_bled_cell_is_counted_down_by_its_bleed() {
        let config = PackConfig::lfp_280ah(2);
        let mut counter = BaselineEstimator::new(CellModelParams::lfp(280.0), 2, 0.5);
        let m = Measurement::new(&[3_300, 3_300], -10_000)
            .unwrap()
            .with_temperatures(&[Some(250), Some(250)])
            .unwrap();
        let mut balance = [0.0; MAX_CELLS];
        balance[1] = 4.0;
        for _ in 0..3_600 {
            counter.update(&StepInput::new(&m, &config, 1_000).with_balancing(&balance));
        }
        let soc = |i| counter.cell_soc(i).unwrap();
        assert!((soc(0) - (0.5 - 10.0 / 280.0)).abs() < 1e-5, "{}", soc(0));
        assert!((soc(1) - (0.5 - 14.0 / 280.0)).abs() < 1e-5, "{}", soc(1));
    }
}
