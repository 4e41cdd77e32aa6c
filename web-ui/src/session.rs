//! The dashboard's data: frames in, a telemetry model out. Plain Rust with no browser types, so
//! it is tested natively; views read it through signals.

use bms_engine::protocol::{DeviceInfo, FrameDecoder, Message, Telemetry};
use bms_engine::{Error, Fault, FaultSet};

/// Seconds without a frame after which the link counts as silent.
pub const SILENT_AFTER_MS: f64 = 5_000.0;

/// One decoded state report, in display units.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Device uptime, s.
    pub uptime_secs: f64,
    /// Pack voltage, V.
    pub pack_voltage_v: f64,
    /// Pack current, A (positive charges).
    pub current_a: f64,
    /// State of charge, %.
    pub soc_pct: f64,
    /// Cell voltages, V, cell 1 first.
    pub cell_voltages_v: Vec<f64>,
    /// Whether the charge switch is closed.
    pub charge_switch_on: bool,
    /// Whether the discharge switch is closed.
    pub discharge_switch_on: bool,
    /// Active faults.
    pub faults: Vec<Fault>,
}

impl Reading {
    fn from_telemetry(t: &Telemetry) -> Self {
        Reading {
            uptime_secs: t.uptime_ms as f64 / 1000.0,
            pack_voltage_v: f64::from(t.pack_voltage_mv) / 1000.0,
            current_a: f64::from(t.current_ma) / 1000.0,
            soc_pct: f64::from(t.soc_permille) / 10.0,
            cell_voltages_v: t
                .cell_voltages_mv
                .iter()
                .map(|&mv| f64::from(mv) / 1000.0)
                .collect(),
            charge_switch_on: t.charge_switch_on,
            discharge_switch_on: t.discharge_switch_on,
            faults: FaultSet::from_bits(t.fault_bits).iter().collect(),
        }
    }

    /// Pack power, W (positive charges).
    pub fn power_w(&self) -> f64 {
        self.pack_voltage_v * self.current_a
    }

    /// Lowest cell: (cell number from 1, volts); on a tie, the first such cell.
    pub fn min_cell(&self) -> Option<(usize, f64)> {
        self.extreme(|candidate, best| candidate < best)
    }

    /// Highest cell: (cell number from 1, volts); on a tie, the first such cell.
    pub fn max_cell(&self) -> Option<(usize, f64)> {
        self.extreme(|candidate, best| candidate > best)
    }

    fn extreme(&self, better: fn(f64, f64) -> bool) -> Option<(usize, f64)> {
        let mut cells = self.cell_voltages_v.iter().copied().enumerate();
        let first = cells.next()?;
        let (i, v) = cells.fold(first, |best, c| if better(c.1, best.1) { c } else { best });
        Some((i + 1, v))
    }
}

/// How the link to the device is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkState {
    /// Nothing received yet.
    Waiting,
    /// Frames are arriving.
    Live,
    /// Frames stopped arriving this many seconds ago.
    Silent {
        /// Seconds since the last good frame.
        secs: f64,
    },
}

/// Everything the dashboard knows about the connected device.
#[derive(Debug, Clone, Default)]
pub struct Session {
    decoder: FrameDecoder,
    /// Identity, once the device has sent it.
    pub device: Option<DeviceInfo>,
    /// The latest state report.
    pub latest: Option<Reading>,
    /// Frames decoded.
    pub frames_ok: u64,
    /// Frames rejected (bad checksum, bad encoding, unknown version…).
    pub frames_rejected: u64,
    /// Why the last frame was rejected.
    pub last_error: Option<Error>,
    /// When the last good frame arrived, ms on the caller's clock.
    pub last_frame_at_ms: Option<f64>,
}

impl Session {
    /// Feeds bytes received at `now_ms`; rejected frames are counted, never shown as data.
    pub fn ingest(&mut self, bytes: &[u8], now_ms: f64) {
        let mut decoder = std::mem::take(&mut self.decoder);
        decoder.feed(bytes, |result| match result {
            Ok(message) => {
                self.frames_ok += 1;
                self.last_frame_at_ms = Some(now_ms);
                match message {
                    Message::DeviceInfo(info) => self.device = Some(info),
                    Message::Telemetry(t) => self.latest = Some(Reading::from_telemetry(&t)),
                }
            }
            Err(error) => {
                self.frames_rejected += 1;
                self.last_error = Some(error);
            }
        });
        self.decoder = decoder;
    }

    /// The link's state at `now_ms`.
    pub fn link_state(&self, now_ms: f64) -> LinkState {
        match self.last_frame_at_ms {
            None => LinkState::Waiting,
            Some(at) if now_ms - at > SILENT_AFTER_MS => LinkState::Silent {
                secs: (now_ms - at) / 1000.0,
            },
            Some(_) => LinkState::Live,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator::{EmulatedDevice, Scenario, SimulationConfig};

    fn device() -> EmulatedDevice {
        EmulatedDevice::new(SimulationConfig {
            scenario: Scenario::SolarDay,
            seed: 1,
            cell_count: 16,
        })
        .unwrap()
    }

    #[test]
    fn frames_from_the_emulated_device_become_readings() {
        let mut dev = device();
        let mut session = Session::default();
        assert_eq!(session.link_state(0.0), LinkState::Waiting);
        session.ingest(&dev.hello(), 0.0);
        session.ingest(&dev.advance(60), 500.0);
        assert_eq!(session.frames_ok, 2);
        assert_eq!(session.device.as_ref().unwrap().cell_count, 16);
        let r = session.latest.as_ref().unwrap();
        assert_eq!(r.cell_voltages_v.len(), 16);
        assert!((r.uptime_secs - 60.0).abs() < 1e-9);
        let sum: f64 = r.cell_voltages_v.iter().sum();
        assert!((sum - r.pack_voltage_v).abs() < 1e-6);
        assert!(r.charge_switch_on && r.discharge_switch_on);
        assert_eq!(session.link_state(1_000.0), LinkState::Live);
        assert_eq!(session.link_state(7_500.0), LinkState::Silent { secs: 7.0 });
    }

    #[test]
    fn corrupt_frames_are_counted_and_never_shown() {
        let mut dev = device();
        let mut session = Session::default();
        session.ingest(&dev.advance(1), 0.0);
        let good = session.latest.clone();
        let mut bad = dev.advance(1);
        bad[3] ^= 0x40;
        session.ingest(&bad, 100.0);
        assert_eq!(session.frames_rejected, 1);
        assert!(session.last_error.is_some());
        assert_eq!(
            session.latest, good,
            "a rejected frame must not change the view"
        );
        assert_eq!(session.last_frame_at_ms, Some(0.0));
    }

    #[test]
    fn extremes_are_numbered_from_one() {
        let r = Reading {
            uptime_secs: 0.0,
            pack_voltage_v: 9.9,
            current_a: -2.0,
            soc_pct: 50.0,
            cell_voltages_v: vec![3.3, 3.2, 3.4],
            charge_switch_on: true,
            discharge_switch_on: true,
            faults: vec![],
        };
        assert_eq!(r.min_cell(), Some((2, 3.2)));
        assert_eq!(r.max_cell(), Some((3, 3.4)));
        let ties = Reading {
            cell_voltages_v: vec![3.3, 3.4, 3.2, 3.4, 3.2],
            ..r.clone()
        };
        // The same cell the chart highlights: the first of equal extremes.
        assert_eq!(ties.max_cell(), Some((2, 3.4)));
        assert_eq!(ties.min_cell(), Some((3, 3.2)));
        assert!((r.power_w() + 19.8).abs() < 1e-9);
    }
}
