//! The Pylontech-compatible inverter CAN protocol (accepted by Victron, SMA, Deye, Growatt …):
//! 500 kbit/s, 11-bit identifiers, little-endian, every frame once a second. Layouts from
//! DOMAIN.md §4; [`pylontech_frames`] produces the six 8-byte frames.
//!
//! | ID | Content |
//! |---|---|
//! | 0x351 | CVL u16 0.1 V · CCL i16 0.1 A · DCL i16 0.1 A · discharge voltage limit u16 0.1 V |
//! | 0x355 | SOC u16 % · SOH u16 % |
//! | 0x356 | voltage i16 0.01 V · current i16 0.1 A · mean temperature i16 0.1 °C |
//! | 0x359 | protection bits · alarm bits · module count · "PN" |
//! | 0x35C | charge / discharge enable, force-charge and full-charge requests |
//! | 0x35E | manufacturer name, ASCII |

use crate::limits::Limits;
use crate::protection::{Fault, FaultSet};

/// One classic CAN data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanFrame {
    /// 11-bit identifier.
    pub id: u16,
    /// Payload (all 8 bytes sent).
    pub data: [u8; 8],
}

/// Everything the inverter is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InverterReport {
    /// Charge voltage limit, mV (sent as at least 0.1 V: never 0).
    pub charge_voltage_mv: u32,
    /// Charge current limit, mA.
    pub charge_current_ma: u32,
    /// Discharge current limit, mA.
    pub discharge_current_ma: u32,
    /// Discharge voltage limit, mV.
    pub discharge_voltage_mv: u32,
    /// SOC, per mille.
    pub soc_permille: u16,
    /// SOH, per mille.
    pub soh_permille: u16,
    /// Pack voltage, mV.
    pub pack_voltage_mv: u32,
    /// Pack current, mA (positive charges).
    pub current_ma: i32,
    /// Mean temperature, 0.1 °C, if known.
    pub mean_temperature_deci_c: Option<i16>,
    /// Faults at trip level (protection bits).
    pub trips: FaultSet,
    /// Faults at warning or derate level (alarm bits).
    pub alarms: FaultSet,
    /// Charging allowed.
    pub charge_enabled: bool,
    /// Discharging allowed.
    pub discharge_enabled: bool,
    /// Force-charge request I.
    pub force_charge_1: bool,
    /// Force-charge request II.
    pub force_charge_2: bool,
    /// Full-charge request (SOC below 97 % for 30 days).
    pub full_charge_requested: bool,
    /// Number of modules reporting.
    pub module_count: u8,
}

/// What one pack's BMS knows that its inverter is told ([`InverterReport::of_pack`]): from a
/// telemetry report, or from an engine's outputs and the snapshot it stepped on.
#[derive(Debug, Clone, Copy)]
pub struct PackState<'a> {
    /// The limits in force.
    pub limits: &'a Limits,
    /// SOC, per mille.
    pub soc_permille: u16,
    /// SOH, per mille, once estimated.
    pub soh_permille: Option<u16>,
    /// Pack voltage, mV.
    pub pack_voltage_mv: u32,
    /// Pack current, mA (positive charges).
    pub current_ma: i32,
    /// Each temperature sensor's reading, 0.1 °C (`None`: no valid reading).
    pub temperatures_deci_c: &'a [Option<i16>],
    /// Faults at trip level.
    pub trips: FaultSet,
    /// Faults at warning or derate level.
    pub warnings_and_derates: FaultSet,
    /// The charge switch conducts.
    pub charge_switch_on: bool,
    /// The discharge switch conducts.
    pub discharge_switch_on: bool,
}

impl InverterReport {
    /// The report of one pack (one module): its limits, SOC and SOH (100 % until estimated),
    /// voltage, current, the mean of the valid temperatures, trips as protection bits and
    /// warnings or derates as alarms, and charging or discharging enabled when the switch is
    /// on and its limit above 0.
    pub fn of_pack(p: &PackState<'_>) -> Self {
        let (sum, n) = p
            .temperatures_deci_c
            .iter()
            .flatten()
            .fold((0_i32, 0_i32), |(s, n), &t| (s + i32::from(t), n + 1));
        InverterReport {
            charge_voltage_mv: p.limits.charge_voltage_mv,
            charge_current_ma: p.limits.charge_current_ma,
            discharge_current_ma: p.limits.discharge_current_ma,
            discharge_voltage_mv: p.limits.discharge_voltage_mv,
            soc_permille: p.soc_permille,
            soh_permille: p.soh_permille.unwrap_or(1000),
            pack_voltage_mv: p.pack_voltage_mv,
            current_ma: p.current_ma,
            mean_temperature_deci_c: (n > 0)
                .then(|| i16::try_from(sum / n.max(1)).unwrap_or_default()),
            trips: p.trips,
            alarms: FaultSet::from_bits(p.warnings_and_derates.bits() & !p.trips.bits()),
            charge_enabled: p.charge_switch_on && p.limits.charge_current_ma > 0,
            discharge_enabled: p.discharge_switch_on && p.limits.discharge_current_ma > 0,
            force_charge_1: p.limits.force_charge_requested,
            force_charge_2: false,
            full_charge_requested: p.limits.full_charge_requested,
            module_count: 1,
        }
    }
}

/// Manufacturer name sent in 0x35E (inverters match on "PYLON").
pub const MANUFACTURER: [u8; 8] = *b"PYLON   ";

/// Divides rounding half away from zero.
fn div_round(value: i64, by: i64) -> i64 {
    if value >= 0 {
        (value + by / 2) / by
    } else {
        (value - by / 2) / by
    }
}

fn u16_scaled(value: u32, by: i64) -> [u8; 2] {
    let v = div_round(i64::from(value), by).clamp(0, i64::from(u16::MAX));
    u16::try_from(v).unwrap_or(u16::MAX).to_le_bytes()
}

fn i16_scaled(value: i64, by: i64) -> [u8; 2] {
    let v = div_round(value, by).clamp(i64::from(i16::MIN), i64::from(i16::MAX));
    i16::try_from(v).unwrap_or(0).to_le_bytes()
}

fn put(data: &mut [u8; 8], at: usize, bytes: [u8; 2]) {
    if let Some(slot) = data.get_mut(at..at + 2) {
        slot.copy_from_slice(&bytes);
    }
}

/// Protection/alarm byte layout shared by 0x359 bytes 0 and 2.
fn voltage_temperature_bits(set: FaultSet) -> u8 {
    let any = |faults: &[Fault]| faults.iter().any(|f| set.contains(*f));
    let mut bits = 0;
    if any(&[Fault::CellOverVoltage, Fault::PackOverVoltage]) {
        bits |= 1 << 1;
    }
    if any(&[Fault::CellUnderVoltage, Fault::PackUnderVoltage]) {
        bits |= 1 << 2;
    }
    if any(&[
        Fault::ChargeOverTemperature,
        Fault::DischargeOverTemperature,
    ]) {
        bits |= 1 << 3;
    }
    if any(&[
        Fault::ChargeUnderTemperature,
        Fault::DischargeUnderTemperature,
    ]) {
        bits |= 1 << 4;
    }
    if any(&[Fault::DischargeOverCurrent, Fault::ShortCircuit]) {
        bits |= 1 << 7;
    }
    bits
}

/// Faults an inverter should see as "system error": the battery cannot vouch for itself.
const SYSTEM_ERRORS: [Fault; 9] = [
    Fault::ShortCircuit,
    Fault::OpenWire,
    Fault::SensorOutOfRange,
    Fault::StuckSensor,
    Fault::PackVoltageMismatch,
    Fault::TemperatureDisagreement,
    Fault::MeasurementInvalid,
    Fault::PrechargeFailed,
    Fault::CellSelfDischarge,
];

/// The six frames for one report, in identifier order.
pub fn pylontech_frames(r: &InverterReport) -> [CanFrame; 6] {
    let mut f351 = [0_u8; 8];
    put(&mut f351, 0, u16_scaled(r.charge_voltage_mv.max(100), 100));
    put(
        &mut f351,
        2,
        i16_scaled(i64::from(r.charge_current_ma), 100),
    );
    put(
        &mut f351,
        4,
        i16_scaled(i64::from(r.discharge_current_ma), 100),
    );
    put(&mut f351, 6, u16_scaled(r.discharge_voltage_mv, 100));

    let mut f355 = [0_u8; 8];
    put(&mut f355, 0, u16_scaled(u32::from(r.soc_permille), 10));
    put(&mut f355, 2, u16_scaled(u32::from(r.soh_permille), 10));

    let mut f356 = [0_u8; 8];
    put(&mut f356, 0, i16_scaled(i64::from(r.pack_voltage_mv), 10));
    put(&mut f356, 2, i16_scaled(i64::from(r.current_ma), 100));
    put(
        &mut f356,
        4,
        r.mean_temperature_deci_c.unwrap_or_default().to_le_bytes(),
    );

    let trips = r.trips;
    let mut f359 = [0_u8; 8];
    f359[0] = voltage_temperature_bits(trips);
    f359[1] = u8::from(trips.contains(Fault::ChargeOverCurrent))
        | (u8::from(SYSTEM_ERRORS.iter().any(|f| trips.contains(*f))) << 3);
    f359[2] = voltage_temperature_bits(r.alarms);
    f359[3] = u8::from(r.alarms.contains(Fault::ChargeOverCurrent))
        | (u8::from(trips.contains(Fault::FrontEndLost)) << 3);
    f359[4] = r.module_count;
    f359[5] = b'P';
    f359[6] = b'N';

    let mut f35c = [0_u8; 8];
    f35c[0] = (u8::from(r.charge_enabled) << 7)
        | (u8::from(r.discharge_enabled) << 6)
        | (u8::from(r.force_charge_1) << 5)
        | (u8::from(r.force_charge_2) << 4)
        | (u8::from(r.full_charge_requested) << 3);

    [
        CanFrame {
            id: 0x351,
            data: f351,
        },
        CanFrame {
            id: 0x355,
            data: f355,
        },
        CanFrame {
            id: 0x356,
            data: f356,
        },
        CanFrame {
            id: 0x359,
            data: f359,
        },
        CanFrame {
            id: 0x35C,
            data: f35c,
        },
        CanFrame {
            id: 0x35E,
            data: MANUFACTURER,
        },
    ]
}
