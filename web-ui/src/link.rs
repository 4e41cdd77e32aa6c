//! Where bytes come from. Today one source, the emulated device running inside the page; real
//! devices (Web Serial, Web Bluetooth) join here behind a common trait when they arrive.

use emulator::{EmulatedDevice, Scenario, SimulationConfig};

/// Simulated seconds per update of the emulated device.
pub const EMULATED_SECS_PER_TICK: u64 = 60;
/// Wall-clock milliseconds between updates.
pub const TICK_MILLIS: u32 = 500;

/// The emulated pack as a byte source: it produces exactly the frames a Cellsight device
/// would send over a serial port.
#[derive(Debug)]
pub struct EmulatedLink {
    device: EmulatedDevice,
    greeted: bool,
}

impl EmulatedLink {
    /// The default demo: a 16-cell pack on a sunny day, seed 1.
    pub fn demo() -> Result<Self, emulator::Error> {
        Ok(EmulatedLink {
            device: EmulatedDevice::new(SimulationConfig {
                scenario: Scenario::SolarDay,
                seed: 1,
                cell_count: 16,
            })?,
            greeted: false,
        })
    }

    /// The scenario running.
    pub fn scenario(&self) -> Scenario {
        self.device.simulation().config().scenario
    }

    /// Emulated time of day, seconds after midnight (for the emulator console).
    pub fn time_of_day_secs(&self) -> u64 {
        self.device.simulation().time_of_day_secs()
    }

    /// Bytes the device sent since the last poll: its greeting first, then one telemetry frame
    /// per tick.
    pub fn poll(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if !self.greeted {
            self.greeted = true;
            bytes.extend(self.device.hello());
        }
        bytes.extend(self.device.advance(EMULATED_SECS_PER_TICK));
        bytes
    }
}
