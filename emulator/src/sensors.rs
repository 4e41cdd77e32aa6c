//! The analog front end as the BMS sees it: per-channel gain and offset errors, noise and
//! quantisation on the cell voltages; offset, gain error and noise on the current; temperature
//! sensors placed along the string.

use crate::Pack;
use bms_engine::{MAX_CELLS, Measurement};
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

/// σ of a sum of four uniform 16-bit integers: 65 536 · √(4 / 12).
const IRWIN_HALL_4_SIGMA: f64 = 37_837.23;

/// Standard normal noise from one 64-bit draw, approximated by the Irwin–Hall sum of its four
/// 16-bit parts. Its tails end at ±3.46 σ, which quantised sensor noise never misses.
fn irwin_hall(r: u64) -> f64 {
    let sum = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
    // Below 2^18: through i64, which x86-64 converts in one instruction (u64 takes several).
    (sum as i64 as f64 - 2.0 * 65_535.0) * (1.0 / IRWIN_HALL_4_SIGMA)
}

/// A channel's reading in mV: `mv` rounded half away from zero, then clamped to what a u16
/// holds (a negative voltage reads 0). Clamped before it is rounded, which comes to the same
/// and converts without the checks a saturating conversion to i64 needs.
fn channel_mv(mv: f64) -> u16 {
    (mv.max(0.0) + 0.5).min(f64::from(u16::MAX)) as u16
}

/// Rounds half away from zero to an integer, saturating (no libm call on baseline x86-64).
fn round_i64(x: f64) -> i64 {
    (x + 0.5_f64.copysign(x)) as i64
}

/// Sensor imperfections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorParams {
    /// Cell-voltage noise, σ in mV (quantised to 1 mV after noise).
    pub voltage_noise_mv: f64,
    /// Largest per-channel voltage offset, mV (drawn uniformly per channel).
    pub voltage_offset_mv: f64,
    /// Per-channel voltage gain error, σ as a fraction.
    pub voltage_gain_sigma: f64,
    /// Current noise, σ in mA.
    pub current_noise_ma: f64,
    /// Current-sensor offset, A.
    pub current_offset_a: f64,
    /// Current-sensor gain error, fraction.
    pub current_gain_error: f64,
    /// Number of temperature sensors on the pack.
    pub temperature_count: usize,
    /// Temperature noise, σ in °C (quantised to 0.1 °C after noise).
    pub temperature_noise_c: f64,
}

impl Default for SensorParams {
    fn default() -> Self {
        SensorParams {
            voltage_noise_mv: 1.0,
            voltage_offset_mv: 0.0,
            voltage_gain_sigma: 0.0,
            current_noise_ma: 50.0,
            current_offset_a: 0.0,
            current_gain_error: 0.0,
            temperature_count: 2,
            temperature_noise_c: 0.05,
        }
    }
}

/// Reads a [`Pack`] into a [`Measurement`].
#[derive(Debug, Clone)]
pub struct Sensors {
    params: SensorParams,
    /// Per-channel (offset mV, gain factor).
    channels: Vec<(f64, f64)>,
    /// Temperature sensors that read a fixed value (stuck), by index.
    pub stuck_temperatures: Vec<Option<i16>>,
    /// Cell channels whose sense wire is open.
    pub open_wires: Vec<usize>,
    /// Extra current-sensor offset drifting in (fault injection), A.
    pub current_drift_a: f64,
    /// Whether the front end answers (fault injection: lost communication).
    pub front_end_ok: bool,
    /// The front end's hardware has tripped on a short circuit and reports it.
    pub short_circuit: bool,
    /// The noise source, seeded once from the simulation's generator: a fast generator, since
    /// every channel draws once per step.
    noise: Xoshiro256PlusPlus,
}

impl Sensors {
    /// Sensors with the given imperfections for `cell_count` channels; per-channel errors are
    /// drawn from `rng`. A negative or non-finite σ counts as 0.
    pub fn new(params: SensorParams, cell_count: usize, rng: &mut impl Rng) -> Self {
        let clean = |s: f64| if s.is_finite() { s.max(0.0) } else { 0.0 };
        let params = SensorParams {
            voltage_noise_mv: clean(params.voltage_noise_mv),
            voltage_offset_mv: clean(params.voltage_offset_mv),
            voltage_gain_sigma: clean(params.voltage_gain_sigma),
            current_noise_ma: clean(params.current_noise_ma),
            temperature_noise_c: clean(params.temperature_noise_c),
            temperature_count: params.temperature_count.min(bms_engine::MAX_TEMPERATURES),
            ..params
        };
        let channels = (0..cell_count)
            .map(|_| {
                let offset = params.voltage_offset_mv * rng.random_range(-1.0..=1.0);
                let gain = 1.0 + params.voltage_gain_sigma * rng.sample::<f64, _>(StandardNormal);
                (offset, gain)
            })
            .collect();
        Sensors {
            stuck_temperatures: vec![None; params.temperature_count],
            params,
            channels,
            open_wires: Vec::new(),
            current_drift_a: 0.0,
            front_end_ok: true,
            short_circuit: false,
            noise: Xoshiro256PlusPlus::seed_from_u64(rng.next_u64()),
        }
    }

    /// One draw of standard normal noise.
    fn gaussian(&mut self) -> f64 {
        irwin_hall(self.noise.next_u64())
    }

    /// The current sensor's offset now (configured plus drift), A.
    pub fn current_bias_a(&self) -> f64 {
        self.params.current_offset_a + self.current_drift_a
    }

    /// Index of the cell temperature sensor `k` sits on (spread evenly along the string).
    pub fn sensor_cell(&self, k: usize, cell_count: usize) -> usize {
        let count = self.params.temperature_count.max(1);
        ((2 * k + 1) * cell_count / (2 * count)).min(cell_count.saturating_sub(1))
    }

    /// One snapshot of `pack` carrying `current_a` (from no earlier one: a front end that
    /// does not answer gives an empty snapshot, marked stale).
    pub fn measure(&mut self, pack: &Pack, current_a: f64) -> Measurement {
        let mut m = Measurement::default();
        self.measure_into(pack, current_a, &mut m);
        m
    }

    /// One snapshot of `pack` carrying `current_a`, written over `m`, which holds the last
    /// one: a front end that does not answer leaves it as it was, marked stale (what the BMS
    /// holds when its front end goes silent). In place, because it runs every simulated
    /// second: returning and keeping a snapshot copied it three times.
    pub fn measure_into(&mut self, pack: &Pack, current_a: f64, m: &mut Measurement) {
        if !self.front_end_ok {
            m.fresh = false;
            return;
        }
        let noise_mv = self.params.voltage_noise_mv;
        // The channel count is capped at MAX_CELLS by the engine's configuration; a longer
        // pack would leave the rest out, and the engine would see a shape mismatch.
        let voltages = pack.cells.voltages_v();
        let channels = voltages.len().min(self.channels.len()).min(MAX_CELLS);
        // The draws first (one stream, channel by channel, as before), then the channels in a
        // loop without calls.
        let mut draws = [0_u64; MAX_CELLS];
        for draw in draws.iter_mut().take(channels) {
            *draw = self.noise.next_u64();
        }
        let mut readings = [0_u16; MAX_CELLS];
        for (((reading, &v), &(offset, gain)), &r) in readings
            .iter_mut()
            .zip(voltages)
            .zip(&self.channels)
            .zip(&draws)
            .take(channels)
        {
            let true_mv = v * 1000.0;
            let mv = true_mv * gain + offset + noise_mv * irwin_hall(r);
            *reading = channel_mv(mv);
        }
        // An open sense wire floats the channel to near zero.
        for &i in &self.open_wires {
            if let (Some(reading), Some(&r)) = (readings.get_mut(i), draws.get(i)) {
                *reading = channel_mv(5.0 * irwin_hall(r).abs());
            }
        }
        m.cell_voltages_mv.clear();
        let _ = m
            .cell_voltages_mv
            .extend_from_slice(readings.get(..channels).unwrap_or_default());
        let sensed_a = current_a * (1.0 + self.params.current_gain_error)
            + self.params.current_offset_a
            + self.current_drift_a;
        let current_ma =
            round_i64(sensed_a * 1000.0 + self.params.current_noise_ma * self.gaussian())
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        m.current_ma = current_ma;
        m.pack_voltage_mv = None;
        m.charger_present = None;
        m.fresh = true;
        m.short_circuit = self.short_circuit;
        m.bus_voltage_mv = pack
            .contactor
            .map(|c| (c.bus_v * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32);
        m.temperatures_deci_c.clear();
        for k in 0..self.params.temperature_count {
            let reading = match self.stuck_temperatures.get(k).copied().flatten() {
                Some(stuck) => Some(stuck),
                None => {
                    let cell = self.sensor_cell(k, pack.cells.len());
                    let t = pack.cells.temperature_c(cell).unwrap_or(pack.ambient_c)
                        + self.params.temperature_noise_c * self.gaussian();
                    bms_engine::deci_c_from_celsius(t as f32)
                }
            };
            // Capacity is MAX_TEMPERATURES and the count is capped to it.
            let _ = m.temperatures_deci_c.push(reading);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CellModel;
    use bms_engine::BalancerKind;
    use rand_chacha::ChaCha8Rng;

    fn pack_and_sensors() -> (Pack, Sensors) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let passive = BalancerKind::Passive {
            bleed_current_ma: 60,
            max_channels: 8,
            no_adjacent: true,
        };
        let model = CellModel::lfp_280ah().unwrap();
        let pack = Pack::new(8, 1, model, 0.5, 0.0, 25.0, passive, &mut rng);
        let sensors = Sensors::new(SensorParams::default(), 8, &mut rng);
        (pack, sensors)
    }

    #[test]
    fn a_snapshot_in_place_is_a_fresh_one_whatever_the_slot_held() {
        let (pack, mut sensors) = pack_and_sensors();
        let mut twin = sensors.clone();
        let mut slot = Measurement::new(&[4_000; 12], 99_000)
            .unwrap()
            .with_temperatures(&[Some(900); 5])
            .unwrap();
        slot.pack_voltage_mv = Some(1);
        slot.charger_present = Some(true);
        slot.fresh = false;
        sensors.measure_into(&pack, -40.0, &mut slot);
        assert_eq!(slot, twin.measure(&pack, -40.0));
        assert_eq!(
            (slot.cell_voltages_mv.len(), slot.temperatures_deci_c.len()),
            (8, 2)
        );
        assert!(slot.fresh);
    }

    #[test]
    fn a_silent_front_end_leaves_the_last_snapshot_marked_stale() {
        let (pack, mut sensors) = pack_and_sensors();
        let mut slot = sensors.measure(&pack, 10.0);
        let last = slot.clone();
        sensors.front_end_ok = false;
        sensors.measure_into(&pack, 10.0, &mut slot);
        assert_eq!(
            slot,
            Measurement {
                fresh: false,
                ..last
            }
        );
        assert_eq!(
            sensors.measure(&pack, 10.0),
            Measurement::default(),
            "from no earlier snapshot: empty and stale"
        );
    }
}
