//! The Cellsight wire protocol: the one schema shared by firmware, emulator and dashboard.
//! The full specification, with every message's fields, is `docs/protocol.md`.
//!
//! # Frame layout
//!
//! ```text
//! COBS( version:u8 | postcard(message) | crc16:u16 little-endian ) 0x00
//! ```
//!
//! * `version` is [`PROTOCOL_VERSION`]. A receiver rejects any other with
//!   [`Error::UnsupportedVersion`]; a device answers such a frame with
//!   [`DeviceMessage::VersionMismatch`] so the host can say which side to update.
//! * `postcard(message)`: a [`DeviceMessage`] from the device or a [`HostMessage`] from the host —
//!   the variant index as a varint, then the fields in declaration order (integers as varints,
//!   signed ones zig-zag encoded; `bool` one byte; `Option` a 0/1 byte then the value; sequences
//!   and strings length-prefixed). postcard is not self-describing: both ends use these types.
//! * `crc16` is CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, a.k.a. CCITT-FALSE) over `version` and
//!   the postcard bytes.
//! * COBS removes every zero byte, so 0x00 ends a frame and a receiver that joins mid-stream or
//!   meets garbage resynchronises at the next 0x00.
//!
//! Only this module (and the configuration and event types it carries) derives serde; golden
//! bytes in `tests/golden/` freeze every message. Changing a message means a new version.

use crate::balancing::Transfer;
use crate::config::MAX_VIOLATIONS;
use crate::limits::Limits;
use crate::switches::ContactorState;
use crate::{
    BalancerKind, Engine, Error, Event, MAX_CELLS, MAX_TEMPERATURES, Measurement, Outputs,
    PackConfig, SwitchKind,
};
use crc::{CRC_16_IBM_3740, Crc};
use heapless::{String, Vec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Version byte at the start of every frame.
pub const PROTOCOL_VERSION: u8 = 8;

/// Most a report says of one cell's resistance, µΩ (2 Ω: a cell or connection that far gone is
/// as good as open). Keeps each value within three varint bytes, so that the largest report of
/// [`MAX_CELLS`] cells fits in a frame.
pub const MAX_CELL_R0_MICRO_OHM: u32 = 2_000_000;

/// Longest encoded frame, including the trailing 0x00 delimiter: the largest report of
/// [`MAX_CELLS`] cells with every field at its widest (541 bytes before COBS since version 6's
/// capacities) fits, with room to spare.
pub const MAX_FRAME_LEN: usize = 640;

/// Longest message body (version + postcard + CRC) that still fits in [`MAX_FRAME_LEN`].
const MAX_BODY_LEN: usize = MAX_FRAME_LEN - 1 - cobs::max_encoding_overhead(MAX_FRAME_LEN);

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// Firmware name text as carried by [`DeviceInfo`].
pub type FirmwareName = String<32>;

/// What the device's hardware has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Switching hardware.
    pub switches: SwitchKind,
    /// Balancing hardware.
    pub balancer: BalancerKind,
    /// A heater is fitted.
    pub heater: bool,
    /// A fan is fitted.
    pub fan: bool,
    /// The device talks to an inverter over CAN.
    pub inverter_can: bool,
}

/// Who the device is and what it has; sent on connect and in answer to [`HostMessage::Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Protocol version the device speaks.
    pub protocol_version: u8,
    /// Firmware name and version, e.g. `cellsight-emulator 0.1.0`.
    pub firmware: FirmwareName,
    /// Whether the device is the emulator rather than a real battery.
    pub emulated: bool,
    /// Number of series cells monitored.
    pub cell_count: u8,
    /// Number of temperature sensors.
    pub temperature_count: u8,
    /// Nominal capacity, mAh.
    pub capacity_mah: u32,
    /// Hardware capabilities.
    pub capabilities: Capabilities,
}

/// The periodic state report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Device time since start, ms.
    pub uptime_ms: u64,
    /// Pack voltage, mV.
    pub pack_voltage_mv: u32,
    /// Pack current, mA; positive charges the pack.
    pub current_ma: i32,
    /// State of charge (mean of the cells), per mille.
    pub soc_permille: u16,
    /// Its 3σ bound, per mille; `None` from an estimator without one.
    pub soc_bound_permille: Option<u16>,
    /// Usable state of charge of the series string, per mille.
    pub usable_soc_permille: u16,
    /// Each cell's state of charge, per mille, cell 1 first.
    pub cell_soc_permille: Vec<u16, MAX_CELLS>,
    /// State of health (capacity over nominal), per mille, once estimated.
    pub soh_permille: Option<u16>,
    /// Estimated current-sensor bias (measured − true), mA.
    pub current_bias_ma: Option<i32>,
    /// Cell voltages, mV, cell 1 first.
    pub cell_voltages_mv: Vec<u16, MAX_CELLS>,
    /// Temperatures, 0.1 °C, sensor 1 first; `None` where the sensor gave no valid reading.
    pub temperatures_deci_c: Vec<Option<i16>, MAX_TEMPERATURES>,
    /// Current may flow into the pack.
    pub charge_switch_on: bool,
    /// Current may flow out of the pack.
    pub discharge_switch_on: bool,
    /// Contactor sequence, for contactor hardware.
    pub contactor: Option<ContactorState>,
    /// Faults at trip level, [`crate::FaultSet`] bits.
    pub trip_bits: u32,
    /// Faults at derate level.
    pub derate_bits: u32,
    /// Faults at warning level.
    pub warning_bits: u32,
    /// Latched faults.
    pub latched_bits: u32,
    /// Cells being discharged by the balancer (bit 0 = cell 1).
    pub balance_mask: u32,
    /// The active balancer's transfer.
    pub transfer: Option<Transfer>,
    /// Limits for the charger and inverter.
    pub limits: Limits,
    /// Heater on.
    pub heater_on: bool,
    /// Fan on.
    pub fan_on: bool,
    /// Events recorded since start: when it grows, ask for the new ones.
    pub events_recorded: u64,
    /// A host has ordered every switch open ([`Command::ForceSwitchesOff`]) and not yet given
    /// them back ([`Command::ReleaseSwitches`]). Added in version 4 (see
    /// [`WireMessage::decode_older`]).
    pub switches_held_open: bool,
    /// Each cell's ohmic resistance R0 at 25 °C as the estimator has learnt it, µΩ, cell 1
    /// first: a connection gone bad shows as one cell far above the others. 0 for a cell not
    /// yet learnt (no cell is 0 Ω; plain numbers cost the firmware 6 KB less flash than
    /// `Option`s); empty from an estimator that learns none. At most
    /// [`MAX_CELL_R0_MICRO_OHM`]. Added in version 5.
    pub cell_r0_micro_ohm: Vec<u32, MAX_CELLS>,
    /// Each cell's capacity as the estimator has learnt it, 0.1 Ah, cell 1 first: a weak cell
    /// shows as one below the others, and the lowest is the string's (the SOH's). 0 for a cell
    /// not yet learnt; empty from an estimator that learns none; at most 6 553.5 Ah. Added in
    /// version 6, last, so that a version 5 report is a version 6 one without it.
    pub cell_capacity_deci_ah: Vec<u16, MAX_CELLS>,
    /// 1σ of [`Telemetry::current_bias_ma`], mA (at most 65 535): how far the estimate can be
    /// trusted — 1 A before anything is learnt, a tenth of that after days of sun. `None`
    /// with the bias. Added in version 7.
    pub current_bias_sigma_ma: Option<u16>,
    /// The charge switch stands open on a shared bus because the pack wants no charge (see
    /// [`PackConfig::shared_bus`]): open for the other packs' sake, not for a fault. Added in
    /// version 8, last.
    pub charge_standby: bool,
}

impl Telemetry {
    /// What the device tells its inverter over CAN ([`crate::can::pylontech_frames`]) at this
    /// report (see [`crate::can::InverterReport::of_pack`]).
    pub fn inverter_report(&self) -> crate::can::InverterReport {
        crate::can::InverterReport::of_pack(&crate::can::PackState {
            limits: &self.limits,
            soc_permille: self.soc_permille,
            soh_permille: self.soh_permille,
            pack_voltage_mv: self.pack_voltage_mv,
            current_ma: self.current_ma,
            temperatures_deci_c: &self.temperatures_deci_c,
            trips: crate::FaultSet::from_bits(self.trip_bits),
            warnings_and_derates: crate::FaultSet::from_bits(self.warning_bits | self.derate_bits),
            charge_switch_on: self.charge_switch_on,
            discharge_switch_on: self.discharge_switch_on,
        })
    }

    /// This pack as one of a bank ([`crate::system::combine`]), of `capacity_mah`: what it
    /// tells its inverter, its switches, its cells' resistances added up once every cell's is
    /// learnt (a 0 is one not yet learnt), and its charge phase.
    pub fn pack_report(
        &self,
        capacity_mah: u32,
    ) -> (crate::system::PackReport, crate::limits::ChargePhase) {
        let r0 = &self.cell_r0_micro_ohm;
        let learnt = !r0.is_empty() && r0.iter().all(|&r| r > 0);
        (
            crate::system::PackReport {
                report: self.inverter_report(),
                capacity_mah,
                charge_switch_on: self.charge_switch_on,
                discharge_switch_on: self.discharge_switch_on,
                resistance_micro_ohm: learnt
                    .then(|| r0.iter().fold(0_u32, |s, &r| s.saturating_add(r))),
                cut_off: false,
                part_permille: (None, None),
            },
            self.limits.phase,
        )
    }

    /// The report of `engine` on the snapshot `m` it has just stepped on, with its decisions
    /// `o`.
    pub fn from_step(engine: &Engine, m: &Measurement, o: &Outputs) -> Self {
        use crate::estimation::SocEstimator;
        let mut cell_r0_micro_ohm = Vec::new();
        let mut r0_ohm = [None; MAX_CELLS];
        let cells = usize::from(engine.config().cell_count).min(MAX_CELLS);
        if engine.estimator().cell_r0_ohm(&mut r0_ohm) {
            for r0 in r0_ohm.iter().take(cells) {
                // Whole µΩ: a 280 Ah cell's 0.3 mΩ is 300, a bad connection's tens of mΩ tens
                // of thousands.
                let micro_ohm = r0.map_or(0, |r| {
                    ((r.clamp(0.0, MAX_CELL_R0_MICRO_OHM as f32 / 1e6) * 1e6 + 0.5) as u32).max(1)
                });
                let _ = cell_r0_micro_ohm.push(micro_ohm);
            }
        }
        let mut cell_capacity_deci_ah = Vec::new();
        let mut capacity_ah = [None; MAX_CELLS];
        if engine.estimator().cell_capacity_ah(&mut capacity_ah) {
            for q in capacity_ah.iter().take(cells) {
                // A learnt capacity is never below 0.1 Ah, so never reads as "not learnt".
                let deci_ah = q.map_or(0, |q| {
                    ((q * 10.0 + 0.5).clamp(0.0, f32::from(u16::MAX)) as u16).max(1)
                });
                let _ = cell_capacity_deci_ah.push(deci_ah);
            }
        }
        Telemetry {
            uptime_ms: engine.uptime_ms(),
            pack_voltage_mv: m.pack_voltage_mv(),
            current_ma: m.current_ma,
            soc_permille: o.soc_permille,
            soc_bound_permille: o.soc_bound_permille,
            usable_soc_permille: o.usable_soc_permille,
            cell_soc_permille: o.cell_soc_permille.clone(),
            soh_permille: o.soh_permille,
            current_bias_ma: o.current_bias_ma,
            cell_voltages_mv: m.cell_voltages_mv.clone(),
            temperatures_deci_c: m.temperatures_deci_c.clone(),
            charge_switch_on: o.charge_switch_on,
            discharge_switch_on: o.discharge_switch_on,
            contactor: o.contactor,
            trip_bits: o.trips.bits(),
            derate_bits: o.derates.bits(),
            warning_bits: o.warnings.bits(),
            latched_bits: o.latched.bits(),
            balance_mask: o.balancing.mask,
            transfer: o.balancing.transfer,
            limits: o.limits,
            heater_on: o.heater_on,
            fan_on: o.fan_on,
            events_recorded: engine.event_log().recorded(),
            switches_held_open: o.switches_held_open,
            cell_r0_micro_ohm,
            cell_capacity_deci_ah,
            current_bias_sigma_ma: o.current_bias_sigma_ma,
            charge_standby: o.charge_standby,
        }
    }
}

/// One broken configuration rule, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireViolation {
    /// The offending field, e.g. `cell_over_voltage.trip`.
    pub field: String<48>,
    /// The rule it breaks.
    pub rule: String<64>,
}

/// What a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckResult {
    /// Done.
    Ok,
    /// The configuration was invalid and nothing changed; `count` [`DeviceMessage::ConfigViolation`]
    /// frames follow, one per broken rule.
    ConfigRejected {
        /// Number of violations that follow.
        count: u8,
    },
    /// The device does not support this request.
    Unsupported,
}

/// Host requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Reset latched faults (a person has looked at them).
    ResetLatched,
    /// Open every switch and keep it open.
    ForceSwitchesOff,
    /// Give the switches back to protection.
    ReleaseSwitches,
    /// Send every event with a sequence number of at least `since`.
    SendEvents {
        /// First sequence number wanted.
        since: u64,
    },
}

/// Everything a Cellsight device sends.
// One message at a time lives on the stack; boxing the large variants needs an allocator.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceMessage {
    /// Variant 0: identity and capabilities.
    DeviceInfo(DeviceInfo),
    /// Variant 1: periodic state.
    Telemetry(Telemetry),
    /// Variant 2: one event from the log, with its sequence number.
    Event {
        /// Sequence number (counts every event since start).
        sequence: u64,
        /// The event.
        event: Event,
    },
    /// Variant 3: the configuration in force (answer to a read, and confirmation of a write).
    Config {
        /// The request this answers (0 when unsolicited).
        request_id: u16,
        /// The configuration.
        config: PackConfig,
    },
    /// Variant 4: the answer to a request.
    Ack {
        /// The request this answers.
        request_id: u16,
        /// What came of it.
        result: AckResult,
    },
    /// Variant 5: one broken rule of a rejected configuration write.
    ConfigViolation {
        /// The request this answers.
        request_id: u16,
        /// 0-based position in the list.
        index: u8,
        /// The violation.
        violation: WireViolation,
    },
    /// Variant 6: a frame arrived in a protocol version the device does not speak.
    VersionMismatch {
        /// The version the device speaks.
        device_version: u8,
        /// The version the frame had.
        host_version: u8,
    },
}

/// Everything a host sends to a Cellsight device.
// One message at a time lives on the stack; boxing the large variant needs an allocator.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostMessage {
    /// Variant 0: start of a session; the device answers with [`DeviceMessage::DeviceInfo`].
    Hello {
        /// Request id echoed in acknowledgements.
        request_id: u16,
    },
    /// Variant 1: read the configuration.
    ReadConfig {
        /// Request id echoed in the answer.
        request_id: u16,
    },
    /// Variant 2: write a configuration. Validated as the engine does: an invalid one changes
    /// nothing and every violation is returned.
    WriteConfig {
        /// Request id echoed in the answers.
        request_id: u16,
        /// The new configuration.
        config: PackConfig,
    },
    /// Variant 3: a command.
    Command {
        /// Request id echoed in the acknowledgement.
        request_id: u16,
        /// The command.
        command: Command,
    },
}

/// Encodes `message` as one complete frame (delimiter included) into `out`; returns its length.
pub fn encode_frame<T: Serialize>(message: &T, out: &mut [u8]) -> Result<usize, Error> {
    encode_frame_with_version(PROTOCOL_VERSION, message, out)
}

/// As [`encode_frame`] with an explicit version byte (for tests of version handling).
pub fn encode_frame_with_version<T: Serialize>(
    version: u8,
    message: &T,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut body = [0_u8; MAX_BODY_LEN];
    let (first, rest) = body.split_first_mut().ok_or(Error::BufferTooSmall)?;
    *first = version;
    let payload_len = postcard::to_slice(message, rest)
        .map_err(|_| Error::BufferTooSmall)?
        .len();
    let crc_at = 1 + payload_len;
    let crc = CRC16.checksum(body.get(..crc_at).ok_or(Error::BufferTooSmall)?);
    body.get_mut(crc_at..crc_at + 2)
        .ok_or(Error::BufferTooSmall)?
        .copy_from_slice(&crc.to_le_bytes());
    let body = body.get(..crc_at + 2).ok_or(Error::BufferTooSmall)?;
    let encoded = cobs::try_encode(body, out).map_err(|_| Error::BufferTooSmall)?;
    *out.get_mut(encoded).ok_or(Error::BufferTooSmall)? = 0;
    Ok(encoded + 1)
}

/// A message type of the protocol, and which older versions of it a receiver still reads.
pub trait WireMessage: DeserializeOwned {
    /// `payload` written in the older `version`, read as this version's message; `None` if
    /// that version is not read (the frame is rejected as [`Error::UnsupportedVersion`]).
    fn decode_older(version: u8, payload: &[u8]) -> Option<Result<Self, Error>> {
        let _ = (version, payload);
        None
    }
}

/// A device answers a host of another version with [`DeviceMessage::VersionMismatch`], so that
/// the host can say which side to update.
impl WireMessage for HostMessage {}

/// A host reads versions 3 to 7 too: recordings keep the bytes as they came, and a recording
/// made with an older version still plays. Each version appended fields, so an older message
/// is the newer one with the bytes of their "nothing" appended:
///
/// * version 8 added [`Telemetry::charge_standby`] at the end of the report (`false`, one 0x00
///   byte) and [`PackConfig::shared_bus`] at the end of the configuration (`false`: alone on
///   its bus, as every older device was);
/// * version 7 added [`Telemetry::current_bias_sigma_ma`] at the end of the report: `None`,
///   one 0x00 byte;
/// * version 6 added [`Telemetry::cell_capacity_deci_ah`] at the end of the report: an empty
///   list, one 0x00 byte;
/// * version 5 added [`Telemetry::cell_r0_micro_ohm`] before it: another empty list;
/// * version 4 added [`Telemetry::switches_held_open`] before that (`false`, one 0x00 byte), and
///   the self-discharge check's two settings at the end of [`PackConfig`], the last field of
///   [`DeviceMessage::Config`] (both 0, two 0x00 bytes: the check off, as on a device that had
///   none).
///
/// Every other message is unchanged.
impl WireMessage for DeviceMessage {
    fn decode_older(version: u8, payload: &[u8]) -> Option<Result<Self, Error>> {
        // The variant index, a varint: Telemetry's (1) and Config's (3) are single bytes.
        let appended = match (version, payload.first()) {
            (3, Some(1)) => 5,
            (3, Some(3)) => 3,
            (4, Some(1)) => 4,
            (5, Some(1)) => 3,
            (6, Some(1)) => 2,
            (7, Some(1)) => 1,
            (4..=7, Some(3)) => 1,
            (3..=7, _) => 0,
            _ => return None,
        };
        let mut upgraded = [0_u8; MAX_FRAME_LEN];
        let Some(slot) = upgraded.get_mut(..payload.len()) else {
            return Some(Err(Error::FrameTooLong));
        };
        slot.copy_from_slice(payload);
        Some(decode_payload(
            upgraded.get(..payload.len() + appended).unwrap_or_default(),
        ))
    }
}

/// The message in `payload`, which it must fill exactly.
fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Error> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((message, [])) => Ok(message),
        _ => Err(Error::MalformedPayload),
    }
}

/// Decodes one frame's bytes (without the 0x00 delimiter), checking COBS, CRC and version.
pub fn decode_frame<T: WireMessage>(frame: &[u8]) -> Result<T, Error> {
    let mut buf = [0_u8; MAX_FRAME_LEN];
    let buf = buf.get_mut(..frame.len()).ok_or(Error::FrameTooLong)?;
    buf.copy_from_slice(frame);
    let len = cobs::decode_in_place(buf).map_err(|_| Error::FrameEncoding)?;
    let body = buf.get(..len).ok_or(Error::FrameEncoding)?;
    if body.len() < 3 {
        return Err(Error::FrameTooShort { len: body.len() });
    }
    let (content, crc_bytes) = body.split_at(body.len() - 2);
    let received = u16::from_le_bytes([
        crc_bytes.first().copied().unwrap_or_default(),
        crc_bytes.get(1).copied().unwrap_or_default(),
    ]);
    let computed = CRC16.checksum(content);
    if received != computed {
        return Err(Error::Checksum { received, computed });
    }
    let (&version, payload) = content.split_first().ok_or(Error::FrameTooShort { len })?;
    if version != PROTOCOL_VERSION {
        return T::decode_older(version, payload)
            .unwrap_or(Err(Error::UnsupportedVersion { found: version }));
    }
    decode_payload(payload)
}

/// Turns a byte stream into messages of type `T` ([`DeviceMessage`] on the host,
/// [`HostMessage`] on the device). Keeps at most one frame's bytes; never panics.
///
/// Garbage and partial frames produce one error each and are dropped at the next 0x00, after
/// which decoding carries on with the following frame.
#[derive(Debug, Clone)]
pub struct FrameDecoder<T> {
    buf: [u8; MAX_FRAME_LEN],
    len: usize,
    overflowed: bool,
    _message: core::marker::PhantomData<T>,
}

impl<T> Default for FrameDecoder<T> {
    fn default() -> Self {
        FrameDecoder {
            buf: [0; MAX_FRAME_LEN],
            len: 0,
            overflowed: false,
            _message: core::marker::PhantomData,
        }
    }
}

impl<T: WireMessage> FrameDecoder<T> {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one byte; returns a decoded message or the reason a frame was rejected when the
    /// byte completes a frame.
    pub fn push(&mut self, byte: u8) -> Option<Result<T, Error>> {
        if byte != 0 {
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => self.overflowed = true,
            }
            return None;
        }
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.overflowed) {
            return Some(Err(Error::FrameTooLong));
        }
        if len == 0 {
            return None;
        }
        Some(decode_frame(self.buf.get(..len).unwrap_or_default()))
    }

    /// Feeds a chunk of bytes, calling `on_frame` for each completed frame.
    pub fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Result<T, Error>)) {
        for &byte in bytes {
            if let Some(result) = self.push(byte) {
                on_frame(result);
            }
        }
    }
}

/// The device side of the protocol: answers one host message by calling `send` for each reply.
/// A configuration write is validated exactly as [`Engine::set_config`] does; if invalid,
/// nothing changes and every violation goes back, one frame each, after the acknowledgement.
/// A valid write is acknowledged and confirmed by sending the configuration now in force.
pub fn respond(engine: &mut Engine, request: &HostMessage, mut send: impl FnMut(DeviceMessage)) {
    match *request {
        HostMessage::Hello { .. } => {}
        HostMessage::ReadConfig { request_id } => send(DeviceMessage::Config {
            request_id,
            config: *engine.config(),
        }),
        HostMessage::WriteConfig { request_id, config } => {
            let violations: Vec<crate::Violation, MAX_VIOLATIONS> = config.violations();
            if violations.is_empty() && engine.set_config(config).is_ok() {
                send(DeviceMessage::Ack {
                    request_id,
                    result: AckResult::Ok,
                });
                send(DeviceMessage::Config {
                    request_id,
                    config: *engine.config(),
                });
                return;
            }
            send(DeviceMessage::Ack {
                request_id,
                result: AckResult::ConfigRejected {
                    count: u8::try_from(violations.len()).unwrap_or(u8::MAX),
                },
            });
            for (index, v) in violations.iter().enumerate() {
                send(DeviceMessage::ConfigViolation {
                    request_id,
                    index: u8::try_from(index).unwrap_or(u8::MAX),
                    violation: WireViolation {
                        field: truncated(v.field),
                        rule: truncated(v.rule),
                    },
                });
            }
        }
        HostMessage::Command {
            request_id,
            command,
        } => {
            match command {
                Command::ResetLatched => engine.reset_latched(),
                Command::ForceSwitchesOff => engine.force_switches_off(true),
                Command::ReleaseSwitches => engine.force_switches_off(false),
                Command::SendEvents { since } => {
                    for (sequence, event) in engine.event_log().since(since) {
                        send(DeviceMessage::Event {
                            sequence,
                            event: *event,
                        });
                    }
                }
            }
            send(DeviceMessage::Ack {
                request_id,
                result: AckResult::Ok,
            });
        }
    }
}

/// `text` as a bounded string, cut at a character boundary if it is too long.
fn truncated<const N: usize>(text: &str) -> String<N> {
    let mut out = String::new();
    for c in text.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry() -> DeviceMessage {
        let config = PackConfig::lfp_280ah(16);
        let mut engine = Engine::new(config, 512).unwrap();
        let m = Measurement::new(&[3_312; 16], -12_000)
            .unwrap()
            .with_temperatures(&[Some(250), None])
            .unwrap();
        let o = engine.step(&m, 1_000);
        DeviceMessage::Telemetry(Telemetry::from_step(&engine, &m, &o))
    }

    #[test]
    fn round_trip() {
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&telemetry(), &mut out).unwrap();
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        assert_eq!(
            decode_frame::<DeviceMessage>(&out[..n - 1]),
            Ok(telemetry())
        );
    }

    /// As one of a bank a report gives its switches and phase, and its resistance only once
    /// every cell's is learnt.
    #[test]
    fn a_report_as_one_pack_of_a_bank() {
        let DeviceMessage::Telemetry(mut t) = telemetry() else {
            panic!("a telemetry report");
        };
        t.cell_r0_micro_ohm = Vec::from_slice(&[300, 310, 0, 290]).unwrap();
        let (pack, phase) = t.pack_report(280_000);
        assert_eq!(pack.report, t.inverter_report());
        assert_eq!(pack.capacity_mah, 280_000);
        assert_eq!(phase, t.limits.phase);
        assert_eq!(
            (pack.charge_switch_on, pack.resistance_micro_ohm),
            (t.charge_switch_on, None)
        );
        t.cell_r0_micro_ohm[2] = 305;
        assert_eq!(t.pack_report(280_000).0.resistance_micro_ohm, Some(1_205));
        t.cell_r0_micro_ohm.clear();
        assert_eq!(
            t.pack_report(280_000).0.resistance_micro_ohm,
            None,
            "an estimator that learns none"
        );
    }

    #[test]
    fn the_largest_messages_fit_in_a_frame() {
        let t = Telemetry {
            uptime_ms: u64::MAX,
            pack_voltage_mv: u32::MAX,
            current_ma: i32::MIN,
            soc_permille: u16::MAX,
            soc_bound_permille: Some(u16::MAX),
            usable_soc_permille: u16::MAX,
            cell_soc_permille: Vec::from_slice(&[u16::MAX; MAX_CELLS]).unwrap(),
            soh_permille: Some(u16::MAX),
            current_bias_ma: Some(i32::MIN),
            cell_voltages_mv: Vec::from_slice(&[u16::MAX; MAX_CELLS]).unwrap(),
            temperatures_deci_c: Vec::from_slice(&[Some(i16::MIN); MAX_TEMPERATURES]).unwrap(),
            charge_switch_on: true,
            discharge_switch_on: true,
            contactor: Some(ContactorState::Precharging {
                elapsed_ms: u32::MAX,
            }),
            trip_bits: u32::MAX,
            derate_bits: u32::MAX,
            warning_bits: u32::MAX,
            latched_bits: u32::MAX,
            balance_mask: u32::MAX,
            transfer: Some(Transfer {
                from_cell: 255,
                to_cell: 255,
                current_ma: u16::MAX,
            }),
            limits: Limits {
                charge_voltage_mv: u32::MAX,
                charge_current_ma: u32::MAX,
                discharge_current_ma: u32::MAX,
                discharge_voltage_mv: u32::MAX,
                phase: crate::limits::ChargePhase::Float,
                full_charge_requested: true,
                force_charge_requested: true,
            },
            heater_on: true,
            fan_on: true,
            events_recorded: u64::MAX,
            switches_held_open: true,
            cell_r0_micro_ohm: Vec::from_slice(&[MAX_CELL_R0_MICRO_OHM; MAX_CELLS]).unwrap(),
            cell_capacity_deci_ah: Vec::from_slice(&[u16::MAX; MAX_CELLS]).unwrap(),
            current_bias_sigma_ma: Some(u16::MAX),
            charge_standby: true,
        };
        let mut config = PackConfig::lfp_280ah(32);
        config.switches = SwitchKind::Contactor {
            voltage_match_mv: u32::MAX,
            precharge_timeout_ms: u32::MAX,
        };
        let messages = [
            DeviceMessage::Telemetry(t),
            DeviceMessage::Config {
                request_id: u16::MAX,
                config,
            },
            DeviceMessage::ConfigViolation {
                request_id: u16::MAX,
                index: u8::MAX,
                violation: WireViolation {
                    field: truncated(&"f".repeat_str::<48>()),
                    rule: truncated(&"r".repeat_str::<64>()),
                },
            },
        ];
        for msg in messages {
            let mut out = [0; MAX_FRAME_LEN];
            let n = encode_frame(&msg, &mut out).unwrap();
            assert_eq!(decode_frame::<DeviceMessage>(&out[..n - 1]), Ok(msg));
        }
    }

    /// `"x".repeat(n)` without alloc.
    trait RepeatStr {
        fn repeat_str<const N: usize>(&self) -> String<N>;
    }
    impl RepeatStr for &str {
        fn repeat_str<const N: usize>(&self) -> String<N> {
            let mut s = String::new();
            while s.push_str(self).is_ok() {}
            s
        }
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_error() {
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&telemetry(), &mut out).unwrap();
        out[5] ^= 0x04;
        assert!(matches!(
            decode_frame::<DeviceMessage>(&out[..n - 1]),
            Err(Error::Checksum { .. } | Error::FrameEncoding)
        ));
    }

    #[test]
    fn other_versions_are_rejected_by_name() {
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame_with_version(1, &telemetry(), &mut out).unwrap();
        assert_eq!(
            decode_frame::<DeviceMessage>(&out[..n - 1]),
            Err(Error::UnsupportedVersion { found: 1 })
        );
    }

    #[test]
    fn small_output_buffer_is_an_error() {
        let mut out = [0; 8];
        assert_eq!(
            encode_frame(&telemetry(), &mut out),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn overlong_input_is_rejected_then_decoding_resumes() {
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut results: Vec<Result<DeviceMessage, Error>, 4> = Vec::new();
        decoder.feed(&[0x55; MAX_FRAME_LEN + 10], |r| results.push(r).unwrap());
        decoder.feed(&[0], |r| results.push(r).unwrap());
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&telemetry(), &mut out).unwrap();
        decoder.feed(&out[..n], |r| results.push(r).unwrap());
        assert_eq!(
            results.as_slice(),
            &[Err(Error::FrameTooLong), Ok(telemetry())]
        );
    }
}
