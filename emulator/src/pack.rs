//! The series string: cells (each a parallel group), their temperatures, the switches, and the
//! balancer acting as the engine commands. Current flows only in the directions the switches allow.

use crate::cell::Lanes;
use crate::{CellModel, Cells};
use bms_engine::balancing::Balancing;
use bms_engine::{BalancerKind, MAX_CELLS};
use rand::Rng;
use rand_distr::StandardNormal;

/// Efficiency of an active balancer's charge transfer.
const ACTIVE_BALANCER_EFFICIENCY: f64 = 0.9;

/// A main contactor with a pre-charge path into the inverter's DC-link capacitance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contactor {
    /// Pre-charge relay closed.
    pub precharge_on: bool,
    /// Main contactor closed.
    pub main_on: bool,
    /// Bus (load side) voltage, V.
    pub bus_v: f64,
    /// DC-link capacitance, F.
    pub capacitance_f: f64,
    /// Pre-charge resistor, Ω.
    pub precharge_ohm: f64,
    /// Resistance loading the bus (bleeder, or a fault), Ω.
    pub bus_load_ohm: f64,
}

impl Contactor {
    /// A 5 mF DC link, a 50 Ω pre-charge resistor and a 10 kΩ bleeder.
    pub fn typical() -> Self {
        Contactor {
            precharge_on: false,
            main_on: false,
            bus_v: 0.0,
            capacitance_f: 0.005,
            precharge_ohm: 50.0,
            bus_load_ohm: 10_000.0,
        }
    }

    /// Advances the bus voltage by `dt_secs` with the pack at `pack_v`.
    fn step(&mut self, pack_v: f64, dt_secs: f64) {
        if self.main_on {
            self.bus_v = pack_v;
            return;
        }
        // The bus settles towards the divider of pre-charge and load resistors, with the time
        // constant of the capacitance against both in parallel.
        let (target, r) = if self.precharge_on {
            let r_par =
                self.precharge_ohm * self.bus_load_ohm / (self.precharge_ohm + self.bus_load_ohm);
            (
                pack_v * self.bus_load_ohm / (self.precharge_ohm + self.bus_load_ohm),
                r_par,
            )
        } else {
            (0.0, self.bus_load_ohm)
        };
        let decay = (-dt_secs / (r * self.capacitance_f)).exp();
        self.bus_v = target + (self.bus_v - target) * decay;
    }
}

/// A series string of cells behind a charge and a discharge switch (back-to-back FETs).
#[derive(Debug, Clone)]
pub struct Pack {
    /// The cell type.
    pub model: CellModel,
    /// The cells (parallel groups), cell 1 first.
    pub cells: Cells,
    /// Cells in parallel in each group.
    pub parallel: usize,
    /// Series groups per module: heat flows between neighbouring cells only inside a module
    /// (modules sit in separate enclosures).
    pub module_cells: usize,
    /// Whether the charge path conducts.
    pub charge_switch_on: bool,
    /// Whether the discharge path conducts.
    pub discharge_switch_on: bool,
    /// Ambient temperature around the pack, °C.
    pub ambient_c: f64,
    /// Heater on.
    pub heater_on: bool,
    /// Fan on.
    pub fan_on: bool,
    /// What the balancer does.
    pub balancing: Balancing,
    /// The balancing hardware (bleed current or transfer limit).
    pub balancer: BalancerKind,
    /// RC decay factors for the last step length: (dt, (e^(−dt/τ1), e^(−dt/τ2))).
    decays: (f64, (f64, f64)),
    /// The contactor, when the pack has one instead of FETs.
    pub contactor: Option<Contactor>,
    /// Its breaker or fuse to the bus has opened: nothing flows whatever its switches say, and
    /// its BMS, measuring inside, sees only a pack at rest.
    pub bus_disconnected: bool,
    /// Simulated time since the cells' ageing was last brought up to date, s.
    since_ageing_s: f64,
    /// Which cells exchange heat with a left and a right neighbour, for the module size and
    /// cell count given first (see [`Pack::neighbours`]).
    neighbours: (usize, usize, [bool; MAX_CELLS], [bool; MAX_CELLS]),
}

/// How often the cells' capacity and resistance follow their ageing, simulated s. Fade moves
/// by parts per billion in a minute, so this is exact for every practical purpose.
const AGEING_REFRESH_S: f64 = 60.0;

impl Pack {
    /// `cell_count` groups of `parallel` cells of `model`, each drawn with the manufacturing
    /// spread, starting at `soc` (fraction, with a per-cell σ of `soc_spread`) and at
    /// `temperature_c`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cell_count: usize,
        parallel: usize,
        model: CellModel,
        soc: f64,
        soc_spread: f64,
        temperature_c: f64,
        balancer: BalancerKind,
        rng: &mut impl Rng,
    ) -> Self {
        let parallel = parallel.max(1);
        let p = &model.params;
        let mut normal = |sigma: f64| sigma * rng.sample::<f64, _>(StandardNormal);
        let mut cells = Cells::new();
        for _ in 0..cell_count.min(MAX_CELLS) {
            let capacity =
                p.capacity_ah * parallel as f64 * (1.0 + normal(p.capacity_spread_sigma));
            let resistance = (1.0 + normal(p.resistance_spread_sigma)) / parallel as f64;
            let self_discharge =
                p.self_discharge_pct_per_month + normal(p.self_discharge_spread_pct_per_month);
            let start = soc + normal(soc_spread.max(0.0));
            cells.push(
                capacity,
                resistance,
                self_discharge,
                &model,
                start,
                temperature_c,
            );
        }
        Pack {
            model,
            cells,
            parallel,
            module_cells: cell_count.max(1),
            charge_switch_on: true,
            discharge_switch_on: true,
            ambient_c: temperature_c,
            heater_on: false,
            fan_on: false,
            balancing: Balancing::default(),
            balancer,
            decays: (f64::NAN, (1.0, 1.0)),
            contactor: None,
            bus_disconnected: false,
            since_ageing_s: 0.0,
            neighbours: (0, 0, [false; MAX_CELLS], [false; MAX_CELLS]),
        }
    }

    /// The current that actually flows when `requested_a` is asked for: a charge current needs
    /// the charge FET, a discharge current the discharge FET (the other FET conducts through its
    /// body diode in that direction).
    pub fn allowed_current_a(&self, requested_a: f64) -> f64 {
        if self.bus_disconnected || self.contactor.is_some_and(|c| !c.main_on) {
            return 0.0;
        }
        if (requested_a > 0.0 && !self.charge_switch_on)
            || (requested_a < 0.0 && !self.discharge_switch_on)
        {
            0.0
        } else {
            requested_a
        }
    }

    /// Currents through each cell beyond the string current: the balancer's bleed or
    /// transfer, A (no allocation: packs hold at most MAX_CELLS groups).
    fn balance_currents_a(&self) -> Lanes {
        let mut currents = [0.0; MAX_CELLS];
        match self.balancer {
            BalancerKind::Passive {
                bleed_current_ma, ..
            } => {
                let bleed_a = -f64::from(bleed_current_ma) / 1000.0;
                for (i, slot) in currents.iter_mut().enumerate() {
                    if self.balancing.mask & (1 << i) != 0 {
                        *slot = bleed_a;
                    }
                }
            }
            BalancerKind::Active { .. } => {
                if let Some(t) = self.balancing.transfer {
                    let moved_a = f64::from(t.current_ma) / 1000.0;
                    if let Some(from) = currents.get_mut(usize::from(t.from_cell)) {
                        *from = -moved_a;
                    }
                    if let Some(to) = currents.get_mut(usize::from(t.to_cell)) {
                        *to = moved_a * ACTIVE_BALANCER_EFFICIENCY;
                    }
                }
            }
        }
        currents
    }

    /// The coldest and hottest cell temperature, °C.
    pub fn temperature_range_c(&self) -> (f64, f64) {
        self.cells
            .temperatures_c()
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &t| {
                (lo.min(t), hi.max(t))
            })
    }

    /// Current the heater draws from the cells while it runs, A (it sits on the cell side of
    /// the switches and behind the current sensor, so the BMS sees and counts it).
    pub fn heater_current_a(&self) -> f64 {
        if !self.heater_on {
            // Every step asks: no sum over the cells for a heater that is off.
            return 0.0;
        }
        self.heater_w() / self.voltage_v().max(1.0)
    }

    /// Power the heater takes while it runs, W (0 when off).
    pub fn heater_w(&self) -> f64 {
        if self.heater_on {
            self.model.params.heater_w_per_cell * self.cells.len() as f64
        } else {
            0.0
        }
    }

    /// Advances every cell by `dt_secs` at `requested_a` (limited by the switches), with the
    /// balancer, heater and fan as set; returns the string current that flowed (terminal
    /// current minus the heater's draw), A.
    pub fn step(&mut self, requested_a: f64, dt_secs: f64) -> f64 {
        let current_a = self.allowed_current_a(requested_a) - self.heater_current_a();
        if self.decays.0 != dt_secs {
            let p = &self.model.params;
            self.decays = (
                dt_secs,
                (
                    (-dt_secs / p.tau1_secs).exp(),
                    (-dt_secs / p.tau2_secs).exp(),
                ),
            );
        }
        let balancing = self.balancing.mask != 0 || self.balancing.transfer.is_some();
        let balance = if balancing {
            self.balance_currents_a()
        } else {
            [0.0; MAX_CELLS]
        };
        self.cells
            .advance(&self.model, current_a, &balance, dt_secs, self.decays.1);
        self.since_ageing_s += dt_secs;
        if self.since_ageing_s >= AGEING_REFRESH_S {
            self.since_ageing_s = 0.0;
            for i in 0..self.cells.len() {
                self.cells.refresh_ageing(i, &self.model);
            }
        }
        // Sets each cell's new temperature, which updates its voltage.
        self.step_thermal(dt_secs);
        let pack_v = self.voltage_v();
        if let Some(c) = &mut self.contactor {
            c.step(pack_v, dt_secs);
        }
        current_a
    }

    /// Heat balance of each cell: its own heat, exchange with its neighbours (as they were
    /// before the step) and the ambient (more with the fan), and the heater.
    fn step_thermal(&mut self, dt_secs: f64) {
        let p = &self.model.params;
        let cooling = p.cooling_w_per_k
            * if self.fan_on {
                p.fan_cooling_factor
            } else {
                1.0
            };
        let heater = if self.heater_on {
            p.heater_w_per_cell
        } else {
            0.0
        };
        let k_per_joule = dt_secs / (p.heat_capacity_j_per_k * self.parallel as f64);
        let neighbour = p.neighbour_w_per_k;
        let (has_left, has_right) = self.neighbours();
        // Each cell's neighbours' temperatures beside its own, so that the loop below has no
        // dependence from one cell to the next (no allocation: packs hold at most MAX_CELLS
        // groups).
        let temps = self.cells.temperatures_c();
        let (mut left, mut right) = ([0.0; MAX_CELLS], [0.0; MAX_CELLS]);
        for (slot, &t) in left.iter_mut().skip(1).zip(temps) {
            *slot = t;
        }
        for (slot, &t) in right.iter_mut().zip(temps.iter().skip(1)) {
            *slot = t;
        }
        let mut heat = [0.0; MAX_CELLS];
        self.cells.heats_w(&mut heat);
        let mut next = [0.0; MAX_CELLS];
        let sides = left.iter().zip(&right).zip(has_left.iter().zip(&has_right));
        for (((next, &t), &heat), ((&tl, &tr), (&has_left, &has_right))) in
            next.iter_mut().zip(temps).zip(&heat).zip(sides)
        {
            let mut flow_w = heat + heater + cooling * (self.ambient_c - t);
            flow_w = if has_left {
                flow_w + neighbour * (tl - t)
            } else {
                flow_w
            };
            flow_w = if has_right {
                flow_w + neighbour * (tr - t)
            } else {
                flow_w
            };
            *next = t + flow_w * k_per_joule;
        }
        self.cells.set_temperatures(&self.model, &next);
    }

    /// Which cells have a left and a right neighbour inside their module (heat flows between
    /// neighbours only inside a module); worked out again when the module size or the cell
    /// count changes.
    fn neighbours(&mut self) -> ([bool; MAX_CELLS], [bool; MAX_CELLS]) {
        let module = self.module_cells.max(1);
        let count = self.cells.len();
        if (self.neighbours.0, self.neighbours.1) != (module, count) {
            let (mut has_left, mut has_right) = ([false; MAX_CELLS], [false; MAX_CELLS]);
            for (i, (left, right)) in has_left.iter_mut().zip(&mut has_right).enumerate() {
                let place = i % module;
                *left = place != 0;
                *right = i + 1 < count && place + 1 != module;
            }
            self.neighbours = (module, count, has_left, has_right);
        }
        (self.neighbours.2, self.neighbours.3)
    }

    /// The pack's terminal voltage if `current_a` (charging positive) flowed at its terminals
    /// for the next second, V: the cells carry it less the heater's draw (see
    /// [`Cells::voltage_at`]).
    pub fn voltage_at(&self, current_a: f64) -> f64 {
        self.cells
            .voltage_at(&self.model, current_a - self.heater_current_a())
    }

    /// True terminal voltage of the pack, V.
    pub fn voltage_v(&self) -> f64 {
        self.cells.voltages_v().iter().sum()
    }

    /// True SOC of cell `i` (fraction of its present capacity).
    pub fn cell_soc(&self, i: usize) -> Option<f64> {
        self.cells.soc(i)
    }

    /// True terminal voltage of cell `i`, V.
    pub fn cell_voltage_v(&self, i: usize) -> Option<f64> {
        self.cells.voltage_v(i)
    }

    /// Highest minus lowest cell SOC, percentage points (0 for no cells).
    pub fn soc_spread_pct(&self) -> f64 {
        let socs = (0..self.cells.len()).filter_map(|i| self.cell_soc(i));
        let (lo, hi) = socs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s), hi.max(s))
        });
        if lo <= hi { (hi - lo) * 100.0 } else { 0.0 }
    }

    /// True state of charge of the pack as the mean cell SOC, clamped to 0..1.
    pub fn soc(&self) -> f64 {
        let sum: f64 = (0..self.cells.len())
            .filter_map(|i| self.cells.soc(i))
            .sum();
        Self::mean_soc(sum, self.cells.len())
    }

    /// The pack's SOC from the sum of `count` cell SOCs: their mean, clamped to 0..1 (0 for
    /// no cells), for callers that already pass over the cells.
    pub fn mean_soc(sum: f64, count: usize) -> f64 {
        if count == 0 {
            return 0.0;
        }
        (sum / count as f64).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const PASSIVE: BalancerKind = BalancerKind::Passive {
        bleed_current_ma: 60,
        max_channels: 8,
        no_adjacent: true,
    };

    /// `cells` cells at half charge and `temperature_c`, seed 7.
    fn pack_of(cells: usize, temperature_c: f64) -> Pack {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        Pack::new(
            cells,
            1,
            CellModel::lfp_280ah().unwrap(),
            0.5,
            0.0,
            temperature_c,
            PASSIVE,
            &mut rng,
        )
    }

    fn pack() -> Pack {
        pack_of(16, 25.0)
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
        let caps: Vec<f64> = (0..16)
            .map(|i| p.cells.capacity_new_ah(i).unwrap())
            .collect();
        let min = caps.iter().copied().fold(f64::MAX, f64::min);
        let max = caps.iter().copied().fold(f64::MIN, f64::max);
        assert!(max > min, "cells should not be identical");
        assert!(max / min < 1.03, "spread should be around σ 0.25 %");
        let again = pack();
        let again: Vec<f64> = (0..16)
            .map(|i| again.cells.capacity_new_ah(i).unwrap())
            .collect();
        assert_eq!(caps, again, "same seed, same pack");
    }

    #[test]
    fn parallel_groups_add_capacity_and_divide_resistance() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let p2 = Pack::new(
            4,
            2,
            CellModel::lfp_280ah().unwrap(),
            0.5,
            0.0,
            25.0,
            PASSIVE,
            &mut rng,
        );
        assert!((p2.cells.capacity_new_ah(0).unwrap() / 560.0 - 1.0).abs() < 0.02);
        assert!((p2.cells.r0_ohm(0).unwrap() / 0.00015 - 1.0).abs() < 0.05);
    }

    #[test]
    fn bleeding_discharges_only_the_chosen_cells() {
        let mut params = crate::CellParams::lfp_280ah().unwrap();
        params.self_discharge_pct_per_month = 0.0;
        params.self_discharge_spread_pct_per_month = 0.0;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut p = Pack::new(
            16,
            1,
            CellModel::new(params),
            0.5,
            0.0,
            25.0,
            PASSIVE,
            &mut rng,
        );
        p.balancing.mask = 0b101;
        let charges =
            |p: &Pack| -> Vec<f64> { (0..16).map(|i| p.cells.charge_ah(i).unwrap()).collect() };
        let before = charges(&p);
        for _ in 0..3600 {
            p.step(0.0, 1.0);
        }
        let lost: Vec<f64> = charges(&p).iter().zip(before).map(|(c, b)| b - c).collect();
        assert!(
            (lost[0] - lost[1] - 0.060).abs() < 1e-6,
            "60 mA for an hour"
        );
        assert!((lost[2] - lost[1] - 0.060).abs() < 1e-6);
        assert!((lost[3] - lost[1]).abs() < 1e-6);
    }

    #[test]
    fn current_heats_the_pack_and_the_fan_cools_it() {
        let mut p = pack();
        for _ in 0..3600 {
            p.step(-200.0, 1.0);
        }
        let (_, hot) = p.temperature_range_c();
        assert!(hot > 26.0, "0.7 C for an hour warms the cells: {hot}");
        let mut cooled = p.clone();
        cooled.fan_on = true;
        for _ in 0..3600 {
            p.step(0.0, 1.0);
            cooled.step(0.0, 1.0);
        }
        let t = |p: &Pack| p.cells.temperature_c(8).unwrap();
        assert!(t(&cooled) < t(&p), "the fan cools faster");
    }

    #[test]
    fn precharge_brings_the_bus_up_unless_it_is_loaded() {
        let mut p = pack();
        p.contactor = Some(Contactor::typical());
        assert_eq!(
            p.step(-50.0, 1.0),
            0.0,
            "no current before the main contactor closes"
        );
        p.contactor.as_mut().unwrap().precharge_on = true;
        p.step(0.0, 1.0);
        let pack_v = p.voltage_v();
        let bus = p.contactor.unwrap().bus_v;
        // τ ≈ 0.25 s: after one second the bus is inside the scenarios' 2 V match window.
        assert!((pack_v - bus).abs() < 2.0, "{bus} vs {pack_v}");
        p.contactor.as_mut().unwrap().main_on = true;
        assert_eq!(p.step(-50.0, 1.0), -50.0);
        let mut shorted = pack();
        shorted.contactor = Some(Contactor {
            bus_load_ohm: 5.0,
            precharge_on: true,
            ..Contactor::typical()
        });
        for _ in 0..10 {
            shorted.step(0.0, 1.0);
        }
        assert!(shorted.contactor.unwrap().bus_v < 0.1 * shorted.voltage_v());
    }

    #[test]
    fn the_heater_warms_a_cold_pack() {
        let mut p = pack_of(16, -10.0);
        p.heater_on = true;
        for _ in 0..3600 {
            p.step(0.0, 1.0);
        }
        let t = p.cells.temperature_c(8).unwrap();
        assert!(t > -5.0, "{t}");
    }

    #[test]
    fn heat_stays_inside_its_module() {
        let mut p = pack_of(4, 25.0);
        p.module_cells = 2;
        p.cells.add_heat(1, 20.0);
        for _ in 0..3600 {
            p.step(0.0, 1.0);
        }
        let t = p.cells.temperatures_c();
        // Cell 1 heats its module neighbour (cell 0), not cell 2 across the module wall.
        assert!(t[1] > 27.0 && t[0] > 25.5, "{t:?}");
        assert!(
            (t[2] - 25.0).abs() < 1e-9 && (t[3] - 25.0).abs() < 1e-9,
            "{t:?}"
        );
    }

    #[test]
    fn the_heater_draws_its_power_from_the_cells() {
        let mut p = pack();
        p.heater_on = true;
        let watts = p.model.params.heater_w_per_cell * 16.0;
        let expected_a = -watts / p.voltage_v();
        let flowed = p.step(0.0, 1.0);
        assert!(
            (flowed - expected_a).abs() < 1e-9,
            "{flowed} vs {expected_a}"
        );
        assert!((0..16).all(|i| (p.cells.current_a(i).unwrap() - expected_a).abs() < 1e-9));
    }
}
