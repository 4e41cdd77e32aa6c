//! The analog front end as the BMS sees it: noisy, quantised readings of the true pack.

use crate::Pack;
use bms_engine::Measurement;
use rand::Rng;
use rand_distr::StandardNormal;

/// Sensor imperfections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorParams {
    /// Cell-voltage noise, σ in mV (quantised to 1 mV after noise).
    pub voltage_noise_mv: f64,
    /// Current noise, σ in mA.
    pub current_noise_ma: f64,
    /// Number of temperature sensors on the pack.
    pub temperature_count: usize,
    /// Temperature noise, σ in °C (quantised to 0.1 °C after noise).
    pub temperature_noise_c: f64,
}

impl Default for SensorParams {
    fn default() -> Self {
        SensorParams {
            voltage_noise_mv: 1.0,
            current_noise_ma: 50.0,
            temperature_count: 2,
            temperature_noise_c: 0.05,
        }
    }
}

/// Reads a [`Pack`] into a [`Measurement`].
#[derive(Debug, Clone)]
pub struct Sensors {
    voltage_noise_mv: f64,
    current_noise_ma: f64,
    temperature_count: usize,
    temperature_noise_c: f64,
}

impl Sensors {
    /// Sensors with the given imperfections (a negative or non-finite σ counts as 0).
    pub fn new(params: SensorParams) -> Self {
        let sigma = |s: f64| if s.is_finite() { s.max(0.0) } else { 0.0 };
        Sensors {
            voltage_noise_mv: sigma(params.voltage_noise_mv),
            current_noise_ma: sigma(params.current_noise_ma),
            temperature_count: params.temperature_count.min(bms_engine::MAX_TEMPERATURES),
            temperature_noise_c: sigma(params.temperature_noise_c),
        }
    }

    /// One snapshot of `pack` carrying `current_a`, with the pack at `temperature_c`.
    pub fn measure(
        &self,
        pack: &Pack,
        current_a: f64,
        temperature_c: f64,
        rng: &mut impl Rng,
    ) -> Measurement {
        let mut voltages = [0_u16; bms_engine::MAX_CELLS];
        let count = pack.cells.len().min(bms_engine::MAX_CELLS);
        for (slot, cell) in voltages.iter_mut().zip(&pack.cells) {
            let mv = cell.voltage_v() * 1000.0
                + self.voltage_noise_mv * rng.sample::<f64, _>(StandardNormal);
            *slot = mv.round().clamp(0.0, f64::from(u16::MAX)) as u16;
        }
        let current_ma = (current_a * 1000.0
            + self.current_noise_ma * rng.sample::<f64, _>(StandardNormal))
        .round()
        .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        // `count` is capped at MAX_CELLS so this cannot fail; an empty snapshot (which the
        // engine treats as implausible and answers by opening the switches) is the fail-safe.
        let cells = voltages.get(..count).unwrap_or_default();
        let mut m = Measurement::new(cells, current_ma).unwrap_or_default();
        m.current_ma = current_ma;
        for _ in 0..self.temperature_count {
            let t = temperature_c + self.temperature_noise_c * rng.sample::<f64, _>(StandardNormal);
            // Capacity is MAX_TEMPERATURES and the count is capped to it.
            let _ = m
                .temperatures_deci_c
                .push(bms_engine::deci_c_from_celsius(t as f32));
        }
        m
    }
}
