//! The BMSs people already own: JBD (Xiaoxiang, Overkill), JK and Daly. Their frames are decoded
//! here into a [`Snapshot`] of what the device has told so far, which the session turns into the
//! same telemetry model a Cellsight device produces. Plain Rust, no browser types; byte layouts
//! in ../shared/DOMAIN.md §4.
//!
//! Each protocol has a frame finder (bytes in any pieces → whole frames with a good checksum),
//! a decoder (frame → fields of the snapshot) and the requests a host must send, since JBD and
//! Daly only ever answer and JK streams only once asked.

pub mod daly;
pub mod jbd;
pub mod jk;
pub mod poll;

use bms_engine::Fault;

/// The protocol a device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Cellsight's wire protocol (postcard + COBS + CRC), streamed by the device.
    Cellsight,
    /// JBD / Jiabaida / Xiaoxiang / Overkill: `DD … 77` request and response.
    Jbd,
    /// JK: 300-byte `55 AA EB 90` frames, streamed after a request.
    Jk,
    /// Daly's classic 13-byte `A5` frames, request and response.
    Daly,
    /// Daly's newer Modbus-like `D2 03` registers (the `DL-` Bluetooth units).
    DalyModbus,
}

impl Protocol {
    /// Every protocol, in the order the protocol menu lists them.
    pub const ALL: [Protocol; 5] = [
        Protocol::Cellsight,
        Protocol::Jbd,
        Protocol::Jk,
        Protocol::Daly,
        Protocol::DalyModbus,
    ];

    /// The short name used in the page's query and the menu's values.
    pub fn key(self) -> &'static str {
        match self {
            Protocol::Cellsight => "cellsight",
            Protocol::Jbd => "jbd",
            Protocol::Jk => "jk",
            Protocol::Daly => "daly",
            Protocol::DalyModbus => "daly-modbus",
        }
    }

    /// The protocol a short name names.
    pub fn from_key(key: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.key() == key)
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Cellsight => "Cellsight",
            Protocol::Jbd => "JBD / Xiaoxiang / Overkill",
            Protocol::Jk => "JK",
            Protocol::Daly => "Daly (A5 frames)",
            Protocol::DalyModbus => "Daly (D2 Modbus, DL- units)",
        }
    }
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The checksum did not match: `found` in the frame, `computed` from its bytes.
    Checksum {
        /// The checksum the frame carried.
        found: u32,
        /// The checksum its bytes give.
        computed: u32,
    },
    /// The frame's shape is wrong (length, end byte, impossible counts), in words.
    Malformed(String),
    /// The device answered with an error status.
    DeviceError(String),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Checksum { found, computed } => {
                write!(f, "checksum {found:#06x}, expected {computed:#06x}")
            }
            FrameError::Malformed(why) => write!(f, "malformed frame: {why}"),
            FrameError::DeviceError(why) => write!(f, "the device reported an error: {why}"),
        }
    }
}

/// What one good frame did to the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// It carried the pack's main figures (voltage, current, SOC): a new report.
    Report,
    /// It filled in other fields (cells, temperatures, switches…).
    Detail,
}

/// What a vendor BMS has told so far; `None` (or empty) where it has not said, or cannot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Pack voltage, V.
    pub pack_voltage_v: Option<f64>,
    /// Pack current, A (positive charges).
    pub current_a: Option<f64>,
    /// State of charge, %.
    pub soc_pct: Option<f64>,
    /// State of health, %.
    pub soh_pct: Option<f64>,
    /// Charge left, Ah.
    pub remaining_ah: Option<f64>,
    /// Full capacity, Ah.
    pub full_ah: Option<f64>,
    /// Charge cycles counted by the device.
    pub cycles: Option<u32>,
    /// Number of series cells, once said.
    pub cell_count: Option<usize>,
    /// Cell voltages, V, cell 1 first (empty until a cell frame arrived).
    pub cell_voltages_v: Vec<f64>,
    /// Temperatures, °C, sensor 1 first.
    pub temperatures_c: Vec<Option<f64>>,
    /// Charge switch (FET) on.
    pub charge_switch_on: Option<bool>,
    /// Discharge switch (FET) on.
    pub discharge_switch_on: Option<bool>,
    /// Cells being balanced, 0-based, where the protocol says.
    pub balancing: Option<Vec<usize>>,
    /// Protections active, where the protocol says.
    pub faults: Option<Vec<Fault>>,
}

/// Pulls whole frames out of a byte stream that arrives in pieces: skips to a start marker,
/// waits until the frame's length is known and its bytes are in, checks it, then hands it over.
/// A stretch of garbage, or a frame that fails its check, is reported once as an error; the
/// search then resumes one byte after the false start, so a real frame right behind is found.
#[derive(Debug, Clone, Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// An error has been reported and no good frame has come since (one error per stretch).
    in_trouble: bool,
}

/// How a protocol's frames begin, how long they are and how they are checked.
pub trait FrameShape {
    /// The bytes every frame starts with.
    const START: &'static [u8];
    /// The frame's total length from the bytes seen so far (`None`: not known yet); an error
    /// when the header cannot begin a frame.
    fn length(head: &[u8]) -> Result<Option<usize>, FrameError>;
    /// Checks a whole frame (end marker, checksum).
    fn check(frame: &[u8]) -> Result<(), FrameError>;
}

/// The most a framer keeps while waiting for a frame to complete; beyond it the stream is
/// garbage (no vendor frame is this long).
const MAX_BUFFER: usize = 4096;

impl Framer {
    /// Feeds bytes; each whole, checked frame goes to `on_frame`, and each stretch of bytes
    /// that is not one as an error.
    pub fn feed<S: FrameShape>(
        &mut self,
        bytes: &[u8],
        mut on_frame: impl FnMut(Result<&[u8], FrameError>),
    ) {
        self.buffer.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = self.buffer.get(start..).unwrap_or_default();
            let Some(at) = find_start(rest, S::START) else {
                // Keep a tail that may be the beginning of a start marker.
                let keep = partial_start(rest, S::START);
                if rest.len() > keep {
                    let e = FrameError::Malformed(format!(
                        "{} bytes outside any frame",
                        rest.len() - keep
                    ));
                    trouble(&mut self.in_trouble, e, &mut on_frame);
                }
                start = self.buffer.len() - keep;
                break;
            };
            if at > 0 {
                let e = FrameError::Malformed(format!("{at} bytes outside any frame"));
                trouble(&mut self.in_trouble, e, &mut on_frame);
            }
            start += at;
            let head = self.buffer.get(start..).unwrap_or_default();
            match S::length(head) {
                Ok(Some(len)) if head.len() >= len => {
                    let frame = head.get(..len).unwrap_or_default();
                    match S::check(frame) {
                        Ok(()) => {
                            self.in_trouble = false;
                            on_frame(Ok(frame));
                            start += len;
                        }
                        Err(e) => {
                            trouble(&mut self.in_trouble, e, &mut on_frame);
                            start += 1;
                        }
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    trouble(&mut self.in_trouble, e, &mut on_frame);
                    start += 1;
                }
            }
        }
        self.buffer.drain(..start.min(self.buffer.len()));
        if self.buffer.len() > MAX_BUFFER {
            let e = FrameError::Malformed(format!(
                "{} bytes without a complete frame",
                self.buffer.len()
            ));
            trouble(&mut self.in_trouble, e, &mut on_frame);
            self.buffer.clear();
        }
    }

    /// Drops whatever part of a frame is waiting (the link ended mid-frame).
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.in_trouble = false;
    }
}

/// Reports `e`, unless an error has been reported since the last good frame.
fn trouble<'a>(
    in_trouble: &mut bool,
    e: FrameError,
    on_frame: &mut impl FnMut(Result<&'a [u8], FrameError>),
) {
    if !*in_trouble {
        *in_trouble = true;
        on_frame(Err(e));
    }
}

fn find_start(bytes: &[u8], start: &[u8]) -> Option<usize> {
    bytes.windows(start.len()).position(|w| w == start)
}

/// How many bytes at the end of `bytes` could be the first bytes of `start`.
fn partial_start(bytes: &[u8], start: &[u8]) -> usize {
    (1..start.len())
        .rev()
        .find(|&n| bytes.len() >= n && bytes.get(bytes.len() - n..) == start.get(..n))
        .unwrap_or(0)
}

/// The 8-bit sum of `bytes` (JK, Daly).
pub fn sum8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// Big-endian u16 at `at`, or 0 past the end (callers check lengths first).
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Little-endian u16 at `at`, or 0 past the end.
pub(crate) fn le16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// Little-endian u32 at `at`, or 0 past the end.
pub(crate) fn le32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Whether a decoded pack voltage is one a battery could have (the device's own numbers are
/// checked too: a frame that passes its checksum may still be nonsense).
pub(crate) fn plausible_pack_v(v: f64) -> bool {
    (0.0..=1_000.0).contains(&v)
}

/// Whether a cell voltage is one an (even faulty) lithium cell could show, V.
pub(crate) fn plausible_cell_v(v: f64) -> bool {
    (0.0..=5.0).contains(&v)
}

/// A vendor decoder of any of the three protocols, fed the link's bytes.
#[derive(Debug, Clone)]
pub struct VendorDecoder {
    /// Its protocol.
    pub protocol: Protocol,
    framer: Framer,
    /// Daly A5 cell frames fill cells three at a time.
    daly_cells: daly::CellFrames,
}

impl VendorDecoder {
    /// A decoder for `protocol` (`None` for Cellsight, which the session decodes itself).
    pub fn new(protocol: Protocol) -> Option<Self> {
        (protocol != Protocol::Cellsight).then(|| VendorDecoder {
            protocol,
            framer: Framer::default(),
            daly_cells: daly::CellFrames::default(),
        })
    }

    /// Feeds bytes; each good frame updates `snapshot` and is reported as what it did, each bad
    /// one as why. A frame is only applied once it is whole and its checksum and values hold.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        snapshot: &mut Snapshot,
        mut on_frame: impl FnMut(Result<Decoded, FrameError>),
    ) {
        let protocol = self.protocol;
        let daly_cells = &mut self.daly_cells;
        let mut handle = |frame: Result<&[u8], FrameError>| {
            let result = frame.and_then(|f| match protocol {
                Protocol::Jbd => jbd::decode(f, snapshot),
                Protocol::Jk => jk::decode(f, snapshot),
                Protocol::Daly => daly::decode_a5(f, snapshot, daly_cells),
                Protocol::DalyModbus => daly::decode_modbus(f, snapshot),
                Protocol::Cellsight => Err(FrameError::Malformed("not a vendor protocol".into())),
            });
            on_frame(result);
        };
        match protocol {
            Protocol::Jbd => self.framer.feed::<jbd::Shape>(bytes, &mut handle),
            Protocol::Jk => self.framer.feed::<jk::Shape>(bytes, &mut handle),
            Protocol::Daly => self.framer.feed::<daly::A5Shape>(bytes, &mut handle),
            Protocol::DalyModbus => self.framer.feed::<daly::ModbusShape>(bytes, &mut handle),
            Protocol::Cellsight => {}
        }
    }

    /// Forgets a half-received frame (the link ended or restarted).
    pub fn reset(&mut self) {
        self.framer.clear();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Bytes from a hex dump such as `"DD 03 00 1B …"`.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// Feeds `bytes` to a fresh decoder in pieces of `piece` bytes: (good frames, rejected,
    /// snapshot).
    pub(crate) fn decode_all(
        protocol: Protocol,
        bytes: &[u8],
        piece: usize,
    ) -> (Vec<Decoded>, usize, Snapshot) {
        let mut decoder = VendorDecoder::new(protocol).unwrap();
        let mut snapshot = Snapshot::default();
        let mut good = Vec::new();
        let mut bad = 0;
        for chunk in bytes.chunks(piece.max(1)) {
            decoder.feed(chunk, &mut snapshot, |r| match r {
                Ok(d) => good.push(d),
                Err(_) => bad += 1,
            });
        }
        (good, bad, snapshot)
    }

    #[test]
    fn protocol_keys_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_key(p.key()), Some(p));
        }
        assert_eq!(Protocol::from_key("victron"), None);
    }

    #[test]
    fn a_start_marker_split_across_pieces_is_kept() {
        assert_eq!(partial_start(&[1, 2, 0x55], &[0x55, 0xAA, 0xEB, 0x90]), 1);
        assert_eq!(
            partial_start(&[0x55, 0xAA, 0xEB], &[0x55, 0xAA, 0xEB, 0x90]),
            3
        );
        assert_eq!(partial_start(&[1, 2, 3], &[0x55, 0xAA]), 0);
    }
}
