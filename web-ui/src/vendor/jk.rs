//! JK (Jikong) over Bluetooth: the host writes 20-byte commands
//! `AA 55 90 EB <cmd> <len> <value u32 LE> <9 zeros> <sum8>` to characteristic 0xFFE1; the BMS
//! notifies 300-byte frames `55 AA EB 90 <type> …` (01 settings, 02 cell data, 03 device info)
//! with byte 299 the 8-bit sum of bytes 0–298, cut into many notifications.
//!
//! Cell frames come in two layouts: 24 cells (older firmware) and 32 cells (firmware 11 and
//! later), which moves every field after the cells by 32 bytes. The layout is told from the
//! frame itself: only the right one makes the pack voltage the sum of its cells.

use super::{
    Decoded, FrameError, FrameShape, Snapshot, le16, le32, plausible_cell_v, plausible_pack_v, sum8,
};

/// Frame length, bytes.
pub const FRAME_LEN: usize = 300;
/// "Send the device information."
pub const DEVICE_INFO: u8 = 0x97;
/// "Start streaming cell data."
pub const CELL_DATA: u8 = 0x96;
/// The charge switch register.
pub const CHARGE_SWITCH: u8 = 0x1D;
/// The discharge switch register.
pub const DISCHARGE_SWITCH: u8 = 0x1E;

/// The 20-byte command `cmd` with a `len`-byte `value` (0 for the read requests).
pub fn command(cmd: u8, len: u8, value: u32) -> Vec<u8> {
    let mut frame = vec![0xAA, 0x55, 0x90, 0xEB, cmd, len];
    frame.extend_from_slice(&value.to_le_bytes());
    frame.extend_from_slice(&[0; 9]);
    frame.push(sum8(&frame));
    frame
}

/// What a host sends to start the stream: device information, then cell data.
pub fn poll_requests() -> Vec<Vec<u8>> {
    vec![command(DEVICE_INFO, 0, 0), command(CELL_DATA, 0, 0)]
}

/// The writes that set both switches.
pub fn switch_requests(charge_on: bool, discharge_on: bool) -> Vec<Vec<u8>> {
    vec![
        command(CHARGE_SWITCH, 4, u32::from(charge_on)),
        command(DISCHARGE_SWITCH, 4, u32::from(discharge_on)),
    ]
}

/// JK's frame shape for the framer.
#[derive(Debug)]
pub struct Shape;

impl FrameShape for Shape {
    const START: &'static [u8] = &[0x55, 0xAA, 0xEB, 0x90];

    fn length(head: &[u8]) -> Result<Option<usize>, FrameError> {
        match head.get(4) {
            None => Ok(None),
            Some(0x01..=0x03) => Ok(Some(FRAME_LEN)),
            Some(other) => Err(FrameError::Malformed(format!(
                "frame type {other:#04x} (expected 01, 02 or 03)"
            ))),
        }
    }

    fn check(frame: &[u8]) -> Result<(), FrameError> {
        let found = frame.get(FRAME_LEN - 1).copied().unwrap_or(0);
        let computed = sum8(frame.get(..FRAME_LEN - 1).unwrap_or_default());
        if found == computed {
            Ok(())
        } else {
            Err(FrameError::Checksum {
                found: found.into(),
                computed: computed.into(),
            })
        }
    }
}

/// Where a cell frame's fields sit: `offset` is added to every field after the cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// How many cell slots the frame has (24 or 32).
    pub slots: usize,
    /// The shift of the fields after the cells, bytes.
    pub offset: usize,
}

/// The older 24-cell layout.
pub const LAYOUT_24: Layout = Layout {
    slots: 24,
    offset: 0,
};
/// The 32-cell layout of firmware 11 and later.
pub const LAYOUT_32: Layout = Layout {
    slots: 32,
    offset: 32,
};

/// The cells a frame in `layout` says are connected (the enabled-cells mask after the cell
/// slots), and their voltages.
fn cells_in(frame: &[u8], layout: Layout) -> Vec<f64> {
    let mask = le32(frame, 6 + 2 * layout.slots);
    let count = (mask.trailing_ones() as usize).min(layout.slots);
    (0..count)
        .map(|i| f64::from(le16(frame, 6 + 2 * i)) / 1000.0)
        .collect()
}

/// The layout whose pack voltage is the sum of its cells (within 5 %), if one is.
pub fn layout_of(frame: &[u8]) -> Option<Layout> {
    [LAYOUT_32, LAYOUT_24].into_iter().find(|&layout| {
        let cells = cells_in(frame, layout);
        let pack_v = f64::from(le32(frame, 118 + layout.offset)) / 1000.0;
        let sum: f64 = cells.iter().sum();
        !cells.is_empty() && pack_v > 0.0 && (sum - pack_v).abs() <= 0.05 * pack_v
    })
}

/// Applies a checked frame to the snapshot.
pub fn decode(frame: &[u8], into: &mut Snapshot) -> Result<Decoded, FrameError> {
    if frame.get(4) != Some(&0x02) {
        // Settings and device information: nothing the dashboard shows yet.
        return Ok(Decoded::Detail);
    }
    let layout = layout_of(frame).ok_or_else(|| {
        FrameError::Malformed(
            "a cell frame whose pack voltage is not the sum of its cells in either layout".into(),
        )
    })?;
    let o = layout.offset;
    let cells = cells_in(frame, layout);
    let pack_v = f64::from(le32(frame, 118 + o)) / 1000.0;
    let soc = f64::from(frame.get(141 + o).copied().unwrap_or(0));
    let soh = f64::from(frame.get(158 + o).copied().unwrap_or(0));
    if !plausible_pack_v(pack_v) || soc > 100.0 || soh > 100.0 {
        return Err(FrameError::Malformed(format!(
            "implausible values: {pack_v:.3} V, SOC {soc} %, SOH {soh} %"
        )));
    }
    if let Some(bad) = cells.iter().find(|v| !plausible_cell_v(**v)) {
        return Err(FrameError::Malformed(format!("a cell at {bad:.3} V")));
    }
    let temperature = |at: usize| Some(f64::from(le16(frame, at) as i16) / 10.0);
    into.pack_voltage_v = Some(pack_v);
    into.current_a = Some(f64::from(le32(frame, 126 + o) as i32) / 1000.0);
    into.soc_pct = Some(soc);
    into.soh_pct = Some(soh);
    into.remaining_ah = Some(f64::from(le32(frame, 142 + o)) / 1000.0);
    into.full_ah = Some(f64::from(le32(frame, 146 + o)) / 1000.0);
    into.cycles = Some(le32(frame, 150 + o));
    into.cell_count = Some(cells.len());
    into.cell_voltages_v = cells;
    into.temperatures_c = vec![temperature(130 + o), temperature(132 + o)];
    into.charge_switch_on = frame.get(166 + o).map(|&b| b != 0);
    into.discharge_switch_on = frame.get(167 + o).map(|&b| b != 0);
    Ok(Decoded::Report)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{decode_all, hex};
    use super::super::{Decoded, Protocol};
    use super::*;

    /// A real cell frame (32-cell layout, 16 cells connected) that a JK inverter BMS in master
    /// mode put on its RS485 bus, logged in a public write-up of a JK-BMS Home Assistant
    /// integration (it points to gitlab.stn.pl/picoides-monitor/bms/jk-bms): 52.336 V, 0 A,
    /// 65 %, 314 Ah, sensors at 16.9 and 17.3 °C. The BLE stream carries the same frames.
    pub(crate) const REAL_32: &str = "55 AA EB 90 02 00 C7 0C C7 0C C7 0C C7 0C C7 0C C7 0C C7 0C C7 0C C7 0C C7 0C C8 0C C7 0C C8 0C C7 0C C8 0C C8 0C 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF FF 00 00 C7 0C 01 00 00 01 3E 00 3B 00 3D 00 3B 00 3E 00 3B 00 3D 00 3B 00 3E 00 3C 00 3E 00 3C 00 3E 00 3D 00 3F 00 3D 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 BD 00 00 00 00 00 70 CC 00 00 00 00 00 00 00 00 00 00 A9 00 AD 00 00 00 08 00 00 00 00 41 6B 18 03 00 90 CA 04 00 00 00 00 00 FB 01 00 00 64 00 00 00 D8 FF 03 00 01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF 00 01 00 00 00 AF 03 00 00 00 00 5E 48 3F 40 00 00 00 00 71 14 00 00 00 01 01 01 00 06 00 00 72 70 26 00 00 00 00 00 BD 00 AE 00 A8 00 AB 03 7F B8 1F 09 05 00 00 00 80 51 01 00 00 00 02 03 A5 67 00 00 00 00 00 00 00 FE FF 7F DC 2F 01 01 B0 0F 00 00 00 C5";

    /// A cell frame built from the 24-cell layout: `cells_mv`, `current_ma`, SOC, switches.
    pub(crate) fn frame_24(
        cells_mv: &[u16],
        current_ma: i32,
        soc: u8,
        fets: (bool, bool),
    ) -> Vec<u8> {
        let mut f = vec![0u8; FRAME_LEN];
        f[..6].copy_from_slice(&[0x55, 0xAA, 0xEB, 0x90, 0x02, 0x00]);
        for (i, mv) in cells_mv.iter().enumerate() {
            f[6 + 2 * i..8 + 2 * i].copy_from_slice(&mv.to_le_bytes());
        }
        let mask = (1u32 << cells_mv.len()) - 1;
        f[54..58].copy_from_slice(&mask.to_le_bytes());
        let total: u32 = cells_mv.iter().map(|&v| u32::from(v)).sum();
        f[118..122].copy_from_slice(&total.to_le_bytes());
        f[126..130].copy_from_slice(&current_ma.to_le_bytes());
        f[130..132].copy_from_slice(&(-35i16).to_le_bytes());
        f[132..134].copy_from_slice(&221i16.to_le_bytes());
        f[141] = soc;
        f[142..146].copy_from_slice(&150_000u32.to_le_bytes());
        f[146..150].copy_from_slice(&280_000u32.to_le_bytes());
        f[150..154].copy_from_slice(&17u32.to_le_bytes());
        f[158] = 98;
        f[166] = u8::from(fets.0);
        f[167] = u8::from(fets.1);
        f[299] = sum8(&f[..299]);
        f
    }

    #[test]
    fn commands_are_twenty_bytes_with_their_sum() {
        let c = command(CELL_DATA, 0, 0);
        assert_eq!(c.len(), 20);
        assert_eq!(&c[..6], &[0xAA, 0x55, 0x90, 0xEB, 0x96, 0x00]);
        assert_eq!(c[19], sum8(&c[..19]));
        assert_eq!(switch_requests(false, true)[1][6], 1);
    }

    #[test]
    fn the_real_frame_decodes_at_every_split() {
        let bytes = hex(REAL_32);
        assert_eq!(layout_of(&bytes), Some(LAYOUT_32));
        for piece in [1, 20, 182, 299] {
            let (good, bad, s) = decode_all(Protocol::Jk, &bytes, piece);
            assert_eq!((good, bad), (vec![Decoded::Report], 0), "pieces of {piece}");
            assert_eq!(s.pack_voltage_v, Some(52.336));
            assert_eq!(s.current_a, Some(0.0));
            assert_eq!(s.soc_pct, Some(65.0));
            assert_eq!(s.soh_pct, Some(100.0));
            assert_eq!(s.full_ah, Some(314.0));
            assert_eq!(s.cell_voltages_v.len(), 16);
            assert_eq!(s.cell_voltages_v[10], 3.272);
            assert_eq!(s.temperatures_c, vec![Some(16.9), Some(17.3)]);
            assert_eq!(
                (s.charge_switch_on, s.discharge_switch_on),
                (Some(true), Some(true))
            );
        }
    }

    #[test]
    fn the_24_cell_layout_decodes() {
        let f = frame_24(&[3301, 3302, 3299, 3300], -12_500, 54, (true, false));
        assert_eq!(layout_of(&f), Some(LAYOUT_24));
        let (good, bad, s) = decode_all(Protocol::Jk, &f, 20);
        assert_eq!((good, bad), (vec![Decoded::Report], 0));
        assert_eq!(s.pack_voltage_v, Some(13.202));
        assert_eq!(s.current_a, Some(-12.5));
        assert_eq!(s.temperatures_c, vec![Some(-3.5), Some(22.1)]);
        assert_eq!(s.cycles, Some(17));
        assert_eq!(
            (s.charge_switch_on, s.discharge_switch_on),
            (Some(true), Some(false))
        );
    }

    #[test]
    fn a_corrupt_frame_is_rejected_and_the_next_one_read() {
        let good = hex(REAL_32);
        let mut bad = good.clone();
        bad[150] ^= 0x01;
        let mut stream = vec![0xAA; 40];
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&good);
        let (decoded, rejected, s) = decode_all(Protocol::Jk, &stream, 20);
        assert_eq!(decoded, vec![Decoded::Report]);
        assert!(rejected >= 1);
        assert_eq!(s.soc_pct, Some(65.0));
    }

    /// Property tests (native only: proptest's random source does not build for the
    /// browser target).
    #[cfg(not(target_family = "wasm"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_bytes_never_panic_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..900)) {
                let (good, _, s) = decode_all(Protocol::Jk, &bytes, 20);
                prop_assert!(good.is_empty());
                prop_assert_eq!(s, Snapshot::default());
            }

            #[test]
            fn truncated_frames_never_read(cut in 0usize..300) {
                let bytes = hex(REAL_32);
                let (good, _, s) = decode_all(Protocol::Jk, &bytes[..cut], 20);
                prop_assert!(good.is_empty());
                prop_assert_eq!(s, Snapshot::default());
            }

            #[test]
            fn random_bytes_after_the_header_never_read(body in proptest::collection::vec(any::<u8>(), 296..=296)) {
                let mut bytes = vec![0x55, 0xAA, 0xEB, 0x90];
                bytes.extend_from_slice(&body);
                let (good, _, _) = decode_all(Protocol::Jk, &bytes, 300);
                // Only a frame whose checksum holds by chance could pass, and then only if its
                // values are those of a battery.
                if sum8(&bytes[..299]) != bytes[299] {
                    prop_assert!(good.is_empty());
                }
            }
        }
    }
}
