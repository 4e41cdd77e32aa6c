//! Protection as one table.
//!
//! [`rules`] turns a [`PackConfig`] into rows. A row names a fault, a level, the signal it watches,
//! which side of its threshold is a violation, its release threshold (the hysteresis band lies
//! between the two), its delays, whether it latches and which switches it opens. One routine,
//! [`Debouncer::update`], evaluates every row the same way: a violation must persist for the trip
//! delay before the row trips; a tripped row clears only after the signal has stayed at or beyond
//! the release threshold for the release delay, and a latched row only on reset.
//!
//! Quantities with a "nearly too much" (voltages, currents, temperatures, imbalance) have three
//! rows, one per level: maximum operating limit ([`Level::Warning`]), recommended safety limit
//! ([`Level::Derate`]) and maximum safety limit ([`Level::Trip`], the only level that opens
//! switches). Conditions that are a flag or a count (short circuit, open wire, out-of-range
//! readings, a lost front end…) have a trip row only: they have no "nearly".
//!
//! Fail-safe: a missing value never counts as "within limits". The row's timers hold — nothing
//! trips or releases on a value that is not there — while the missing reading itself is a sensor
//! fault with its own row.

use crate::config::GradedLimit;
use crate::{Measurement, PackConfig};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// A fault kind. The discriminant is its bit in a [`FaultSet`] and its number on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Fault {
    /// The highest cell is above its over-voltage limit; charging stops.
    CellOverVoltage = 0,
    /// The lowest cell is below its under-voltage limit; discharging stops.
    CellUnderVoltage = 1,
    /// The pack voltage is too high; charging stops.
    PackOverVoltage = 2,
    /// The pack voltage is too low; discharging stops.
    PackUnderVoltage = 3,
    /// The charge current is too high; charging stops.
    ChargeOverCurrent = 4,
    /// The discharge current is too high; discharging stops.
    DischargeOverCurrent = 5,
    /// The front end tripped on a short circuit; everything stops until reset.
    ShortCircuit = 6,
    /// Too hot to charge; charging stops.
    ChargeOverTemperature = 7,
    /// Too cold to charge; charging stops (heat first).
    ChargeUnderTemperature = 8,
    /// Too hot to operate; everything stops.
    DischargeOverTemperature = 9,
    /// Too cold to discharge; discharging stops.
    DischargeUnderTemperature = 10,
    /// The cells have drifted too far apart; charging stops.
    CellImbalance = 11,
    /// A cell reads near 0 V: a voltage-sense wire is open. Latches.
    OpenWire = 12,
    /// A reading is outside the sensor's range or not a number. Latches.
    SensorOutOfRange = 13,
    /// A reading has not moved at all for too long. Latches.
    StuckSensor = 14,
    /// The sum of the cells disagrees with the measured pack voltage. Latches.
    PackVoltageMismatch = 15,
    /// The temperature sensors disagree. Latches.
    TemperatureDisagreement = 16,
    /// The analog front end stopped delivering measurements.
    FrontEndLost = 17,
    /// The snapshot does not match the configuration (missing cells or sensors).
    MeasurementInvalid = 18,
    /// Pre-charge did not bring the bus up to the pack voltage in time. Latches.
    PrechargeFailed = 19,
    /// A cell loses charge the others do not (see [`crate::self_discharge`]): an internal
    /// short is suspected. Charging stops; latches.
    CellSelfDischarge = 20,
}

/// Number of fault kinds.
pub const FAULT_COUNT: usize = 21;

impl Fault {
    /// Every fault kind, in bit order.
    pub const ALL: [Fault; FAULT_COUNT] = [
        Fault::CellOverVoltage,
        Fault::CellUnderVoltage,
        Fault::PackOverVoltage,
        Fault::PackUnderVoltage,
        Fault::ChargeOverCurrent,
        Fault::DischargeOverCurrent,
        Fault::ShortCircuit,
        Fault::ChargeOverTemperature,
        Fault::ChargeUnderTemperature,
        Fault::DischargeOverTemperature,
        Fault::DischargeUnderTemperature,
        Fault::CellImbalance,
        Fault::OpenWire,
        Fault::SensorOutOfRange,
        Fault::StuckSensor,
        Fault::PackVoltageMismatch,
        Fault::TemperatureDisagreement,
        Fault::FrontEndLost,
        Fault::MeasurementInvalid,
        Fault::PrechargeFailed,
        Fault::CellSelfDischarge,
    ];

    /// Stable kebab-case name, as printed by the CLI and shown to users.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::CellOverVoltage => "cell-over-voltage",
            Fault::CellUnderVoltage => "cell-under-voltage",
            Fault::PackOverVoltage => "pack-over-voltage",
            Fault::PackUnderVoltage => "pack-under-voltage",
            Fault::ChargeOverCurrent => "charge-over-current",
            Fault::DischargeOverCurrent => "discharge-over-current",
            Fault::ShortCircuit => "short-circuit",
            Fault::ChargeOverTemperature => "charge-over-temperature",
            Fault::ChargeUnderTemperature => "charge-under-temperature",
            Fault::DischargeOverTemperature => "discharge-over-temperature",
            Fault::DischargeUnderTemperature => "discharge-under-temperature",
            Fault::CellImbalance => "cell-imbalance",
            Fault::OpenWire => "open-wire",
            Fault::SensorOutOfRange => "sensor-out-of-range",
            Fault::StuckSensor => "stuck-sensor",
            Fault::PackVoltageMismatch => "pack-voltage-mismatch",
            Fault::TemperatureDisagreement => "temperature-disagreement",
            Fault::FrontEndLost => "front-end-lost",
            Fault::MeasurementInvalid => "measurement-invalid",
            Fault::PrechargeFailed => "precharge-failed",
            Fault::CellSelfDischarge => "cell-self-discharge",
        }
    }

    /// Whether an event's location names a cell (otherwise a temperature sensor, or nothing).
    pub const fn located_at_cell(self) -> bool {
        matches!(
            self,
            Fault::CellOverVoltage
                | Fault::CellUnderVoltage
                | Fault::CellImbalance
                | Fault::OpenWire
                | Fault::CellSelfDischarge
        )
    }

    /// The fault with wire number `n`.
    pub fn from_index(n: u8) -> Option<Fault> {
        Fault::ALL.get(usize::from(n)).copied()
    }

    const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A fault's severity, as in foxBMS's safe operating area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Level {
    /// Maximum operating limit: tell someone.
    Warning = 0,
    /// Recommended safety limit: reduce the current limits.
    Derate = 1,
    /// Maximum safety limit: open the switches.
    Trip = 2,
}

impl Level {
    /// Every level, mildest first.
    pub const ALL: [Level; 3] = [Level::Warning, Level::Derate, Level::Trip];

    /// Stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Derate => "derate",
            Level::Trip => "trip",
        }
    }
}

/// A set of faults, one bit per [`Fault`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSet(u32);

impl FaultSet {
    /// The empty set.
    pub const EMPTY: FaultSet = FaultSet(0);

    /// Builds a set from its wire bits, ignoring bits no fault uses.
    pub fn from_bits(bits: u32) -> Self {
        let known = Fault::ALL.iter().fold(0, |acc, f| acc | f.bit());
        FaultSet(bits & known)
    }

    /// The set's bits, as sent on the wire.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether `fault` is in the set.
    pub const fn contains(self, fault: Fault) -> bool {
        self.0 & fault.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds or removes `fault`.
    pub fn set(&mut self, fault: Fault, active: bool) {
        if active {
            self.0 |= fault.bit();
        } else {
            self.0 &= !fault.bit();
        }
    }

    /// The faults in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A level became active.
    Tripped,
    /// A level cleared.
    Cleared,
    /// A level latched: it stays active until a person resets it.
    Latched,
    /// A person reset latched faults.
    Reset,
    /// A host ordered every switch open ([`crate::protocol::Command::ForceSwitchesOff`]): they
    /// stay open, whatever protection says, until given back. A command, not a fault: the
    /// event's `fault`, `level`, `location`, `value`, `limit` and `delay_ms` say nothing (see
    /// [`Event::switch_command`]).
    SwitchesHeldOpen,
    /// A host gave the switches back to protection
    /// ([`crate::protocol::Command::ReleaseSwitches`]); as for [`EventKind::SwitchesHeldOpen`],
    /// only the time and the kind say anything.
    SwitchesGivenBack,
    /// Pre-charge brought the DC bus up to the pack and the main contactor closed. Names no
    /// fault (see [`Event::contactor`]): `value` is the bus voltage and `limit` the pack
    /// voltage at the close, mV, and `delay_ms` how long pre-charge took.
    ContactorClosed,
    /// The main contactor opened after being closed (protection stopped both directions, or a
    /// host held the switches open); `value` is the pack voltage then, mV.
    ContactorOpened,
    /// On a shared bus, the charge switch opened because the pack may take no charge and is
    /// not discharging, so that the other packs charge on (see
    /// [`crate::PackConfig::shared_bus`]). Names no fault (see [`Event::standby`]): `value` is the pack voltage then, mV.
    ChargeStandby,
    /// The charge switch closed again after [`EventKind::ChargeStandby`]: the pack discharged
    /// through the open switch's diode (`value` the current, mA, negative), or the switch went
    /// back to protection alone (the setting turned off, or readings lost: `value` 0).
    ChargeResumed,
}

/// Something that happened, with the numbers that explain it in one sentence: "cell 7
/// over-voltage tripped at 3.702 V, limit 3.650 V, after 2 s".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Engine time when it happened, ms since start.
    pub time_ms: u64,
    /// What happened.
    pub kind: EventKind,
    /// Which fault.
    pub fault: Fault,
    /// At which level.
    pub level: Level,
    /// Where: 0-based cell or sensor index, `None` for pack-level signals.
    pub location: Option<u8>,
    /// The watched value (unit of the signal: mV, mA, 0.1 °C, ms or a count).
    pub value: i32,
    /// The threshold crossed (trip threshold on trip, release threshold on clear).
    pub limit: i32,
    /// The delay that elapsed before it acted, ms.
    pub delay_ms: u32,
}

impl EventKind {
    /// Stable kebab-case name, as in exported event logs.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Tripped => "tripped",
            EventKind::Cleared => "cleared",
            EventKind::Latched => "latched",
            EventKind::Reset => "reset",
            EventKind::SwitchesHeldOpen => "switches-held-open",
            EventKind::SwitchesGivenBack => "switches-given-back",
            EventKind::ContactorClosed => "contactor-closed",
            EventKind::ContactorOpened => "contactor-opened",
            EventKind::ChargeStandby => "charge-standby",
            EventKind::ChargeResumed => "charge-resumed",
        }
    }

    /// Whether an event of this kind is about a fault (its fault, level and location say
    /// something), rather than a host's switch command, the contactor's sequence or the charge
    /// switch's standby.
    pub const fn is_about_a_fault(self) -> bool {
        !matches!(
            self,
            EventKind::SwitchesHeldOpen
                | EventKind::SwitchesGivenBack
                | EventKind::ContactorClosed
                | EventKind::ContactorOpened
                | EventKind::ChargeStandby
                | EventKind::ChargeResumed
        )
    }
}

impl Event {
    /// A host's switch command at `time_ms`: the switches held open (`held`) or given back. It
    /// names no fault, so the fault-specific fields hold their first values (cell over-voltage,
    /// warning, no location, zeros), which mean nothing here.
    pub const fn switch_command(time_ms: u64, held: bool) -> Self {
        Event {
            time_ms,
            kind: if held {
                EventKind::SwitchesHeldOpen
            } else {
                EventKind::SwitchesGivenBack
            },
            fault: Fault::CellOverVoltage,
            level: Level::Warning,
            location: None,
            value: 0,
            limit: 0,
            delay_ms: 0,
        }
    }

    /// The charge switch's standby on a shared bus at `time_ms`: `kind` is
    /// [`EventKind::ChargeStandby`] or [`EventKind::ChargeResumed`], `value` as those kinds
    /// say. The fault-specific fields hold their first values, as for
    /// [`Event::switch_command`].
    pub const fn standby(time_ms: u64, kind: EventKind, value: i32) -> Self {
        Event::contactor(time_ms, kind, value, 0, 0)
    }

    /// The contactor's sequence at `time_ms`: `kind` is [`EventKind::ContactorClosed`] or
    /// [`EventKind::ContactorOpened`]; `value`, `limit` (mV) and `delay_ms` as those kinds say.
    /// The fault-specific fields hold their first values, as for [`Event::switch_command`].
    pub const fn contactor(
        time_ms: u64,
        kind: EventKind,
        value: i32,
        limit: i32,
        delay_ms: u32,
    ) -> Self {
        Event {
            time_ms,
            kind,
            fault: Fault::CellOverVoltage,
            level: Level::Warning,
            location: None,
            value,
            limit,
            delay_ms,
        }
    }
}

/// What a rule watches. Each reads a value and, where it has one, the cell or sensor it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Highest cell voltage, mV; location: the cell.
    MaxCellVoltage,
    /// Lowest cell voltage, mV; location: the cell.
    MinCellVoltage,
    /// Pack voltage (measured, else the sum of cells), mV.
    PackVoltage,
    /// Charge current (0 while discharging), mA.
    ChargeCurrent,
    /// Discharge current as a positive number (0 while charging), mA.
    DischargeCurrent,
    /// Hottest sensor, 0.1 °C; location: the sensor.
    MaxTemperature,
    /// Coldest sensor, 0.1 °C; location: the sensor.
    MinTemperature,
    /// Highest minus lowest cell voltage, mV; location: the highest cell.
    CellSpread,
    /// 1 while the front end reports a short circuit.
    ShortCircuitFlag,
    /// Number of cells reading below the open-wire threshold; location: the first.
    OpenWireCount,
    /// Number of readings outside their sensor's range or missing; location: the first.
    OutOfRangeCount,
    /// Number of readings that have not moved for too long; location: the first.
    StuckCount,
    /// |sum of cells − measured pack voltage|, mV (absent without a pack measurement).
    PackVoltageMismatch,
    /// Hottest minus coldest sensor, 0.1 °C; location: the hottest.
    TemperatureSpread,
    /// Time since the front end last delivered, ms.
    FrontEndSilence,
    /// 1 while the snapshot does not match the configuration.
    ShapeMismatch,
    /// 1 once pre-charge has failed.
    PrechargeFailure,
    /// The self-discharge check's worst cell: its leak beyond the noise, mA; location: the cell.
    SelfDischarge,
}

/// Number of [`Signal`]s.
pub const SIGNAL_COUNT: usize = 18;

impl Signal {
    /// Every signal, in the order of their indices.
    pub const ALL: [Signal; SIGNAL_COUNT] = [
        Signal::MaxCellVoltage,
        Signal::MinCellVoltage,
        Signal::PackVoltage,
        Signal::ChargeCurrent,
        Signal::DischargeCurrent,
        Signal::MaxTemperature,
        Signal::MinTemperature,
        Signal::CellSpread,
        Signal::ShortCircuitFlag,
        Signal::OpenWireCount,
        Signal::OutOfRangeCount,
        Signal::StuckCount,
        Signal::PackVoltageMismatch,
        Signal::TemperatureSpread,
        Signal::FrontEndSilence,
        Signal::ShapeMismatch,
        Signal::PrechargeFailure,
        Signal::SelfDischarge,
    ];

    /// The signal's place in [`Signal::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Which side of the threshold is a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Values above `threshold` violate; release at or below `release`.
    Above,
    /// Values below `threshold` violate; release at or above `release`.
    Below,
}

/// One row of the protection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The fault this row raises.
    pub fault: Fault,
    /// At which level.
    pub level: Level,
    /// The value it watches.
    pub signal: Signal,
    /// Which side of `threshold` is a violation.
    pub direction: Direction,
    /// Trip threshold.
    pub threshold: i32,
    /// Release threshold.
    pub release: i32,
    /// How long a violation must last before the row trips, ms.
    pub trip_delay_ms: u32,
    /// How long the value must stay released before the row clears, ms.
    pub release_delay_ms: u32,
    /// Whether the row stays active until reset once it trips.
    pub latching: bool,
    /// At [`Level::Trip`]: whether the row opens the charge path.
    pub blocks_charge: bool,
    /// At [`Level::Trip`]: whether the row opens the discharge path.
    pub blocks_discharge: bool,
}

impl Rule {
    fn violates(&self, value: i32) -> bool {
        match self.direction {
            Direction::Above => value > self.threshold,
            Direction::Below => value < self.threshold,
        }
    }

    fn released(&self, value: i32) -> bool {
        match self.direction {
            Direction::Above => value <= self.release,
            Direction::Below => value >= self.release,
        }
    }
}

/// Most rows the table can hold.
pub const MAX_RULES: usize = 48;

impl Fault {
    /// Which switches this fault opens at trip level: (charge, discharge).
    pub const fn trip_opens(self) -> (bool, bool) {
        blocks(self)
    }
}

/// Which switches a fault opens at trip level: (charge, discharge).
const fn blocks(fault: Fault) -> (bool, bool) {
    match fault {
        Fault::CellOverVoltage
        | Fault::PackOverVoltage
        | Fault::ChargeOverCurrent
        | Fault::ChargeOverTemperature
        | Fault::ChargeUnderTemperature
        | Fault::CellImbalance
        | Fault::CellSelfDischarge => (true, false),
        Fault::CellUnderVoltage
        | Fault::PackUnderVoltage
        | Fault::DischargeOverCurrent
        | Fault::DischargeUnderTemperature => (false, true),
        Fault::ShortCircuit
        | Fault::DischargeOverTemperature
        | Fault::OpenWire
        | Fault::SensorOutOfRange
        | Fault::StuckSensor
        | Fault::PackVoltageMismatch
        | Fault::TemperatureDisagreement
        | Fault::FrontEndLost
        | Fault::MeasurementInvalid
        | Fault::PrechargeFailed => (true, true),
    }
}

/// Whether a fault latches at trip level by its nature (a person must look before it clears).
const fn latches(fault: Fault) -> bool {
    matches!(
        fault,
        Fault::ShortCircuit
            | Fault::OpenWire
            | Fault::SensorOutOfRange
            | Fault::StuckSensor
            | Fault::PackVoltageMismatch
            | Fault::TemperatureDisagreement
            | Fault::PrechargeFailed
            | Fault::CellSelfDischarge
    )
}

/// The protection table for a configuration.
pub fn rules(config: &PackConfig) -> Vec<Rule, MAX_RULES> {
    let mut table = Vec::new();
    let graded: [(Fault, Signal, Direction, &GradedLimit); 11] = [
        (
            Fault::CellOverVoltage,
            Signal::MaxCellVoltage,
            Direction::Above,
            &config.cell_over_voltage,
        ),
        (
            Fault::CellUnderVoltage,
            Signal::MinCellVoltage,
            Direction::Below,
            &config.cell_under_voltage,
        ),
        (
            Fault::PackOverVoltage,
            Signal::PackVoltage,
            Direction::Above,
            &config.pack_over_voltage,
        ),
        (
            Fault::PackUnderVoltage,
            Signal::PackVoltage,
            Direction::Below,
            &config.pack_under_voltage,
        ),
        (
            Fault::ChargeOverCurrent,
            Signal::ChargeCurrent,
            Direction::Above,
            &config.charge_over_current,
        ),
        (
            Fault::DischargeOverCurrent,
            Signal::DischargeCurrent,
            Direction::Above,
            &config.discharge_over_current,
        ),
        (
            Fault::ChargeOverTemperature,
            Signal::MaxTemperature,
            Direction::Above,
            &config.charge_over_temperature,
        ),
        (
            Fault::ChargeUnderTemperature,
            Signal::MinTemperature,
            Direction::Below,
            &config.charge_under_temperature,
        ),
        (
            Fault::DischargeOverTemperature,
            Signal::MaxTemperature,
            Direction::Above,
            &config.discharge_over_temperature,
        ),
        (
            Fault::DischargeUnderTemperature,
            Signal::MinTemperature,
            Direction::Below,
            &config.discharge_under_temperature,
        ),
        (
            Fault::CellImbalance,
            Signal::CellSpread,
            Direction::Above,
            &config.cell_imbalance,
        ),
    ];
    let needs_temperatures = |signal: Signal| {
        !matches!(signal, Signal::MaxTemperature | Signal::MinTemperature)
            || config.temperature_count > 0
    };
    for (fault, signal, direction, limit) in graded {
        if !needs_temperatures(signal) {
            continue;
        }
        let (blocks_charge, blocks_discharge) = blocks(fault);
        for level in Level::ALL {
            let threshold = match level {
                Level::Warning => limit.warn,
                Level::Derate => limit.derate,
                Level::Trip => limit.trip,
            };
            let release = match (level, direction) {
                (Level::Trip, _) => limit.trip_release,
                (_, Direction::Above) => threshold.saturating_sub(limit.hysteresis),
                (_, Direction::Below) => threshold.saturating_add(limit.hysteresis),
            };
            let trip_delay_ms = if level == Level::Trip {
                limit.trip_delay_ms
            } else {
                limit.warn_delay_ms
            };
            // The table has room for every row (MAX_RULES > 11 × 3 + 8 + 2 + 1).
            let _ = table.push(Rule {
                fault,
                level,
                signal,
                direction,
                threshold,
                release,
                trip_delay_ms,
                release_delay_ms: limit.release_delay_ms,
                latching: false,
                blocks_charge: level == Level::Trip && blocks_charge,
                blocks_discharge: level == Level::Trip && blocks_discharge,
            });
        }
    }
    let flags: [(Fault, Signal, i32, u32); 8] = [
        (Fault::ShortCircuit, Signal::ShortCircuitFlag, 0, 0),
        (Fault::OpenWire, Signal::OpenWireCount, 0, 500),
        (Fault::SensorOutOfRange, Signal::OutOfRangeCount, 0, 1_000),
        (Fault::StuckSensor, Signal::StuckCount, 0, 0),
        (
            Fault::PackVoltageMismatch,
            Signal::PackVoltageMismatch,
            i32::try_from(config.pack_voltage_mismatch_mv).unwrap_or(i32::MAX),
            5_000,
        ),
        (
            Fault::TemperatureDisagreement,
            Signal::TemperatureSpread,
            i32::from(config.temperature_disagreement_deci_c),
            10_000,
        ),
        (
            Fault::FrontEndLost,
            Signal::FrontEndSilence,
            i32::try_from(config.afe_timeout_ms).unwrap_or(i32::MAX),
            0,
        ),
        (Fault::MeasurementInvalid, Signal::ShapeMismatch, 0, 0),
    ];
    for (fault, signal, threshold, trip_delay_ms) in flags {
        if signal == Signal::TemperatureSpread && config.temperature_count < 2 {
            continue;
        }
        let (blocks_charge, blocks_discharge) = blocks(fault);
        let _ = table.push(Rule {
            fault,
            level: Level::Trip,
            signal,
            direction: Direction::Above,
            threshold,
            release: threshold,
            trip_delay_ms,
            release_delay_ms: 1_000,
            latching: latches(fault),
            blocks_charge,
            blocks_discharge,
        });
    }
    // The self-discharge check: its finding changes once a charge, so no delay; the warning
    // clears when a later finding is back below it, the trip latches.
    let self_discharge = [
        (Level::Warning, config.self_discharge_warn_ma),
        (Level::Trip, config.self_discharge_trip_ma),
    ];
    for (level, threshold_ma) in self_discharge {
        if threshold_ma == 0 {
            continue;
        }
        let trip = level == Level::Trip;
        let _ = table.push(Rule {
            fault: Fault::CellSelfDischarge,
            level,
            signal: Signal::SelfDischarge,
            direction: Direction::Above,
            threshold: i32::from(threshold_ma),
            release: i32::from(threshold_ma),
            trip_delay_ms: 0,
            release_delay_ms: 0,
            latching: trip,
            blocks_charge: trip,
            blocks_discharge: false,
        });
    }
    if matches!(config.switches, crate::SwitchKind::Contactor { .. }) {
        let _ = table.push(Rule {
            fault: Fault::PrechargeFailed,
            level: Level::Trip,
            signal: Signal::PrechargeFailure,
            direction: Direction::Above,
            threshold: 0,
            release: 0,
            trip_delay_ms: 0,
            release_delay_ms: 0,
            latching: true,
            blocks_charge: true,
            blocks_discharge: true,
        });
    }
    table
}

/// Everything a signal may need beyond the snapshot: state the engine keeps between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalContext {
    /// Time since the front end last delivered, ms.
    pub front_end_silence_ms: u32,
    /// Readings stuck for too long and the first one's index.
    pub stuck: (i32, Option<u8>),
    /// Whether pre-charge has failed.
    pub precharge_failed: bool,
    /// Whether the snapshot has the configured shape.
    pub shape_ok: bool,
    /// The self-discharge check's finding: mA and the cell.
    pub self_discharge: (i32, Option<u8>),
}

/// A reading: the value and where it came from (0-based cell or sensor), if anywhere.
pub type Reading = Option<(i32, Option<u8>)>;

/// Every signal of one snapshot, computed in one pass over the cells and sensors so that the
/// table's rows only look values up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// The readings, by [`Signal::index`].
    readings: [Reading; SIGNAL_COUNT],
    /// Plausible extremes of the snapshot, whether or not it is fresh and well-shaped.
    extremes: crate::Extremes,
}

fn located(index: usize, value: i32) -> Reading {
    Some((value, u8::try_from(index).ok()))
}

fn count_reading(count: usize, first: Option<usize>) -> Reading {
    Some((
        i32::try_from(count).unwrap_or(i32::MAX),
        first.and_then(|i| u8::try_from(i).ok()),
    ))
}

impl Signals {
    /// Reads every signal from a snapshot. A snapshot of the wrong shape, or a stale one,
    /// carries no trustworthy measured value: those signals are absent.
    pub fn read(m: &Measurement, config: &PackConfig, ctx: &SignalContext) -> Self {
        let mut s = Signals::default();
        s.set(
            Signal::ShortCircuitFlag,
            Some((i32::from(m.short_circuit), None)),
        );
        s.set(
            Signal::FrontEndSilence,
            Some((
                i32::try_from(ctx.front_end_silence_ms).unwrap_or(i32::MAX),
                None,
            )),
        );
        s.set(
            Signal::ShapeMismatch,
            Some((i32::from(!ctx.shape_ok), None)),
        );
        s.set(
            Signal::PrechargeFailure,
            Some((i32::from(ctx.precharge_failed), None)),
        );
        s.set(Signal::StuckCount, Some(ctx.stuck));
        s.set(Signal::SelfDischarge, Some(ctx.self_discharge));
        // Cells: extremes over plausible readings (first of equals), open and out-of-range counts.
        let mut hi: Option<(usize, u16)> = None;
        let mut lo: Option<(usize, u16)> = None;
        let (mut open, mut open_first) = (0_usize, None);
        let (mut out_of_range, mut out_first) = (0_usize, None);
        let mut sum_mv = 0_u32;
        let (mut plausible_sum_mv, mut plausible) = (0_u64, 0_u64);
        // Every reading plausible (nearly always): one pass for the sum and the extremes.
        let cells = &m.cell_voltages_mv;
        let (mut low, mut low_i, mut high, mut high_i) = (u16::MAX, 0, 0, 0);
        for (i, &mv) in cells.iter().enumerate() {
            sum_mv += u32::from(mv);
            // Strictly: the first of equals.
            if mv < low {
                (low, low_i) = (mv, i);
            }
            if mv > high {
                (high, high_i) = (mv, i);
            }
        }
        let all_plausible = low >= config.open_wire_mv && high <= config.cell_reading_max_mv;
        if !cells.is_empty() && all_plausible {
            (hi, lo) = (Some((high_i, high)), Some((low_i, low)));
            (plausible_sum_mv, plausible) = (u64::from(sum_mv), cells.len() as u64);
        }
        // Otherwise, reading by reading.
        let each = if all_plausible { &[][..] } else { &cells[..] };
        sum_mv = if all_plausible { sum_mv } else { 0 };
        for (i, &mv) in each.iter().enumerate() {
            sum_mv += u32::from(mv);
            if mv < config.open_wire_mv {
                open += 1;
                open_first = open_first.or(Some(i));
                continue;
            }
            if mv > config.cell_reading_max_mv {
                out_of_range += 1;
                out_first = out_first.or(Some(i));
                continue;
            }
            plausible_sum_mv += u64::from(mv);
            plausible += 1;
            if hi.is_none_or(|(_, h)| mv > h) {
                hi = Some((i, mv));
            }
            if lo.is_none_or(|(_, l)| mv < l) {
                lo = Some((i, mv));
            }
        }
        // Temperatures: extremes over plausible ones; missing or beyond range are out of range.
        let limit = config.temperature_reading_limit_deci_c;
        let mut t_hi: Option<(usize, i16)> = None;
        let mut t_lo: Option<(usize, i16)> = None;
        for (i, t) in m.temperatures_deci_c.iter().enumerate() {
            match t.filter(|t| t.saturating_abs() <= limit) {
                None => {
                    out_of_range += 1;
                    out_first = out_first.or(Some(i));
                }
                Some(t) => {
                    if t_hi.is_none_or(|(_, h)| t > h) {
                        t_hi = Some((i, t));
                    }
                    if t_lo.is_none_or(|(_, l)| t < l) {
                        t_lo = Some((i, t));
                    }
                }
            }
        }
        s.extremes = crate::Extremes {
            highest_cell_mv: hi.map(|(_, v)| i32::from(v)),
            lowest_cell_mv: lo.map(|(_, v)| i32::from(v)),
            hottest_deci_c: t_hi.map(|(_, t)| i32::from(t)),
            coldest_deci_c: t_lo.map(|(_, t)| i32::from(t)),
        };
        if !(ctx.shape_ok && m.fresh) {
            return s;
        }
        s.set(
            Signal::MaxCellVoltage,
            hi.and_then(|(i, v)| located(i, i32::from(v))),
        );
        s.set(
            Signal::MinCellVoltage,
            lo.and_then(|(i, v)| located(i, i32::from(v))),
        );
        // The spread is located at the cell out of line: whichever extreme lies farther from
        // the mean (h − mean ≥ mean − l ⇔ (h + l)·n ≥ 2·sum). A leaking cell sits low, a weak one
        // runs high at the top of charge; the other extreme is just the healthiest cell.
        s.set(
            Signal::CellSpread,
            match (hi, lo) {
                (Some((i, h)), Some((j, l))) => {
                    let high_is_out =
                        (u64::from(h) + u64::from(l)) * plausible >= 2 * plausible_sum_mv;
                    located(if high_is_out { i } else { j }, i32::from(h) - i32::from(l))
                }
                _ => None,
            },
        );
        s.set(Signal::OpenWireCount, count_reading(open, open_first));
        s.set(
            Signal::OutOfRangeCount,
            count_reading(out_of_range, out_first),
        );
        let pack_mv = m.pack_voltage_mv.unwrap_or(sum_mv);
        s.set(
            Signal::PackVoltage,
            Some((i32::try_from(pack_mv).unwrap_or(i32::MAX), None)),
        );
        s.set(
            Signal::PackVoltageMismatch,
            m.pack_voltage_mv.map(|measured| {
                let diff = i64::from(measured) - i64::from(sum_mv);
                (i32::try_from(diff.abs()).unwrap_or(i32::MAX), None)
            }),
        );
        s.set(Signal::ChargeCurrent, Some((m.current_ma.max(0), None)));
        s.set(
            Signal::DischargeCurrent,
            Some((m.current_ma.saturating_neg().max(0), None)),
        );
        s.set(
            Signal::MaxTemperature,
            t_hi.and_then(|(i, t)| located(i, i32::from(t))),
        );
        s.set(
            Signal::MinTemperature,
            t_lo.and_then(|(i, t)| located(i, i32::from(t))),
        );
        s.set(
            Signal::TemperatureSpread,
            match (t_hi, t_lo) {
                (Some((i, h)), Some((_, l))) => located(i, i32::from(h) - i32::from(l)),
                _ => None,
            },
        );
        s
    }

    /// The plausible extremes of the snapshot (present even when it is stale or ill-shaped).
    pub fn extremes(&self) -> crate::Extremes {
        self.extremes
    }

    /// The reading of one signal.
    pub fn get(&self, signal: Signal) -> Reading {
        self.readings.get(signal.index()).copied().flatten()
    }

    fn set(&mut self, signal: Signal, reading: Reading) {
        if let Some(slot) = self.readings.get_mut(signal.index()) {
            *slot = reading;
        }
    }
}

/// What lets a step skip the rows that cannot change: each signal's rows (bit `r` for row
/// `r`), and the band inside which none of them sees a violation. A row at rest
/// ([`Debouncer::at_rest`]) whose reading stays inside its signal's band, or is missing, would
/// change nothing and raise no event; most steps, every row is such a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// Per signal: its rows, the lowest threshold of its `Above` rows and the highest of its
    /// `Below` rows.
    bands: [(u64, i32, i32); SIGNAL_COUNT],
}

impl Watch {
    /// The bands of `rules` (at most 64 rows; [`MAX_RULES`] is 48).
    pub fn new(rules: &[Rule]) -> Self {
        let mut bands = [(0_u64, i32::MAX, i32::MIN); SIGNAL_COUNT];
        for (r, rule) in rules.iter().enumerate().take(64) {
            if let Some((rows, above, below)) = bands.get_mut(rule.signal.index()) {
                *rows |= 1 << r;
                match rule.direction {
                    Direction::Above => *above = (*above).min(rule.threshold),
                    Direction::Below => *below = (*below).max(rule.threshold),
                }
            }
        }
        Watch { bands }
    }

    /// The rows a step must evaluate: those not at rest (`busy`), and every row of a signal
    /// whose reading has left its band.
    pub fn due(&self, signals: &Signals, busy: u64) -> u64 {
        let mut due = busy;
        for (&(rows, above, below), reading) in self.bands.iter().zip(&signals.readings) {
            if let Some((value, _)) = reading
                && (*value > above || *value < below)
            {
                due |= rows;
            }
        }
        due
    }
}

/// Debounce state of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Debouncer {
    active: bool,
    latched: bool,
    /// Time the current violation (when clear) or release (when active) has lasted, ms.
    timer_ms: u32,
}

impl Debouncer {
    /// Whether the row is active.
    pub const fn active(&self) -> bool {
        self.active
    }

    /// Whether the row is latched (active until reset).
    pub const fn latched(&self) -> bool {
        self.latched
    }

    /// Whether the row is clear and timing nothing: a reading that does not violate it leaves
    /// it as it is.
    pub const fn at_rest(&self) -> bool {
        !self.active && self.timer_ms == 0
    }

    /// Latches an active row (repeated trips).
    pub fn latch(&mut self) {
        if self.active {
            self.latched = true;
        }
    }

    /// Makes the row active and latched (restoring a latch across a configuration change).
    pub fn force_latched(&mut self) {
        self.active = true;
        self.latched = true;
        self.timer_ms = 0;
    }

    /// Unlatches the row; it then clears by the normal release rule.
    pub fn reset(&mut self) {
        self.latched = false;
        self.timer_ms = 0;
    }

    /// Advances the row by `dt_millis` with the latest reading; returns the event, if any.
    /// `reading` is `None` when the snapshot lacks the signal: timers hold, nothing changes.
    pub fn update(
        &mut self,
        rule: &Rule,
        reading: Option<(i32, Option<u8>)>,
        dt_millis: u32,
        now_ms: u64,
    ) -> Option<Event> {
        let (value, location) = reading?;
        let counting = if self.active {
            !self.latched && rule.released(value)
        } else {
            rule.violates(value)
        };
        if !counting {
            self.timer_ms = 0;
            return None;
        }
        self.timer_ms = self.timer_ms.saturating_add(dt_millis);
        let delay_ms = if self.active {
            rule.release_delay_ms
        } else {
            rule.trip_delay_ms
        };
        if self.timer_ms < delay_ms {
            return None;
        }
        self.active = !self.active;
        self.timer_ms = 0;
        let (kind, limit) = if self.active {
            self.latched = rule.latching;
            (EventKind::Tripped, rule.threshold)
        } else {
            (EventKind::Cleared, rule.release)
        };
        Some(Event {
            time_ms: now_ms,
            kind,
            fault: rule.fault,
            level: rule.level,
            location,
            value,
            limit,
            delay_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(config: &PackConfig, fault: Fault, level: Level) -> Rule {
        *rules(config)
            .iter()
            .find(|r| r.fault == fault && r.level == level)
            .unwrap()
    }

    #[test]
    fn the_cell_spread_is_located_at_the_cell_out_of_line() {
        let config = PackConfig::lfp_280ah(4);
        let ctx = SignalContext {
            shape_ok: true,
            ..SignalContext::default()
        };
        let spread_at = |cells: &[u16]| {
            let m = Measurement::new(cells, 0)
                .unwrap()
                .with_temperatures(&[Some(250), Some(250)])
                .unwrap();
            Signals::read(&m, &config, &ctx).get(Signal::CellSpread)
        };
        // A leaking cell lags below three healthy ones: the low one is named, not the highest.
        assert_eq!(spread_at(&[3300, 3302, 3150, 3301]), Some((152, Some(2))));
        // A weak cell runs ahead at the top of charge: the high one is named.
        assert_eq!(spread_at(&[3400, 3550, 3402, 3401]), Some((150, Some(1))));
        // An open wire is not a plausible reading and does not pull the mean.
        assert_eq!(spread_at(&[3300, 0, 3301, 3200]), Some((101, Some(3))));
    }

    #[test]
    fn every_graded_fault_has_three_rows_and_every_fault_a_trip_row() {
        let mut config = PackConfig::lfp_280ah(16);
        config.switches = crate::SwitchKind::Contactor {
            voltage_match_mv: 1_000,
            precharge_timeout_ms: 3_000,
        };
        let table = rules(&config);
        for fault in Fault::ALL {
            let levels: Vec<Level, 3> = table
                .iter()
                .filter(|r| r.fault == fault)
                .map(|r| r.level)
                .collect();
            assert!(levels.contains(&Level::Trip), "{fault:?} has no trip row");
        }
        // Eleven graded limits, eight flags, the self-discharge warning and trip, pre-charge.
        assert_eq!(table.len(), 11 * 3 + 8 + 2 + 1);
    }

    #[test]
    fn only_trip_rows_open_switches() {
        for r in rules(&PackConfig::lfp_280ah(16)) {
            if r.level != Level::Trip {
                assert!(!r.blocks_charge && !r.blocks_discharge, "{r:?}");
            } else {
                assert!(r.blocks_charge || r.blocks_discharge, "{r:?}");
            }
        }
    }

    /// Evaluating only the rows [`Watch::due`] names gives the same events and row states as
    /// evaluating every row, step by step, over readings that wander across every threshold
    /// (and now and then go missing).
    #[test]
    fn the_watched_rows_are_all_that_can_change() {
        let config = PackConfig::lfp_280ah(16);
        let table = rules(&config);
        let watch = Watch::new(&table);
        let mut every = [Debouncer::default(); MAX_RULES];
        let mut watched = every;
        let mut busy = 0_u64;
        let mut seed = 0x2545_f491_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        // Each signal's reading walks around the thresholds its rows use.
        let centre: [i32; SIGNAL_COUNT] = core::array::from_fn(|k| {
            table
                .iter()
                .find(|r| r.signal.index() == k)
                .map_or(0, |r| r.threshold)
        });
        let mut value = centre;
        let (mut events, mut skipped) = (0, 0);
        for step in 0..20_000_u64 {
            let mut signals = Signals::default();
            for (k, v) in value.iter_mut().enumerate() {
                let spread = centre[k].abs() / 20 + 2;
                *v = (*v + (next() % 7) as i32 - 3).clamp(centre[k] - spread, centre[k] + spread);
                let reading = (next() % 50 != 0).then_some((*v, Some(3)));
                signals.set(Signal::ALL[k], reading);
            }
            let now = step * 100;
            let due = watch.due(&signals, busy);
            for (r, rule) in table.iter().enumerate() {
                let reading = signals.get(rule.signal);
                let all = every[r].update(rule, reading, 100, now);
                let only = if due & (1 << r) != 0 {
                    watched[r].update(rule, reading, 100, now)
                } else {
                    skipped += 1;
                    None
                };
                assert_eq!(all, only, "step {step}, row {r}");
                assert_eq!(every[r], watched[r], "step {step}, row {r}");
                events += usize::from(all.is_some());
                busy = (busy & !(1 << r)) | (u64::from(!watched[r].at_rest()) << r);
            }
        }
        assert!(
            events > 100 && skipped > 100_000,
            "{events} events, {skipped} skipped"
        );
    }

    #[test]
    fn thresholds_and_releases_come_from_the_configuration() {
        let c = PackConfig::lfp_280ah(16);
        let ov = row(&c, Fault::CellOverVoltage, Level::Trip);
        assert_eq!(
            (ov.threshold, ov.release, ov.trip_delay_ms),
            (3_650, 3_400, 2_000)
        );
        assert!(ov.blocks_charge && !ov.blocks_discharge);
        let uv = row(&c, Fault::CellUnderVoltage, Level::Trip);
        assert_eq!((uv.threshold, uv.release), (2_500, 3_100));
        assert!(!uv.blocks_charge && uv.blocks_discharge);
        let warn = row(&c, Fault::CellOverVoltage, Level::Warning);
        assert_eq!(
            (warn.threshold, warn.release, warn.trip_delay_ms),
            (3_550, 3_450, 1_000)
        );
        let uv_warn = row(&c, Fault::CellUnderVoltage, Level::Warning);
        assert_eq!((uv_warn.threshold, uv_warn.release), (2_900, 3_000));
        let cut = row(&c, Fault::ChargeUnderTemperature, Level::Trip);
        assert_eq!(
            (cut.threshold, cut.release, cut.direction),
            (0, 30, Direction::Below)
        );
        let oc = row(&c, Fault::DischargeOverCurrent, Level::Trip);
        assert_eq!((oc.threshold, oc.trip_delay_ms), (280_000, 320));
        let sc = row(&c, Fault::ShortCircuit, Level::Trip);
        assert!(sc.latching && sc.blocks_charge && sc.blocks_discharge);
        let lost = row(&c, Fault::FrontEndLost, Level::Trip);
        assert_eq!(lost.threshold, 2_000);
        assert!(!lost.latching);
    }

    #[test]
    fn missing_value_holds_the_trip_timer() {
        let rule = row(
            &PackConfig::lfp_280ah(4),
            Fault::CellOverVoltage,
            Level::Trip,
        );
        let mut d = Debouncer::default();
        assert_eq!(d.update(&rule, Some((3_700, Some(0))), 1_500, 0), None);
        assert_eq!(d.update(&rule, None, 10_000, 0), None);
        assert!(!d.active());
        let event = d.update(&rule, Some((3_700, Some(0))), 500, 0).unwrap();
        assert_eq!(event.kind, EventKind::Tripped);
        assert_eq!(event.delay_ms, 2_000);
    }

    #[test]
    fn a_single_sample_back_in_range_restarts_the_delay() {
        let rule = row(
            &PackConfig::lfp_280ah(4),
            Fault::CellOverVoltage,
            Level::Trip,
        );
        let mut d = Debouncer::default();
        d.update(&rule, Some((3_700, Some(2))), 1_900, 0);
        d.update(&rule, Some((3_600, Some(2))), 100, 0);
        assert_eq!(d.update(&rule, Some((3_700, Some(2))), 1_900, 0), None);
        assert!(!d.active());
    }

    #[test]
    fn a_latched_row_ignores_release_until_reset() {
        let rule = row(&PackConfig::lfp_280ah(4), Fault::ShortCircuit, Level::Trip);
        let mut d = Debouncer::default();
        assert!(d.update(&rule, Some((1, None)), 10, 0).is_some());
        assert!(d.latched());
        assert_eq!(d.update(&rule, Some((0, None)), 100_000, 0), None);
        assert!(d.active());
        d.reset();
        d.update(&rule, Some((0, None)), 999, 0);
        assert!(d.active());
        let e = d.update(&rule, Some((0, None)), 1, 0).unwrap();
        assert_eq!(e.kind, EventKind::Cleared);
    }

    #[test]
    fn names_are_unique_kebab_case_and_cell_faults_say_so() {
        let names: Vec<&str, FAULT_COUNT> = Fault::ALL.iter().map(|f| f.name()).collect();
        for (i, a) in names.iter().enumerate() {
            assert!(a.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{a}");
            assert!(!names[i + 1..].contains(a), "{a} twice");
        }
        let cell: Vec<Fault, FAULT_COUNT> = Fault::ALL
            .into_iter()
            .filter(|f| f.located_at_cell())
            .collect();
        assert_eq!(
            cell.as_slice(),
            &[
                Fault::CellOverVoltage,
                Fault::CellUnderVoltage,
                Fault::CellImbalance,
                Fault::OpenWire,
                Fault::CellSelfDischarge
            ]
        );
        let levels: Vec<&str, 3> = Level::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(levels.as_slice(), &["warning", "derate", "trip"]);
        assert!(Level::Warning < Level::Derate && Level::Derate < Level::Trip);
    }

    #[test]
    fn packs_without_enough_sensors_get_no_rows_they_cannot_evaluate() {
        let mut config = PackConfig::lfp_280ah(4);
        config.temperature_count = 1;
        let one = rules(&config);
        assert!(
            !one.iter()
                .any(|r| r.fault == Fault::TemperatureDisagreement)
        );
        assert!(one.iter().any(|r| r.fault == Fault::ChargeOverTemperature));
        config.temperature_count = 0;
        let none = rules(&config);
        assert!(!none.iter().any(|r| matches!(
            r.signal,
            Signal::MaxTemperature | Signal::MinTemperature | Signal::TemperatureSpread
        )));
        assert_eq!(none.len(), 7 * 3 + 7 + 2);
    }

    #[test]
    fn fault_set_round_trips_its_bits() {
        let mut set = FaultSet::EMPTY;
        set.set(Fault::CellUnderVoltage, true);
        set.set(Fault::PrechargeFailed, true);
        assert_eq!(FaultSet::from_bits(set.bits()), set);
        assert_eq!(
            set.iter().collect::<Vec<_, 4>>().as_slice(),
            &[Fault::CellUnderVoltage, Fault::PrechargeFailed]
        );
        assert_eq!(FaultSet::from_bits(0xFFE0_0000), FaultSet::EMPTY);
        for (i, f) in Fault::ALL.iter().enumerate() {
            assert_eq!(Fault::from_index(i as u8), Some(*f));
        }
        assert_eq!(Fault::from_index(FAULT_COUNT as u8), None);
    }
}
