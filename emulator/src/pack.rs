//! The series string and its switches: current flows only in the directions the switches allow.

use crate::{Cell, CellParams};
use rand::Rng;
use rand_distr::StandardNormal;

/// Manufacturing spread of capacity (σ as a fraction), DOMAIN.md §1 (Wildfeuer & Lienkamp).
const CAPACITY_SPREAD: f64 = 0.0025;
/// Manufacturing spread of resistance (σ as a fraction), same study.
const RESISTANCE_SPREAD: f64 = 0.005;

/// A series string of cells behind a charge and a discharge switch (back-to-back FETs).
#[derive(Debug, Clone)]
pub struct Pack {
    /// The cells, cell 1 first.
    pub cells: Vec<Cell>,
    /// Whether the charge FET conducts.
    pub charge_switch_on: bool,
    /// Whether the discharge FET conducts.
    pub discharge_switch_on: bool,
}

impl Pack {
    /// `cell_count` cells around `nominal`, each drawn with the manufacturing spread, starting
    /// at `soc` (fraction) with a small per-cell SOC spread of σ `soc_spread`.
    pub fn new(
        cell_count: usize,
        nominal: CellParams,
        soc: f64,
        soc_spread: f64,
        rng: &mut impl Rng,
    ) -> Self {
        let mut normal = |sigma: f64| sigma * rng.sample::<f64, _>(StandardNormal);
        let cells = (0..cell_count)
            .map(|_| {
                let params = CellParams {
                    capacity_ah: nominal.capacity_ah * (1.0 + normal(CAPACITY_SPREAD)),
                    r0_ohm: nominal.r0_ohm * (1.0 + normal(RESISTANCE_SPREAD)),
                    r1_ohm: nominal.r1_ohm * (1.0 + normal(RESISTANCE_SPREAD)),
                    tau1_secs: nominal.tau1_secs,
                };
                Cell::new(params, soc + normal(soc_spread.max(0.0)))
            })
            .collect();
        Pack {
            cells,
            charge_switch_on: true,
            discharge_switch_on: true,
        }
    }

    /// The current that actually flows when `requested_a` is asked for: a charge current needs
    /// the charge FET, a discharge current the discharge FET (the other FET conducts through its
    /// body diode in that direction).
    pub fn allowed_current_a(&self, requested_a: f64) -> f64 {
        if (requested_a > 0.0 && !self.charge_switch_on)
            || (requested_a < 0.0 && !self.discharge_switch_on)
        {
            0.0
        } else {
            requested_a
        }
    }

    /// Advances every cell by `dt_secs` at `requested_a` (limited by the switches); returns the
    /// current that flowed.
    pub fn step(&mut self, requested_a: f64, dt_secs: f64) -> f64 {
        let current_a = self.allowed_current_a(requested_a);
        for cell in &mut self.cells {
            cell.step(current_a, dt_secs);
        }
        current_a
    }

    /// True terminal voltage of the pack, V.
    pub fn voltage_v(&self) -> f64 {
        self.cells.iter().map(Cell::voltage_v).sum()
    }

    /// True state of charge of the pack as the mean cell SOC, clamped to 0..1.
    pub fn soc(&self) -> f64 {
        if self.cells.is_empty() {
            return 0.0;
        }
        let mean = self.cells.iter().map(|c| c.soc).sum::<f64>() / self.cells.len() as f64;
        mean.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn pack() -> Pack {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        Pack::new(16, CellParams::default(), 0.5, 0.0, &mut rng)
    }

    #[test]
    fn open_charge_switch_blocks_charge_but_not_discharge() {
        let mut p = pack();
        p.charge_switch_on = false;
        assert_eq!(p.step(50.0, 1.0), 0.0);
        assert_eq!(p.step(-50.0, 1.0), -50.0);
    }

    #[test]
    fn open_discharge_switch_blocks_discharge_but_not_charge() {
        let mut p = pack();
        p.discharge_switch_on = false;
        assert_eq!(p.step(-50.0, 1.0), 0.0);
        assert_eq!(p.step(50.0, 1.0), 50.0);
    }

    #[test]
    fn cells_differ_by_a_small_seeded_spread() {
        let p = pack();
        let caps: Vec<f64> = p.cells.iter().map(|c| c.params.capacity_ah).collect();
        let min = caps.iter().copied().fold(f64::MAX, f64::min);
        let max = caps.iter().copied().fold(f64::MIN, f64::max);
        assert!(max > min, "cells should not be identical");
        assert!(max / min < 1.03, "spread should be around σ 0.25 %");
        let again: Vec<f64> = pack().cells.iter().map(|c| c.params.capacity_ah).collect();
        assert_eq!(caps, again, "same seed, same pack");
    }
}
