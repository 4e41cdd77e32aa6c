//! The emulated Cellsight device: emulator plus engine behind the wire protocol. To whoever
//! holds it, it is a source of frames exactly like real hardware on a serial port.

use crate::{Error, Simulation, SimulationConfig};
use bms_engine::protocol::{DeviceInfo, MAX_FRAME_LEN, Message, encode_frame};

/// Firmware string the emulated device reports.
pub const FIRMWARE: &str = concat!("cellsight-emulator ", env!("CARGO_PKG_VERSION"));

/// A simulated battery that speaks the Cellsight wire protocol.
#[derive(Debug, Clone)]
pub struct EmulatedDevice {
    sim: Simulation,
}

impl EmulatedDevice {
    /// A device running `config`.
    pub fn new(config: SimulationConfig) -> Result<Self, Error> {
        Ok(EmulatedDevice {
            sim: Simulation::new(config)?,
        })
    }

    /// The simulation behind the device (the truth, for emulator-mode views and tests).
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// The frame a device sends on connect: who it is.
    pub fn hello(&self) -> Vec<u8> {
        let info = DeviceInfo {
            firmware: heapless_firmware(),
            emulated: true,
            cell_count: u8::try_from(self.sim.config().cell_count).unwrap_or(u8::MAX),
            capacity_mah: self.sim.engine_config().capacity_mah,
        };
        frame(&Message::DeviceInfo(info))
    }

    /// Runs `secs` simulated seconds and returns the telemetry frame sent at the end.
    pub fn advance(&mut self, secs: u64) -> Vec<u8> {
        self.sim.run_for(secs);
        frame(&Message::Telemetry(self.sim.telemetry()))
    }
}

fn heapless_firmware() -> bms_engine::protocol::FirmwareName {
    bms_engine::protocol::FirmwareName::try_from(FIRMWARE).unwrap_or_default()
}

fn frame(message: &Message) -> Vec<u8> {
    let mut out = [0_u8; MAX_FRAME_LEN];
    // Every message fits in MAX_FRAME_LEN (tested in bms-engine); an empty write is the
    // fail-safe outcome should that ever break: the receiver then sees no data.
    match encode_frame(message, &mut out) {
        Ok(n) => out.get(..n).unwrap_or_default().to_vec(),
        Err(_) => Vec::new(),
    }
}
