//! The emulated Cellsight device: emulator plus engine behind the wire protocol. To whoever
//! holds it, it is a source (and sink) of frames exactly like real hardware on a serial port:
//! it greets with `DeviceInfo`, sends `Telemetry` followed by any new `Event`s on every update,
//! and answers host requests (configuration, commands) through [`bms_engine::protocol::respond`].
//!
//! Set up with several packs (`SimulationConfig::packs`), it runs a [`Bank`] and is the BMS of
//! one pack, pack 1 until [`EmulatedDevice::select_pack`] picks another (as a real bank has one
//! BMS a pack, and a laptop is plugged into one at a time): its stream, its configuration and
//! the faults injected are that pack's. [`EmulatedDevice::pack_frames`] gives every pack's
//! latest telemetry frame, as a host that reads every pack's BMS would get them.

use crate::{Bank, Error, Simulation, SimulationConfig};
use bms_engine::protocol::{
    Capabilities, DeviceInfo, DeviceMessage, FirmwareName, FrameDecoder, HostMessage,
    MAX_FRAME_LEN, PROTOCOL_VERSION, encode_frame, respond,
};

/// Firmware string the emulated device reports.
pub const FIRMWARE: &str = concat!("cellsight-emulator ", env!("CARGO_PKG_VERSION"));

/// What the device runs: one pack, or a bank whose pack 1 it is the BMS of.
#[derive(Debug, Clone)]
enum World {
    Pack(Box<Simulation>),
    Bank(Box<Bank>),
}

/// A simulated battery that speaks the Cellsight wire protocol.
#[derive(Debug, Clone)]
pub struct EmulatedDevice {
    world: World,
    /// The pack whose BMS this is, 0-based (always 0 for a pack on its own).
    pack: usize,
    decoder: FrameDecoder<HostMessage>,
    events_sent: u64,
}

impl EmulatedDevice {
    /// A device running `config` (a bank when it asks for more than one pack).
    pub fn new(config: SimulationConfig) -> Result<Self, Error> {
        let world = if config.packs > 1 {
            World::Bank(Box::new(Bank::new(config)?))
        } else {
            World::Pack(Box::new(Simulation::new(config)?))
        };
        Ok(EmulatedDevice {
            world,
            pack: 0,
            decoder: FrameDecoder::new(),
            events_sent: 0,
        })
    }

    /// Makes this the BMS of pack `pack` (0-based) of the bank: from now on the stream,
    /// configuration and injected faults are that pack's, and its next update sends its whole
    /// event log, as a device does to a host that has just connected. `false` (and nothing
    /// changes) for a pack the bank does not have, or without a bank.
    pub fn select_pack(&mut self, pack: usize) -> bool {
        let exists = self.bank().is_some_and(|b| pack < b.packs().len());
        if exists {
            self.pack = pack;
            self.events_sent = 0;
            self.decoder = FrameDecoder::new();
        }
        exists
    }

    /// The pack whose BMS this is, 0-based.
    pub fn pack(&self) -> usize {
        self.pack
    }

    /// The simulation behind the device (the truth, for emulator-mode views and tests): its
    /// pack, the selected one of a bank.
    pub fn simulation(&self) -> &Simulation {
        match &self.world {
            World::Pack(sim) => sim,
            // `select_pack` keeps the index within the bank, which holds at least one pack.
            World::Bank(bank) => bank
                .packs()
                .get(self.pack)
                .unwrap_or_else(|| unreachable!()),
        }
    }

    fn simulation_mut(&mut self) -> Option<&mut Simulation> {
        match &mut self.world {
            World::Pack(sim) => Some(sim),
            World::Bank(bank) => bank.pack_mut(self.pack),
        }
    }

    /// The set-up running (with its pack count).
    pub fn config(&self) -> &SimulationConfig {
        match &self.world {
            World::Pack(sim) => sim.config(),
            World::Bank(bank) => bank.config(),
        }
    }

    /// The bank, when the device is one pack's BMS of several in parallel.
    pub fn bank(&self) -> Option<&Bank> {
        match &self.world {
            World::Pack(_) => None,
            World::Bank(bank) => Some(bank),
        }
    }

    /// Where power flows in the home now: the whole bank's, when there is one.
    pub fn power_flow(&self) -> crate::PowerFlow {
        match &self.world {
            World::Pack(sim) => sim.power_flow(),
            World::Bank(bank) => bank.power_flow(),
        }
    }

    /// Every pack's telemetry frame as its BMS would send it now, pack 1 first; empty for a
    /// pack on its own (its stream says it all).
    pub fn pack_frames(&self) -> Vec<Vec<u8>> {
        self.bank().map_or_else(Vec::new, |bank| {
            bank.packs()
                .iter()
                .map(|sim| frame(&DeviceMessage::Telemetry(sim.telemetry())))
                .collect()
        })
    }

    /// Every pack's part of the bank's changes as the bank's controller has measured them
    /// ([`Bank::pack_parts`]), pack 1 first; empty for a pack on its own.
    pub fn pack_parts(&self) -> Vec<(Option<u16>, Option<u16>)> {
        self.bank().map_or_else(Vec::new, Bank::pack_parts)
    }

    fn run_for(&mut self, secs: u64) {
        match &mut self.world {
            World::Pack(sim) => sim.run_for(secs),
            World::Bank(bank) => bank.run_for(secs),
        }
    }

    /// The frame a device sends on connect: who it is.
    pub fn hello(&self) -> Vec<u8> {
        frame(&DeviceMessage::DeviceInfo(self.device_info()))
    }

    fn device_info(&self) -> DeviceInfo {
        let config = self.simulation().engine_config();
        DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            firmware: FirmwareName::try_from(FIRMWARE).unwrap_or_default(),
            emulated: true,
            cell_count: config.cell_count,
            temperature_count: config.temperature_count,
            capacity_mah: config.capacity_mah,
            capabilities: Capabilities {
                switches: config.switches,
                balancer: config.balancer,
                heater: false,
                fan: false,
                inverter_can: false,
            },
        }
    }

    /// Runs `secs` simulated seconds and returns what the device sends at the end: a telemetry
    /// frame, then one frame per event recorded since the last update.
    pub fn advance(&mut self, secs: u64) -> Vec<u8> {
        self.run_for(secs);
        let sim = self.simulation();
        let mut bytes = frame(&DeviceMessage::Telemetry(sim.telemetry()));
        let log = sim.engine().event_log();
        for (sequence, event) in log.since(self.events_sent) {
            bytes.extend(frame(&DeviceMessage::Event {
                sequence,
                event: *event,
            }));
        }
        self.events_sent = log.recorded();
        bytes
    }

    /// Advances `secs` seconds reporting as a real device does at 1 Hz: a telemetry frame after
    /// every second, each event right after the second it was recorded in. With `secs` 0, one
    /// telemetry frame of the present state (a paused device keeps reporting).
    pub fn advance_reporting_each_second(&mut self, secs: u64) -> Vec<u8> {
        if secs == 0 {
            return self.advance(0);
        }
        let mut bytes = Vec::new();
        for _ in 0..secs {
            bytes.extend(self.advance(1));
        }
        bytes
    }

    /// Injects `fault` into the emulated pack now (the console's fault button): the selected
    /// pack of a bank (a charger ignoring the limits pushes into the whole bus).
    pub fn inject(&mut self, fault: crate::InjectedFault) {
        match &mut self.world {
            World::Pack(sim) => sim.inject(fault),
            World::Bank(bank) => bank.inject(self.pack, fault),
        }
    }

    /// Runs until the engine records an event, at most `max_secs`, stopping at the second the
    /// event comes; returns what the device sends then and whether an event came. In a bank,
    /// the device's own engine: the selected pack's.
    pub fn advance_to_next_event(&mut self, max_secs: u64) -> (Vec<u8>, bool) {
        let before = self.simulation().engine().event_log().recorded();
        for _ in 0..max_secs {
            self.run_for(1);
            if self.simulation().engine().event_log().recorded() > before {
                return (self.advance(0), true);
            }
        }
        (self.advance(0), false)
    }

    /// Takes bytes from the host and returns the device's answers. Corrupt frames are dropped
    /// (a real device cannot answer what it cannot read); a frame of another protocol version is
    /// answered with `VersionMismatch`.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut requests = Vec::new();
        let mut out = Vec::new();
        self.decoder.feed(bytes, |result| match result {
            Ok(request) => requests.push(request),
            Err(bms_engine::Error::UnsupportedVersion { found }) => {
                out.extend(frame(&DeviceMessage::VersionMismatch {
                    device_version: PROTOCOL_VERSION,
                    host_version: found,
                }));
            }
            Err(_) => {}
        });
        for request in requests {
            if let HostMessage::Hello { .. } = request {
                out.extend(self.hello());
            }
            let Some(sim) = self.simulation_mut() else {
                continue;
            };
            respond(sim.engine_mut(), &request, |reply| {
                out.extend(frame(&reply));
            });
        }
        out
    }
}

fn frame(message: &DeviceMessage) -> Vec<u8> {
    let mut out = [0_u8; MAX_FRAME_LEN];
    // Every message fits in MAX_FRAME_LEN (tested in bms-engine); an empty write is the
    // fail-safe outcome should that ever break: the receiver then sees no data.
    match encode_frame(message, &mut out) {
        Ok(n) => out.get(..n).unwrap_or_default().to_vec(),
        Err(_) => Vec::new(),
    }
}
