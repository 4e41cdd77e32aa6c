//! JBD / Jiabaida / Xiaoxiang / Overkill: the host asks `DD A5 <reg> <len> <data> <chk> 77`,
//! the BMS answers `DD <reg> <status> <len> <data> <chk> 77`, where the checksum is 0x10000
//! minus the sum of the bytes from `<reg>`/`<status>` through the data, big-endian.
//! Register 0x03 holds the basic figures, 0x04 the cell voltages.

use super::{Decoded, FrameError, FrameShape, Snapshot, be16, plausible_cell_v, plausible_pack_v};
use bms_engine::Fault;

/// Basic information and status.
pub const BASIC: u8 = 0x03;
/// Cell voltages.
pub const CELLS: u8 = 0x04;
/// MOS (switch) control, written.
pub const MOS_CONTROL: u8 = 0xE1;

/// The checksum of the bytes it covers.
fn checksum(covered: &[u8]) -> u16 {
    let sum = covered
        .iter()
        .fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    0u16.wrapping_sub(sum)
}

/// A read request for register `reg`, e.g. `DD A5 03 00 FF FD 77`.
pub fn read_request(reg: u8) -> Vec<u8> {
    let chk = checksum(&[reg, 0]);
    let [hi, lo] = chk.to_be_bytes();
    vec![0xDD, 0xA5, reg, 0, hi, lo, 0x77]
}

/// A write of `data` to register `reg`.
pub fn write_request(reg: u8, data: &[u8]) -> Vec<u8> {
    let len = u8::try_from(data.len()).unwrap_or(u8::MAX);
    let mut covered = vec![reg, len];
    covered.extend_from_slice(data.get(..usize::from(len)).unwrap_or(data));
    let [hi, lo] = checksum(&covered).to_be_bytes();
    let mut frame = vec![0xDD, 0x5A];
    frame.extend_from_slice(&covered);
    frame.extend_from_slice(&[hi, lo, 0x77]);
    frame
}

/// The write that sets both switches: JBD's MOS control register takes the switches to turn
/// *off* (bit 0 charge, bit 1 discharge).
pub fn switch_request(charge_on: bool, discharge_on: bool) -> Vec<u8> {
    let off = u8::from(!charge_on) | (u8::from(!discharge_on) << 1);
    write_request(MOS_CONTROL, &[0, off])
}

/// The requests one polling round sends: basic figures, then cells.
pub fn poll_requests() -> Vec<Vec<u8>> {
    vec![read_request(BASIC), read_request(CELLS)]
}

/// JBD's frame shape for the framer.
#[derive(Debug)]
pub struct Shape;

impl FrameShape for Shape {
    const START: &'static [u8] = &[0xDD];

    fn length(head: &[u8]) -> Result<Option<usize>, FrameError> {
        let (Some(&reg), Some(&status)) = (head.get(1), head.get(2)) else {
            return Ok(None);
        };
        // Answers to reads and writes: registers 0x03–0x05 and the writable ones from 0xA0.
        if !(matches!(reg, 0x03..=0x05) || reg >= 0xA0) {
            return Err(FrameError::Malformed(format!(
                "register {reg:#04x} is not one a JBD answers for"
            )));
        }
        if status != 0x00 && status != 0x80 {
            return Err(FrameError::Malformed(format!(
                "status byte {status:#04x} (expected 0x00 or 0x80)"
            )));
        }
        Ok(head.get(3).map(|&len| 4 + usize::from(len) + 3))
    }

    fn check(frame: &[u8]) -> Result<(), FrameError> {
        let n = frame.len();
        if frame.last() != Some(&0x77) {
            return Err(FrameError::Malformed(
                "no end byte 0x77 where the length says the frame ends".into(),
            ));
        }
        let covered = frame.get(2..n - 3).unwrap_or_default();
        let found = be16(frame, n - 3);
        let computed = checksum(covered);
        if found != computed {
            return Err(FrameError::Checksum {
                found: found.into(),
                computed: computed.into(),
            });
        }
        Ok(())
    }
}

/// Protection bits of register 0x03 (bytes 16–17) and the faults they mean.
const PROTECTIONS: [(u16, Fault); 12] = [
    (1 << 0, Fault::CellOverVoltage),
    (1 << 1, Fault::CellUnderVoltage),
    (1 << 2, Fault::PackOverVoltage),
    (1 << 3, Fault::PackUnderVoltage),
    (1 << 4, Fault::ChargeOverTemperature),
    (1 << 5, Fault::ChargeUnderTemperature),
    (1 << 6, Fault::DischargeOverTemperature),
    (1 << 7, Fault::DischargeUnderTemperature),
    (1 << 8, Fault::ChargeOverCurrent),
    (1 << 9, Fault::DischargeOverCurrent),
    (1 << 10, Fault::ShortCircuit),
    (1 << 11, Fault::FrontEndLost),
];

/// Applies a checked response frame to the snapshot.
pub fn decode(frame: &[u8], into: &mut Snapshot) -> Result<Decoded, FrameError> {
    let reg = frame.get(1).copied().unwrap_or(0);
    let status = frame.get(2).copied().unwrap_or(0);
    let data = frame
        .get(4..frame.len().saturating_sub(3))
        .unwrap_or_default();
    if status == 0x80 {
        return Err(FrameError::DeviceError(format!(
            "register {reg:#04x} answered with status 0x80"
        )));
    }
    match reg {
        BASIC => {
            if data.len() < 23 {
                return Err(FrameError::Malformed(format!(
                    "basic information of {} bytes (at least 23)",
                    data.len()
                )));
            }
            let ntc = usize::from(data.get(22).copied().unwrap_or(0));
            if data.len() < 23 + 2 * ntc {
                return Err(FrameError::Malformed(format!(
                    "{ntc} temperature sensors announced, {} bytes left for them",
                    data.len() - 23
                )));
            }
            let cells = usize::from(data.get(21).copied().unwrap_or(0));
            if cells > 32 || ntc > 8 {
                return Err(FrameError::Malformed(format!(
                    "{cells} cells and {ntc} sensors: more than a JBD has"
                )));
            }
            let pack_v = f64::from(be16(data, 0)) / 100.0;
            let soc = f64::from(data.get(19).copied().unwrap_or(0));
            if !plausible_pack_v(pack_v) || soc > 100.0 {
                return Err(FrameError::Malformed(format!(
                    "implausible values: {pack_v:.2} V, SOC {soc} %"
                )));
            }
            let protection = be16(data, 16);
            let fets = data.get(20).copied().unwrap_or(0);
            let balance = (u32::from(be16(data, 14)) << 16) | u32::from(be16(data, 12));
            into.pack_voltage_v = Some(pack_v);
            into.current_a = Some(f64::from(be16(data, 2) as i16) / 100.0);
            into.remaining_ah = Some(f64::from(be16(data, 4)) / 100.0);
            into.full_ah = Some(f64::from(be16(data, 6)) / 100.0);
            into.cycles = Some(u32::from(be16(data, 8)));
            into.soc_pct = Some(soc);
            into.charge_switch_on = Some(fets & 1 != 0);
            into.discharge_switch_on = Some(fets & 2 != 0);
            into.cell_count = Some(cells);
            into.balancing = Some((0..cells).filter(|i| balance & (1 << i) != 0).collect());
            into.faults = Some(
                PROTECTIONS
                    .iter()
                    .filter(|(bit, _)| protection & bit != 0)
                    .map(|&(_, f)| f)
                    .collect(),
            );
            into.temperatures_c = (0..ntc)
                .map(|i| Some((f64::from(be16(data, 23 + 2 * i)) - 2731.0) / 10.0))
                .collect();
            Ok(Decoded::Report)
        }
        CELLS => {
            if data.len() % 2 != 0 || data.len() > 64 {
                return Err(FrameError::Malformed(format!(
                    "cell voltages of {} bytes (two per cell, at most 32 cells)",
                    data.len()
                )));
            }
            let volts: Vec<f64> = data
                .chunks_exact(2)
                .map(|c| f64::from(u16::from_be_bytes([c[0], c[1]])) / 1000.0)
                .collect();
            if let Some(bad) = volts.iter().find(|v| !plausible_cell_v(**v)) {
                return Err(FrameError::Malformed(format!("a cell at {bad:.3} V")));
            }
            into.cell_voltages_v = volts;
            Ok(Decoded::Detail)
        }
        // Answers to writes and to other reads carry nothing the dashboard shows.
        _ => Ok(Decoded::Detail),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{decode_all, hex};
    use super::super::{Decoded, Protocol};
    use super::*;

    /// From the JBD protocol document ("Jiabaida Software Board General Protocol V4", as
    /// transcribed with its worked example in jblance/mpp-solar's protocol notes): a 15-cell
    /// pack at 58.88 V, 72 %, two sensors at 20.3 and 21.5 °C.
    const DOC_BASIC: &str = "DD 03 00 1B 17 00 00 00 02 D0 03 E8 00 00 20 78 00 00 00 00 00 00 10 48 03 0F 02 0B 76 0B 82 FB FF 77";
    /// A real answer logged over Bluetooth from a LIONTRON LX 12.8 V 100 Ah (a JBD board), in
    /// a public gatttool script's comments: 4 cells, 13.20 V, 65 %.
    const LIONTRON_BASIC: &str = "dd 03 00 1b 05 28 00 00 1b b2 2a ef 00 02 29 0a 00 00 00 00 00 00 25 41 03 04 02 0b 74 0b 6b fc 39 77";
    /// A cell answer (15 cells) from the same public test set as the document example.
    const DOC_CELLS: &str = "DD 04 00 1E 0F 66 0F 63 0F 63 0F 64 0F 3E 0F 63 0F 37 0F 5B 0F 65 0F 3B 0F 63 0F 63 0F 3C 0F 66 0F 3D F9 F9 77";

    #[test]
    fn requests_match_the_document() {
        assert_eq!(read_request(BASIC), hex("DD A5 03 00 FF FD 77"));
        assert_eq!(read_request(CELLS), hex("DD A5 04 00 FF FC 77"));
        // Both switches off: bits 0 and 1 set.
        assert_eq!(
            switch_request(false, false),
            hex("DD 5A E1 02 00 03 FF 1A 77")
        );
    }

    #[test]
    fn the_documented_answer_decodes() {
        let (good, bad, s) = decode_all(Protocol::Jbd, &hex(DOC_BASIC), 64);
        assert_eq!((good, bad), (vec![Decoded::Report], 0));
        assert_eq!(s.pack_voltage_v, Some(58.88));
        assert_eq!(s.current_a, Some(0.0));
        assert_eq!(s.remaining_ah, Some(7.2));
        assert_eq!(s.full_ah, Some(10.0));
        assert_eq!(s.soc_pct, Some(72.0));
        assert_eq!(s.cell_count, Some(15));
        assert_eq!(
            (s.charge_switch_on, s.discharge_switch_on),
            (Some(true), Some(true))
        );
        let t: Vec<f64> = s.temperatures_c.iter().flatten().copied().collect();
        assert!(
            (t[0] - 20.3).abs() < 1e-9 && (t[1] - 21.5).abs() < 1e-9,
            "{t:?}"
        );
        assert_eq!(s.faults, Some(vec![]));
    }

    #[test]
    fn a_real_liontron_answer_split_over_notifications_decodes() {
        // It arrived in two notifications; every split point must give the same result.
        let bytes = hex(LIONTRON_BASIC);
        for piece in 1..bytes.len() {
            let (good, bad, s) = decode_all(Protocol::Jbd, &bytes, piece);
            assert_eq!((good.len(), bad), (1, 0), "pieces of {piece}");
            assert_eq!(s.pack_voltage_v, Some(13.2));
            assert_eq!(s.soc_pct, Some(65.0));
            assert_eq!(s.cell_count, Some(4));
            assert_eq!(s.cycles, Some(2));
            assert_eq!(s.remaining_ah, Some(70.9));
        }
    }

    #[test]
    fn cells_decode_and_protections_become_faults() {
        let (_, bad, s) = decode_all(Protocol::Jbd, &hex(DOC_CELLS), 7);
        assert_eq!(bad, 0);
        assert_eq!(s.cell_voltages_v.len(), 15);
        assert!((s.cell_voltages_v[0] - 3.942).abs() < 1e-9);
        // A constructed answer: cell over-voltage and charge over-current, charge FET off.
        let mut data = hex(DOC_BASIC)[4..31].to_vec();
        data[16..18].copy_from_slice(&0x0101u16.to_be_bytes());
        data[20] = 0b10;
        let frame = answer(BASIC, &data);
        let (_, bad, s) = decode_all(Protocol::Jbd, &frame, 5);
        assert_eq!(bad, 0);
        assert_eq!(
            s.faults,
            Some(vec![Fault::CellOverVoltage, Fault::ChargeOverCurrent])
        );
        assert_eq!(
            (s.charge_switch_on, s.discharge_switch_on),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn garbage_a_bad_checksum_and_an_error_status_are_rejected() {
        let good = hex(DOC_BASIC);
        let mut corrupt = good.clone();
        corrupt[10] ^= 0x40;
        let mut stream = vec![0x13, 0xDD, 0x99, 0x00];
        stream.extend_from_slice(&corrupt);
        stream.extend_from_slice(&good);
        let (decoded, bad, s) = decode_all(Protocol::Jbd, &stream, 3);
        assert_eq!(decoded, vec![Decoded::Report]);
        assert!(bad >= 1);
        assert_eq!(s.soc_pct, Some(72.0));
        let refused = answer_with_status(BASIC, 0x80, &[]);
        let (decoded, bad, _) = decode_all(Protocol::Jbd, &refused, 64);
        assert!(decoded.is_empty() && bad == 1);
    }

    /// A JBD answer with good framing around `data`.
    pub(crate) fn answer(reg: u8, data: &[u8]) -> Vec<u8> {
        answer_with_status(reg, 0, data)
    }

    fn answer_with_status(reg: u8, status: u8, data: &[u8]) -> Vec<u8> {
        let mut covered = vec![status, data.len() as u8];
        covered.extend_from_slice(data);
        let [hi, lo] = checksum(&covered).to_be_bytes();
        let mut frame = vec![0xDD, reg];
        frame.extend_from_slice(&covered);
        frame.extend_from_slice(&[hi, lo, 0x77]);
        frame
    }

    /// Property tests (native only: proptest's random source does not build for the
    /// browser target).
    #[cfg(not(target_family = "wasm"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_bytes_never_panic_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                let (good, _, s) = decode_all(Protocol::Jbd, &bytes, 17);
                prop_assert!(good.is_empty(), "random bytes decoded: {:02x?}", bytes);
                prop_assert_eq!(s, Snapshot::default());
            }

            #[test]
            fn truncated_answers_never_read(cut in 0usize..34) {
                let bytes = hex(DOC_BASIC);
                let (good, _, s) = decode_all(Protocol::Jbd, &bytes[..cut], 4);
                prop_assert!(good.is_empty());
                prop_assert_eq!(s, Snapshot::default());
            }
        }
    }
}
