//! The Cellsight wire protocol: the one schema shared by firmware, emulator and dashboard.
//!
//! # Frame layout
//!
//! ```text
//! COBS( version:u8 | postcard(Message) | crc16:u16 little-endian ) 0x00
//! ```
//!
//! * `version` is [`PROTOCOL_VERSION`]; a decoder rejects any other with
//!   [`Error::UnsupportedVersion`].
//! * `postcard(Message)`: the message's variant index as a varint, then its fields in declaration
//!   order (integers as varints, signed ones zig-zag encoded; `bool` as one byte; sequences
//!   length-prefixed). postcard is not self-describing: both ends use these Rust types.
//! * `crc16` is CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF, a.k.a. CCITT-FALSE) over `version` and
//!   the postcard bytes.
//! * COBS removes every zero byte, so 0x00 marks the end of a frame and a receiver that joins
//!   mid-stream or meets garbage resynchronises at the next 0x00.
//!
//! Only this module derives serde for the wire; golden-byte tests in `tests/wire_golden.rs` freeze
//! every message. Changing a message means a new version and new golden bytes.

use crate::{Error, MAX_CELLS};
use crc::{CRC_16_IBM_3740, Crc};
use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

/// Version byte at the start of every frame.
pub const PROTOCOL_VERSION: u8 = 1;

/// Longest encoded frame, including the trailing 0x00 delimiter.
pub const MAX_FRAME_LEN: usize = 256;

/// Longest message body (version + postcard + CRC) that still fits in [`MAX_FRAME_LEN`].
const MAX_BODY_LEN: usize = MAX_FRAME_LEN - 1 - cobs::max_encoding_overhead(MAX_FRAME_LEN);

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// Firmware name text as carried by [`DeviceInfo`].
pub type FirmwareName = String<32>;

/// Who the device is and what it has; sent on connect and on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Firmware name and version, e.g. `cellsight-emulator 0.1.0`.
    pub firmware: FirmwareName,
    /// Whether the device is the emulator rather than a real battery.
    pub emulated: bool,
    /// Number of series cells monitored.
    pub cell_count: u8,
    /// Nominal capacity in mAh.
    pub capacity_mah: u32,
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
    /// State of charge, per mille.
    pub soc_permille: u16,
    /// Cell voltages, mV, cell 1 first.
    pub cell_voltages_mv: Vec<u16, MAX_CELLS>,
    /// Whether the charge switch is closed.
    pub charge_switch_on: bool,
    /// Whether the discharge switch is closed.
    pub discharge_switch_on: bool,
    /// Active faults as [`crate::FaultSet`] bits.
    pub fault_bits: u32,
}

/// Every message a Cellsight device sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Variant 0: identity and capabilities.
    DeviceInfo(DeviceInfo),
    /// Variant 1: periodic state.
    Telemetry(Telemetry),
}

/// Encodes `message` as one complete frame (delimiter included) into `out`; returns its length.
pub fn encode_frame(message: &Message, out: &mut [u8]) -> Result<usize, Error> {
    let mut body = [0_u8; MAX_BODY_LEN];
    let (version, rest) = body.split_first_mut().ok_or(Error::BufferTooSmall)?;
    *version = PROTOCOL_VERSION;
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

/// Decodes one frame's bytes (without the 0x00 delimiter), checking COBS, CRC and version.
pub fn decode_frame(frame: &[u8]) -> Result<Message, Error> {
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
        return Err(Error::UnsupportedVersion { found: version });
    }
    match postcard::take_from_bytes::<Message>(payload) {
        Ok((message, [])) => Ok(message),
        _ => Err(Error::MalformedPayload),
    }
}

/// Turns a byte stream into messages. Keeps at most one frame's bytes; never panics.
///
/// Garbage and partial frames produce one error each and are dropped at the next 0x00, after
/// which decoding carries on with the following frame.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: [u8; MAX_FRAME_LEN],
    len: usize,
    overflowed: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            buf: [0; MAX_FRAME_LEN],
            len: 0,
            overflowed: false,
        }
    }
}

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one byte; returns a decoded message or the reason a frame was rejected when the
    /// byte completes a frame.
    pub fn push(&mut self, byte: u8) -> Option<Result<Message, Error>> {
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
    pub fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Result<Message, Error>)) {
        for &byte in bytes {
            if let Some(result) = self.push(byte) {
                on_frame(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry() -> Message {
        Message::Telemetry(Telemetry {
            uptime_ms: 1_000,
            pack_voltage_mv: 53_000,
            current_ma: -12_000,
            soc_permille: 512,
            cell_voltages_mv: Vec::from_slice(&[3_312; 16]).unwrap(),
            charge_switch_on: true,
            discharge_switch_on: false,
            fault_bits: 1,
        })
    }

    #[test]
    fn round_trip() {
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&telemetry(), &mut out).unwrap();
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        assert_eq!(decode_frame(&out[..n - 1]), Ok(telemetry()));
    }

    #[test]
    fn largest_telemetry_fits_in_a_frame() {
        let msg = Message::Telemetry(Telemetry {
            uptime_ms: u64::MAX,
            pack_voltage_mv: u32::MAX,
            current_ma: i32::MIN,
            soc_permille: u16::MAX,
            cell_voltages_mv: Vec::from_slice(&[u16::MAX; MAX_CELLS]).unwrap(),
            charge_switch_on: true,
            discharge_switch_on: true,
            fault_bits: u32::MAX,
        });
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&msg, &mut out).unwrap();
        assert_eq!(decode_frame(&out[..n - 1]), Ok(msg));
    }

    #[test]
    fn a_flipped_bit_is_a_checksum_error() {
        let mut out = [0; MAX_FRAME_LEN];
        let n = encode_frame(&telemetry(), &mut out).unwrap();
        out[5] ^= 0x04;
        assert!(matches!(
            decode_frame(&out[..n - 1]),
            Err(Error::Checksum { .. } | Error::FrameEncoding)
        ));
    }

    #[test]
    fn other_versions_are_rejected_by_name() {
        let body_crc = |body: &[u8]| {
            let mut v: Vec<u8, 64> = Vec::from_slice(body).unwrap();
            v.extend_from_slice(&CRC16.checksum(body).to_le_bytes())
                .unwrap();
            let mut enc = [0u8; 80];
            let n = cobs::encode(&v, &mut enc);
            Vec::<u8, 80>::from_slice(&enc[..n]).unwrap()
        };
        let frame = body_crc(&[2, 1, 0]);
        assert_eq!(
            decode_frame(&frame),
            Err(Error::UnsupportedVersion { found: 2 })
        );
        let frame = body_crc(&[PROTOCOL_VERSION, 9]);
        assert_eq!(decode_frame(&frame), Err(Error::MalformedPayload));
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
        let mut decoder = FrameDecoder::new();
        let mut results: heapless::Vec<Result<Message, Error>, 4> = heapless::Vec::new();
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
