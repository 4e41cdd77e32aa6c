//! Daly, in its two dialects.
//!
//! Classic (UART, RS485, older Bluetooth modules): 13-byte frames `A5 <addr> <cmd> 08 <8 data
//! bytes> <sum8>`; the host writes from address 0x80 (0x40 on RS485) and the BMS answers from
//! 0x01. 0x90 carries voltage, current and SOC; 0x93 the switches and charge left; 0x94 the
//! cell and sensor counts; 0x95 three cell voltages per frame; 0x96 seven temperatures per
//! frame; 0x97 the balancing bits; 0x98 the faults.
//!
//! Newer `DL-` units: a Modbus-like read `D2 03 <start> <count> <crc>` of 62 registers from 0,
//! answered `D2 03 7C <124 bytes> <crc>` (CRC-16/Modbus, low byte first). Registers 0–31
//! are the cell voltages (mV), 32–39 the temperatures (°C + 40), 40 the pack voltage (0.1 V),
//! 41 the current (0.1 A, offset 30 000), 42 the SOC (0.1 %), 48 the charge left (0.1 Ah),
//! 49 and 50 the cell and sensor counts, 51 the cycles, 53 and 54 the charge and discharge
//! switches (0 off, 1 on), as aiobmsble (patman15) reads them.

use super::{
    Decoded, FrameError, FrameShape, Snapshot, be16, plausible_cell_v, plausible_pack_v, sum8,
};
use bms_engine::Fault;

/// The host's address on UART and Bluetooth.
pub const HOST_ADDRESS: u8 = 0x80;
/// The host's address on RS485.
pub const RS485_HOST_ADDRESS: u8 = 0x40;
/// The classic commands one polling round sends.
pub const POLLED: [u8; 7] = [0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98];
/// Charge switch (MOS) control.
pub const CHARGE_MOS: u8 = 0xDA;
/// Discharge switch (MOS) control.
pub const DISCHARGE_MOS: u8 = 0xD9;
/// Registers the Modbus dialect reads: 62 from 0.
pub const MODBUS_REGISTERS: u16 = 62;

/// The classic request `cmd` with `data`, from the UART/Bluetooth host address.
pub fn request(cmd: u8, data: [u8; 8]) -> Vec<u8> {
    request_from(HOST_ADDRESS, cmd, data)
}

/// The classic request `cmd` with `data`, from host address `host`.
pub fn request_from(host: u8, cmd: u8, data: [u8; 8]) -> Vec<u8> {
    let mut frame = vec![0xA5, host, cmd, 0x08];
    frame.extend_from_slice(&data);
    frame.push(sum8(&frame));
    frame
}

/// One classic polling round from host address `host`.
pub fn poll_requests_from(host: u8) -> Vec<Vec<u8>> {
    POLLED
        .iter()
        .map(|&cmd| request_from(host, cmd, [0; 8]))
        .collect()
}

/// One classic polling round (UART and Bluetooth address).
pub fn poll_requests() -> Vec<Vec<u8>> {
    poll_requests_from(HOST_ADDRESS)
}

/// The classic writes that set both switches.
pub fn switch_requests(charge_on: bool, discharge_on: bool) -> Vec<Vec<u8>> {
    vec![
        request(CHARGE_MOS, [u8::from(charge_on), 0, 0, 0, 0, 0, 0, 0]),
        request(DISCHARGE_MOS, [u8::from(discharge_on), 0, 0, 0, 0, 0, 0, 0]),
    ]
}

/// CRC-16/Modbus of `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF_u16, |mut crc, &b| {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
        crc
    })
}

/// The Modbus-dialect read of `count` registers from `start`.
pub fn modbus_read(start: u16, count: u16) -> Vec<u8> {
    let mut frame = vec![0xD2, 0x03];
    frame.extend_from_slice(&start.to_be_bytes());
    frame.extend_from_slice(&count.to_be_bytes());
    frame.extend_from_slice(&crc16(&frame).to_le_bytes());
    frame
}

/// One Modbus-dialect polling round: the status block.
pub fn modbus_poll_requests() -> Vec<Vec<u8>> {
    vec![modbus_read(0, MODBUS_REGISTERS)]
}

/// The classic frame shape for the framer.
#[derive(Debug)]
pub struct A5Shape;

impl FrameShape for A5Shape {
    const START: &'static [u8] = &[0xA5];

    fn length(head: &[u8]) -> Result<Option<usize>, FrameError> {
        match head.get(3) {
            None => Ok(None),
            Some(0x08) => Ok(Some(13)),
            Some(other) => Err(FrameError::Malformed(format!(
                "length byte {other:#04x} (Daly frames carry 8 data bytes)"
            ))),
        }
    }

    fn check(frame: &[u8]) -> Result<(), FrameError> {
        let found = frame.get(12).copied().unwrap_or(0);
        let computed = sum8(frame.get(..12).unwrap_or_default());
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

/// The Modbus-dialect frame shape.
#[derive(Debug)]
pub struct ModbusShape;

impl FrameShape for ModbusShape {
    const START: &'static [u8] = &[0xD2];

    fn length(head: &[u8]) -> Result<Option<usize>, FrameError> {
        match head.get(1) {
            None => Ok(None),
            Some(0x03) => Ok(head.get(2).map(|&n| 3 + usize::from(n) + 2)),
            // Answers to writes echo address, value or count: 8 bytes.
            Some(0x06 | 0x10) => Ok(Some(8)),
            Some(other) => Err(FrameError::Malformed(format!(
                "function {other:#04x} (expected 03, 06 or 10)"
            ))),
        }
    }

    fn check(frame: &[u8]) -> Result<(), FrameError> {
        let n = frame.len();
        let found = match frame.get(n - 2..) {
            Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
            _ => 0,
        };
        let computed = crc16(frame.get(..n - 2).unwrap_or_default());
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

/// Cell voltages arriving three to a 0x95 frame, kept until the round is complete.
#[derive(Debug, Clone, Default)]
pub struct CellFrames {
    cells_mv: Vec<Option<u16>>,
}

/// Fault bits of 0x98 (byte, bit) at protection level 2, and the faults they mean.
const FAULTS: [(usize, u8, Fault); 11] = [
    (0, 1, Fault::CellOverVoltage),
    (0, 3, Fault::CellUnderVoltage),
    (0, 5, Fault::PackOverVoltage),
    (0, 7, Fault::PackUnderVoltage),
    (1, 1, Fault::ChargeOverTemperature),
    (1, 3, Fault::ChargeUnderTemperature),
    (1, 5, Fault::DischargeOverTemperature),
    (1, 7, Fault::DischargeUnderTemperature),
    (2, 1, Fault::ChargeOverCurrent),
    (2, 3, Fault::DischargeOverCurrent),
    (6, 0, Fault::ShortCircuit),
];

/// Applies a checked classic frame to the snapshot.
pub fn decode_a5(
    frame: &[u8],
    into: &mut Snapshot,
    cells: &mut CellFrames,
) -> Result<Decoded, FrameError> {
    let cmd = frame.get(2).copied().unwrap_or(0);
    let d = frame.get(4..12).unwrap_or_default();
    let byte = |i: usize| d.get(i).copied().unwrap_or(0);
    match cmd {
        0x90 => {
            let pack_v = f64::from(be16(d, 0)) / 10.0;
            let soc = f64::from(be16(d, 6)) / 10.0;
            if !plausible_pack_v(pack_v) || soc > 100.0 {
                return Err(FrameError::Malformed(format!(
                    "implausible values: {pack_v:.1} V, SOC {soc} %"
                )));
            }
            into.pack_voltage_v = Some(pack_v);
            into.current_a = Some((f64::from(be16(d, 4)) - 30_000.0) / 10.0);
            into.soc_pct = Some(soc);
            Ok(Decoded::Report)
        }
        0x93 => {
            into.charge_switch_on = Some(byte(1) != 0);
            into.discharge_switch_on = Some(byte(2) != 0);
            let mah = u32::from_be_bytes([byte(4), byte(5), byte(6), byte(7)]);
            into.remaining_ah = Some(f64::from(mah) / 1000.0);
            Ok(Decoded::Detail)
        }
        0x94 => {
            let count = usize::from(byte(0));
            if count > 48 {
                return Err(FrameError::Malformed(format!("{count} cells")));
            }
            into.cell_count = Some(count);
            into.cycles = Some(u32::from(be16(d, 5)));
            let sensors = usize::from(byte(1));
            into.temperatures_c.resize(sensors.min(16), None);
            if cells.cells_mv.len() != count {
                cells.cells_mv = vec![None; count];
            }
            Ok(Decoded::Detail)
        }
        0x95 => {
            let number = usize::from(byte(0));
            if number == 0 {
                return Err(FrameError::Malformed("cell frame number 0".into()));
            }
            for k in 0..3 {
                let index = (number - 1) * 3 + k;
                let mv = be16(d, 1 + 2 * k);
                if let Some(slot) = cells.cells_mv.get_mut(index) {
                    if !plausible_cell_v(f64::from(mv) / 1000.0) {
                        return Err(FrameError::Malformed(format!(
                            "cell {} at {mv} mV",
                            index + 1
                        )));
                    }
                    *slot = Some(mv);
                }
            }
            // All cells of the round are in: show them together.
            if !cells.cells_mv.is_empty() && cells.cells_mv.iter().all(Option::is_some) {
                into.cell_voltages_v = cells
                    .cells_mv
                    .iter()
                    .map(|mv| f64::from(mv.unwrap_or(0)) / 1000.0)
                    .collect();
                cells.cells_mv.iter_mut().for_each(|c| *c = None);
            }
            Ok(Decoded::Detail)
        }
        0x96 => {
            let number = usize::from(byte(0));
            if number == 0 {
                return Err(FrameError::Malformed("temperature frame number 0".into()));
            }
            for k in 0..7 {
                let index = (number - 1) * 7 + k;
                if let Some(slot) = into.temperatures_c.get_mut(index) {
                    *slot = Some(f64::from(byte(1 + k)) - 40.0);
                }
            }
            Ok(Decoded::Detail)
        }
        0x97 => {
            let count = into.cell_count.unwrap_or(48).min(48);
            into.balancing = Some(
                (0..count)
                    .filter(|i| byte(i / 8) & (1 << (i % 8)) != 0)
                    .collect(),
            );
            Ok(Decoded::Detail)
        }
        0x98 => {
            into.faults = Some(
                FAULTS
                    .iter()
                    .filter(|(b, bit, _)| byte(*b) & (1 << bit) != 0)
                    .map(|&(_, _, f)| f)
                    .collect(),
            );
            Ok(Decoded::Detail)
        }
        // Answers to switch writes and other commands.
        _ => Ok(Decoded::Detail),
    }
}

/// Applies a checked Modbus-dialect frame to the snapshot.
pub fn decode_modbus(frame: &[u8], into: &mut Snapshot) -> Result<Decoded, FrameError> {
    // Only the status block (62 registers from 0) is read; other answers are acknowledgements.
    if frame.get(1) != Some(&0x03) || frame.get(2) != Some(&(2 * MODBUS_REGISTERS as u8)) {
        return Ok(Decoded::Detail);
    }
    let regs = frame
        .get(3..3 + 2 * usize::from(MODBUS_REGISTERS))
        .unwrap_or_default();
    let reg = |n: usize| be16(regs, 2 * n);
    let cells = usize::from(reg(49));
    let sensors = usize::from(reg(50));
    let pack_v = f64::from(reg(40)) / 10.0;
    let soc = f64::from(reg(42)) / 10.0;
    if cells > 32 || sensors > 8 || !plausible_pack_v(pack_v) || soc > 100.0 {
        return Err(FrameError::Malformed(format!(
            "implausible values: {cells} cells, {sensors} sensors, {pack_v:.1} V, SOC {soc} %"
        )));
    }
    let volts: Vec<f64> = (0..cells).map(|i| f64::from(reg(i)) / 1000.0).collect();
    if let Some(bad) = volts.iter().find(|v| !plausible_cell_v(**v)) {
        return Err(FrameError::Malformed(format!("a cell at {bad:.3} V")));
    }
    into.pack_voltage_v = Some(pack_v);
    into.current_a = Some((f64::from(reg(41)) - 30_000.0) / 10.0);
    into.soc_pct = Some(soc);
    into.remaining_ah = Some(f64::from(reg(48)) / 10.0);
    into.cycles = Some(u32::from(reg(51)));
    into.charge_switch_on = Some(reg(53) != 0);
    into.discharge_switch_on = Some(reg(54) != 0);
    into.cell_count = Some(cells);
    into.cell_voltages_v = volts;
    into.temperatures_c = (0..sensors)
        .map(|i| Some(f64::from(reg(32 + i)) - 40.0))
        .collect();
    Ok(Decoded::Report)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{decode_all, hex};
    use super::super::{Decoded, Protocol};
    use super::*;

    /// A reply read from a Daly BMS over USB, logged in liufuyang/usb-1's source comments:
    /// 21.7 V, 0 A, 20.9 %.
    const REAL_90: &str = "A5 01 90 08 00 D9 00 00 75 30 00 D1 8D";
    /// A `D2 03` status block from aiobmsble's Daly tests (patman15/aiobmsble): 4 cells,
    /// 4 sensors at 20–23 °C, 14.0 V, 3.0 A, 90 %, 345.6 Ah left, 57 cycles.
    const AIOBMSBLE_D2: &str = "d2 03 7c 10 1f 10 29 10 33 10 3d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 3c 00 3d 00 3e 00 3f 00 00 00 00 00 00 00 00 00 8c 75 4e 03 84 10 3d 10 1f 00 00 00 00 00 00 0d 80 00 04 00 04 00 39 00 01 00 00 00 01 10 2e 01 41 00 2a 00 00 00 00 00 00 00 00 a0 df";

    /// A classic answer `cmd` with `data`, from the BMS (address 0x01).
    pub(crate) fn answer(cmd: u8, data: [u8; 8]) -> Vec<u8> {
        let mut frame = vec![0xA5, 0x01, cmd, 0x08];
        frame.extend_from_slice(&data);
        frame.push(sum8(&frame));
        frame
    }

    #[test]
    fn requests_have_their_checksums() {
        assert_eq!(
            request(0x90, [0; 8]),
            hex("A5 80 90 08 00 00 00 00 00 00 00 00 BD")
        );
        assert_eq!(modbus_read(0, 62), hex("D2 03 00 00 00 3E D7 B9"));
        assert_eq!(poll_requests().len(), 7);
    }

    #[test]
    fn the_real_classic_answer_decodes() {
        let (good, bad, s) = decode_all(Protocol::Daly, &hex(REAL_90), 1);
        assert_eq!((good, bad), (vec![Decoded::Report], 0));
        assert_eq!(s.pack_voltage_v, Some(21.7));
        assert_eq!(s.current_a, Some(0.0));
        assert_eq!(s.soc_pct, Some(20.9));
    }

    #[test]
    fn the_modbus_status_block_decodes_at_every_split() {
        let bytes = hex(AIOBMSBLE_D2);
        for piece in 1..bytes.len() {
            let (good, bad, s) = decode_all(Protocol::DalyModbus, &bytes, piece);
            assert_eq!((good.len(), bad), (1, 0), "pieces of {piece}");
            assert_eq!(s.pack_voltage_v, Some(14.0));
            assert_eq!(s.current_a, Some(3.0));
            assert_eq!(s.soc_pct, Some(90.0));
            assert_eq!(s.remaining_ah, Some(345.6));
            assert_eq!(s.cycles, Some(57));
            assert_eq!(
                s.temperatures_c,
                vec![Some(20.0), Some(21.0), Some(22.0), Some(23.0)]
            );
            assert_eq!(s.cell_voltages_v, vec![4.127, 4.137, 4.147, 4.157]);
            // aiobmsble's expectation for this block: charge MOS off, discharge MOS on.
            assert_eq!(s.charge_switch_on, Some(false));
            assert_eq!(s.discharge_switch_on, Some(true));
        }
    }

    #[test]
    fn a_classic_round_fills_cells_temperatures_switches_and_faults() {
        let mut stream = Vec::new();
        stream.extend(answer(0x94, [5, 2, 0, 0, 0, 0, 12, 0]));
        stream.extend(answer(0x95, [1, 0x0C, 0xE4, 0x0C, 0xE5, 0x0C, 0xE6, 0]));
        let (_, _, s) = decode_all(Protocol::Daly, &stream, 13);
        // Two of five cells missing: nothing shown yet.
        assert!(s.cell_voltages_v.is_empty());
        stream.extend(answer(0x95, [2, 0x0C, 0xE7, 0x0C, 0xE8, 0, 0, 0]));
        stream.extend(answer(0x96, [1, 65, 38, 0, 0, 0, 0, 0]));
        stream.extend(answer(0x93, [1, 1, 0, 3, 0, 1, 0x86, 0xA0]));
        stream.extend(answer(0x97, [0b0000_0101, 0, 0, 0, 0, 0, 0, 0]));
        stream.extend(answer(0x98, [0b10, 0, 0b1000, 0, 0, 0, 1, 0]));
        let (good, bad, s) = decode_all(Protocol::Daly, &stream, 5);
        assert_eq!((good.len(), bad), (7, 0));
        assert_eq!(s.cell_count, Some(5));
        assert_eq!(s.cycles, Some(12));
        assert_eq!(s.cell_voltages_v, vec![3.300, 3.301, 3.302, 3.303, 3.304]);
        assert_eq!(s.temperatures_c, vec![Some(25.0), Some(-2.0)]);
        assert_eq!(
            (s.charge_switch_on, s.discharge_switch_on),
            (Some(true), Some(false))
        );
        assert_eq!(s.remaining_ah, Some(100.0));
        assert_eq!(s.balancing, Some(vec![0, 2]));
        assert_eq!(
            s.faults,
            Some(vec![
                Fault::CellOverVoltage,
                Fault::DischargeOverCurrent,
                Fault::ShortCircuit
            ])
        );
    }

    #[test]
    fn garbage_and_bad_checksums_are_counted_not_shown() {
        let mut bad = hex(REAL_90);
        bad[6] ^= 0x10;
        let mut stream = vec![0x00, 0xA5, 0x13, 0x99, 0x07];
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&hex(REAL_90));
        let (good, rejected, s) = decode_all(Protocol::Daly, &stream, 4);
        assert_eq!(good, vec![Decoded::Report]);
        assert!(rejected >= 1);
        assert_eq!(s.pack_voltage_v, Some(21.7));
        let mut crc_bad = hex(AIOBMSBLE_D2);
        crc_bad[50] ^= 1;
        let (good, rejected, _) = decode_all(Protocol::DalyModbus, &crc_bad, 20);
        assert!(good.is_empty() && rejected >= 1);
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
                for protocol in [Protocol::Daly, Protocol::DalyModbus] {
                    let (good, _, s) = decode_all(protocol, &bytes, 13);
                    prop_assert!(good.iter().all(|d| *d != Decoded::Report), "{protocol:?} read {bytes:02x?}");
                    prop_assert!(s.pack_voltage_v.is_none() && s.cell_voltages_v.is_empty());
                }
            }

            #[test]
            fn truncated_frames_never_read(cut in 0usize..129) {
                let bytes = hex(AIOBMSBLE_D2);
                let (good, _, s) = decode_all(Protocol::DalyModbus, &bytes[..cut], 7);
                prop_assert!(good.is_empty());
                prop_assert_eq!(s, Snapshot::default());
                let classic = hex(REAL_90);
                let (good, _, s) = decode_all(Protocol::Daly, &classic[..cut.min(12)], 3);
                prop_assert!(good.is_empty());
                prop_assert_eq!(s, Snapshot::default());
            }
        }
    }
}
