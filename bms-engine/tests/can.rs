//! Golden frames for the Pylontech-compatible inverter CAN protocol, byte by byte against the
//! layouts in DOMAIN.md §4 (values worked out by hand in the comments).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::can::{CanFrame, InverterReport, pylontech_frames};
use bms_engine::{Fault, FaultSet};

fn set(faults: &[Fault]) -> FaultSet {
    let mut s = FaultSet::EMPTY;
    for f in faults {
        s.set(*f, true);
    }
    s
}

fn report() -> InverterReport {
    InverterReport {
        charge_voltage_mv: 55_200,
        charge_current_ma: 140_000,
        discharge_current_ma: 200_000,
        discharge_voltage_mv: 46_400,
        soc_permille: 873,
        soh_permille: 1_000,
        pack_voltage_mv: 52_860,
        current_ma: -12_300,
        mean_temperature_deci_c: Some(253),
        trips: set(&[Fault::CellOverVoltage, Fault::DischargeOverCurrent]),
        alarms: set(&[Fault::ChargeOverTemperature, Fault::ChargeOverCurrent]),
        charge_enabled: false,
        discharge_enabled: true,
        force_charge_1: false,
        force_charge_2: false,
        full_charge_requested: true,
        module_count: 1,
    }
}

fn frame(frames: &[CanFrame; 6], id: u16) -> [u8; 8] {
    frames.iter().find(|f| f.id == id).unwrap().data
}

#[test]
fn frames_come_in_identifier_order() {
    let ids: Vec<u16> = pylontech_frames(&report()).iter().map(|f| f.id).collect();
    assert_eq!(ids, [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E]);
}

#[test]
fn limits_0x351() {
    // CVL 55.2 V = 552 = 0x0228; CCL 140 A = 1400 = 0x0578; DCL 200 A = 2000 = 0x07D0;
    // discharge voltage 46.4 V = 464 = 0x01D0; all little-endian.
    assert_eq!(
        frame(&pylontech_frames(&report()), 0x351),
        [0x28, 0x02, 0x78, 0x05, 0xD0, 0x07, 0xD0, 0x01]
    );
}

#[test]
fn soc_soh_0x355() {
    // SOC 87.3 % → 87 = 0x57; SOH 100 % = 0x64.
    assert_eq!(
        frame(&pylontech_frames(&report()), 0x355),
        [0x57, 0x00, 0x64, 0x00, 0, 0, 0, 0]
    );
}

#[test]
fn measurements_0x356() {
    // 52.86 V = 5286 = 0x14A6; −12.3 A = −123 = 0xFF85; 25.3 °C = 253 = 0x00FD.
    assert_eq!(
        frame(&pylontech_frames(&report()), 0x356),
        [0xA6, 0x14, 0x85, 0xFF, 0xFD, 0x00, 0, 0]
    );
}

#[test]
fn protection_and_alarms_0x359() {
    // byte 0: bit1 over-voltage + bit7 discharge over-current = 0x82; byte 1: none;
    // byte 2: bit3 high temperature alarm = 0x08; byte 3: bit0 charge high current = 0x01;
    // byte 4: one module; bytes 5–6 "PN".
    assert_eq!(
        frame(&pylontech_frames(&report()), 0x359),
        [0x82, 0x00, 0x08, 0x01, 0x01, b'P', b'N', 0x00]
    );
}

#[test]
fn requests_0x35c() {
    // bit7 charge enable off, bit6 discharge enable on, bit3 full-charge request = 0x48.
    assert_eq!(
        frame(&pylontech_frames(&report()), 0x35C),
        [0x48, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn manufacturer_0x35e() {
    assert_eq!(frame(&pylontech_frames(&report()), 0x35E), *b"PYLON   ");
}

#[test]
fn under_voltage_temperature_and_system_error_bits() {
    let mut r = report();
    r.trips = set(&[
        Fault::CellUnderVoltage,
        Fault::ChargeUnderTemperature,
        Fault::ChargeOverCurrent,
        Fault::OpenWire,
        Fault::FrontEndLost,
    ]);
    r.alarms = FaultSet::EMPTY;
    r.charge_enabled = true;
    r.discharge_enabled = false;
    r.force_charge_1 = true;
    r.force_charge_2 = true;
    r.full_charge_requested = false;
    let frames = pylontech_frames(&r);
    // bit2 under-voltage + bit4 under-temperature = 0x14; byte 1: bit0 charge over-current +
    // bit3 system error (open wire) = 0x09; byte 3 bit3: internal communication fail.
    assert_eq!(&frame(&frames, 0x359)[..4], &[0x14, 0x09, 0x00, 0x08]);
    // bit7 charge enable + bit5 force charge I + bit4 force charge II = 0xB0.
    assert_eq!(frame(&frames, 0x35C)[0], 0xB0);
}

#[test]
fn never_a_charge_voltage_limit_of_zero_and_values_saturate() {
    let mut r = report();
    r.charge_voltage_mv = 0;
    r.current_ma = -12_350; // rounds half away from zero: −124
    r.pack_voltage_mv = u32::MAX;
    r.mean_temperature_deci_c = None;
    let frames = pylontech_frames(&r);
    let f351 = frame(&frames, 0x351);
    assert_eq!(u16::from_le_bytes([f351[0], f351[1]]), 1, "0.1 V, not 0");
    let f356 = frame(&frames, 0x356);
    assert_eq!(i16::from_le_bytes([f356[0], f356[1]]), i16::MAX);
    assert_eq!(i16::from_le_bytes([f356[2], f356[3]]), -124);
    assert_eq!(i16::from_le_bytes([f356[4], f356[5]]), 0);
}
