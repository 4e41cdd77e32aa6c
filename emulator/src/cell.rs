//! One LiFePO4 cell as an equivalent circuit: OCV(SOC) from a table, a series resistance R0 and
//! one RC pair. Current is positive when charging.

/// OCV of a rested LFP cell at 25 °C, (SOC fraction, volts): the Libre Solar bms-firmware table
/// (mean of charge and discharge, DOMAIN.md §1), extended beyond 0 % and 100 % with steep
/// segments so that over-charge and over-discharge behave like a real cell's knee.
const OCV_TABLE: [(f64, f64); 27] = [
    (-0.10, 1.50),
    (-0.03, 2.30),
    (-0.01, 2.60),
    (0.00, 2.833),
    (0.05, 3.132),
    (0.10, 3.177),
    (0.15, 3.190),
    (0.20, 3.213),
    (0.25, 3.226),
    (0.30, 3.240),
    (0.35, 3.252),
    (0.40, 3.262),
    (0.45, 3.264),
    (0.50, 3.265),
    (0.55, 3.268),
    (0.60, 3.271),
    (0.65, 3.275),
    (0.70, 3.283),
    (0.75, 3.296),
    (0.80, 3.304),
    (0.85, 3.308),
    (0.90, 3.309),
    (0.95, 3.314),
    (1.00, 3.392),
    (1.01, 3.550),
    (1.02, 3.700),
    (1.10, 4.600),
];

/// Open-circuit voltage in volts at `soc` (fraction; values beyond the table are clamped).
pub fn ocv_v(soc: f64) -> f64 {
    let mut prev = OCV_TABLE[0];
    if soc <= prev.0 {
        return prev.1;
    }
    for &(s, v) in &OCV_TABLE[1..] {
        if soc <= s {
            let t = (soc - prev.0) / (s - prev.0);
            return prev.1 + t * (v - prev.1);
        }
        prev = (s, v);
    }
    prev.1
}

/// Parameters of one cell (defaults: 280 Ah LFP prismatic, DOMAIN.md §1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellParams {
    /// Capacity, Ah.
    pub capacity_ah: f64,
    /// Ohmic resistance, Ω.
    pub r0_ohm: f64,
    /// RC pair resistance, Ω.
    pub r1_ohm: f64,
    /// RC pair time constant, s.
    pub tau1_secs: f64,
}

impl Default for CellParams {
    fn default() -> Self {
        CellParams {
            capacity_ah: 280.0,
            r0_ohm: 0.30e-3,
            r1_ohm: 0.25e-3,
            tau1_secs: 45.0,
        }
    }
}

/// A cell's true state.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The cell's parameters (after manufacturing spread).
    pub params: CellParams,
    /// State of charge as a fraction of this cell's capacity (may leave 0..1 when abused).
    pub soc: f64,
    /// Voltage across the RC pair, V.
    pub v_rc1: f64,
    /// Current in the last step, A.
    pub current_a: f64,
}

impl Cell {
    /// A rested cell at `soc`.
    pub fn new(params: CellParams, soc: f64) -> Self {
        Cell {
            params,
            soc,
            v_rc1: 0.0,
            current_a: 0.0,
        }
    }

    /// Passes `current_a` (positive = charge) for `dt_secs`.
    pub fn step(&mut self, current_a: f64, dt_secs: f64) {
        self.soc += current_a * dt_secs / (self.params.capacity_ah * 3600.0);
        // Exact discretisation of the RC pair for a current held over the step.
        let decay = (-dt_secs / self.params.tau1_secs).exp();
        self.v_rc1 = self.v_rc1 * decay + self.params.r1_ohm * current_a * (1.0 - decay);
        self.current_a = current_a;
    }

    /// Terminal voltage, V.
    pub fn voltage_v(&self) -> f64 {
        ocv_v(self.soc) + self.current_a * self.params.r0_ohm + self.v_rc1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocv_matches_the_table_and_interpolates() {
        assert!((ocv_v(0.5) - 3.265).abs() < 1e-9);
        assert!((ocv_v(0.525) - 3.2665).abs() < 1e-9);
        assert!((ocv_v(1.0) - 3.392).abs() < 1e-9);
        assert!((ocv_v(5.0) - 4.6).abs() < 1e-9);
        assert!((ocv_v(-5.0) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn ocv_never_decreases_with_soc() {
        let mut last = 0.0;
        for i in -200..=1200 {
            let v = ocv_v(f64::from(i) / 1000.0);
            assert!(v >= last, "OCV falls at soc {i}‰");
            last = v;
        }
    }

    #[test]
    fn one_hour_at_one_c_moves_the_whole_capacity() {
        let mut cell = Cell::new(CellParams::default(), 0.0);
        for _ in 0..3600 {
            cell.step(280.0, 1.0);
        }
        assert!((cell.soc - 1.0).abs() < 1e-9);
    }

    #[test]
    fn charging_raises_and_discharging_lowers_the_terminal_voltage() {
        let mut cell = Cell::new(CellParams::default(), 0.5);
        cell.step(100.0, 600.0);
        let charging = cell.voltage_v();
        // R0 drop 30 mV plus a nearly settled RC pair (25 mV) on top of the OCV.
        assert!((charging - ocv_v(cell.soc) - 0.055).abs() < 0.001);
        let mut cell = Cell::new(CellParams::default(), 0.5);
        cell.step(-100.0, 600.0);
        assert!(cell.voltage_v() < ocv_v(cell.soc) - 0.05);
    }
}
