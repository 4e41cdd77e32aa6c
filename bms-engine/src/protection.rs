//! Protection as one table.
//!
//! Each row of [`rules`] names a fault, the signal it watches, which side of a threshold is a
//! violation, its trip and release thresholds, its delays and which switches it opens. One
//! routine, [`Debouncer::update`], evaluates every row the same way: a violation must persist for
//! the trip delay before the fault trips; a tripped fault clears only after the signal has stayed
//! inside the release band for the release delay. A missing value never counts as "within
//! limits": the row's timers hold until a real value arrives.

use crate::{Measurement, PackConfig};
use serde::{Deserialize, Serialize};

/// A fault kind. The discriminant is its bit in a [`FaultSet`] and its number on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Fault {
    /// A cell is above the over-voltage trip threshold; charging stops.
    CellOverVoltage = 0,
    /// A cell is below the under-voltage trip threshold; discharging stops.
    CellUnderVoltage = 1,
    /// The snapshot does not match the configuration (wrong or missing cells); both switches
    /// open until a plausible snapshot arrives.
    MeasurementInvalid = 2,
}

impl Fault {
    /// Every fault kind, in bit order.
    pub const ALL: [Fault; 3] = [
        Fault::CellOverVoltage,
        Fault::CellUnderVoltage,
        Fault::MeasurementInvalid,
    ];

    /// Stable kebab-case name, as printed by the CLI and shown to users.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::CellOverVoltage => "cell-over-voltage",
            Fault::CellUnderVoltage => "cell-under-voltage",
            Fault::MeasurementInvalid => "measurement-invalid",
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A set of active faults, one bit per [`Fault`].
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

    /// Whether no fault is active.
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

    /// The active faults, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// Whether a fault started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The fault tripped.
    Tripped,
    /// The fault cleared.
    Cleared,
}

/// Something that happened during one step, with the numbers that explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Trip or clear.
    pub kind: EventKind,
    /// Which fault.
    pub fault: Fault,
    /// 0-based index of the cell concerned, `None` for pack-level faults.
    pub cell_index: Option<u8>,
    /// The watched value when it happened (mV for voltages).
    pub value: i32,
    /// The threshold it crossed (trip threshold on trip, release threshold on clear).
    pub limit: i32,
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Highest cell voltage, mV.
    MaxCellVoltage,
    /// Lowest cell voltage, mV.
    MinCellVoltage,
}

impl Signal {
    /// The signal's value and the 0-based cell it came from, if the snapshot has it.
    pub fn read(self, measurement: &Measurement) -> Option<(i32, Option<u8>)> {
        let (index, mv) = match self {
            Signal::MaxCellVoltage => measurement.max_cell()?,
            Signal::MinCellVoltage => measurement.min_cell()?,
        };
        Some((i32::from(mv), u8::try_from(index).ok()))
    }
}

/// Which side of the threshold is a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Values above `trip` violate; the fault releases at or below `release`.
    Above,
    /// Values below `trip` violate; the fault releases at or above `release`.
    Below,
}

/// One row of the protection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The fault this row raises.
    pub fault: Fault,
    /// The value it watches.
    pub signal: Signal,
    /// Which side of `trip` is a violation.
    pub direction: Direction,
    /// Trip threshold.
    pub trip: i32,
    /// Release threshold (the hysteresis band lies between `trip` and `release`).
    pub release: i32,
    /// How long a violation must last before the fault trips, ms.
    pub trip_delay_ms: u32,
    /// How long the value must stay released before the fault clears, ms.
    pub release_delay_ms: u32,
    /// Whether the tripped fault opens the charge switch.
    pub blocks_charge: bool,
    /// Whether the tripped fault opens the discharge switch.
    pub blocks_discharge: bool,
}

impl Rule {
    fn violates(&self, value: i32) -> bool {
        match self.direction {
            Direction::Above => value > self.trip,
            Direction::Below => value < self.trip,
        }
    }

    fn released(&self, value: i32) -> bool {
        match self.direction {
            Direction::Above => value <= self.release,
            Direction::Below => value >= self.release,
        }
    }
}

/// Number of rows in the protection table.
pub const RULE_COUNT: usize = 2;

/// The protection table for a configuration.
pub fn rules(config: &PackConfig) -> [Rule; RULE_COUNT] {
    [
        Rule {
            fault: Fault::CellOverVoltage,
            signal: Signal::MaxCellVoltage,
            direction: Direction::Above,
            trip: i32::from(config.cell_ov_trip_mv),
            release: i32::from(config.cell_ov_release_mv),
            trip_delay_ms: config.cell_ov_delay_ms,
            release_delay_ms: config.release_delay_ms,
            blocks_charge: true,
            blocks_discharge: false,
        },
        Rule {
            fault: Fault::CellUnderVoltage,
            signal: Signal::MinCellVoltage,
            direction: Direction::Below,
            trip: i32::from(config.cell_uv_trip_mv),
            release: i32::from(config.cell_uv_release_mv),
            trip_delay_ms: config.cell_uv_delay_ms,
            release_delay_ms: config.release_delay_ms,
            blocks_charge: false,
            blocks_discharge: true,
        },
    ]
}

/// Debounce state of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Debouncer {
    tripped: bool,
    /// Time the current violation (when clear) or release (when tripped) has lasted, ms.
    timer_ms: u32,
}

impl Debouncer {
    /// Whether the rule's fault is active.
    pub const fn tripped(&self) -> bool {
        self.tripped
    }

    /// Advances the rule by `dt_millis` with the latest value; returns the event, if any.
    /// `reading` is `None` when the snapshot lacks the signal: timers hold, nothing releases.
    pub fn update(
        &mut self,
        rule: &Rule,
        reading: Option<(i32, Option<u8>)>,
        dt_millis: u32,
    ) -> Option<Event> {
        let (value, cell_index) = reading?;
        let counting = if self.tripped {
            rule.released(value)
        } else {
            rule.violates(value)
        };
        if !counting {
            self.timer_ms = 0;
            return None;
        }
        self.timer_ms = self.timer_ms.saturating_add(dt_millis);
        let delay = if self.tripped {
            rule.release_delay_ms
        } else {
            rule.trip_delay_ms
        };
        if self.timer_ms < delay {
            return None;
        }
        self.tripped = !self.tripped;
        self.timer_ms = 0;
        let (kind, limit) = if self.tripped {
            (EventKind::Tripped, rule.trip)
        } else {
            (EventKind::Cleared, rule.release)
        };
        Some(Event {
            kind,
            fault: rule.fault,
            cell_index,
            value,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov_rule() -> Rule {
        rules(&PackConfig::lfp_280ah(4))[0]
    }

    #[test]
    fn table_matches_the_configuration() {
        let config = PackConfig::lfp_280ah(16);
        let [ov, uv] = rules(&config);
        assert_eq!(ov.fault, Fault::CellOverVoltage);
        assert_eq!(ov.trip, 3_650);
        assert_eq!(ov.release, 3_400);
        assert_eq!(ov.trip_delay_ms, 2_000);
        assert!(ov.blocks_charge && !ov.blocks_discharge);
        assert_eq!(uv.fault, Fault::CellUnderVoltage);
        assert_eq!(uv.trip, 2_500);
        assert_eq!(uv.release, 3_100);
        assert!(!uv.blocks_charge && uv.blocks_discharge);
    }

    #[test]
    fn missing_value_holds_the_trip_timer() {
        let rule = ov_rule();
        let mut d = Debouncer::default();
        assert_eq!(d.update(&rule, Some((3_700, Some(0))), 1_500), None);
        assert_eq!(d.update(&rule, None, 10_000), None);
        assert!(!d.tripped());
        let event = d.update(&rule, Some((3_700, Some(0))), 500).unwrap();
        assert_eq!(event.kind, EventKind::Tripped);
    }

    #[test]
    fn a_single_sample_back_in_range_restarts_the_delay() {
        let rule = ov_rule();
        let mut d = Debouncer::default();
        d.update(&rule, Some((3_700, Some(2))), 1_900);
        d.update(&rule, Some((3_600, Some(2))), 100);
        assert_eq!(d.update(&rule, Some((3_700, Some(2))), 1_900), None);
        assert!(!d.tripped());
    }

    #[test]
    fn fault_set_round_trips_its_bits() {
        let mut set = FaultSet::EMPTY;
        set.set(Fault::CellUnderVoltage, true);
        set.set(Fault::MeasurementInvalid, true);
        assert_eq!(FaultSet::from_bits(set.bits()), set);
        assert_eq!(
            set.iter().collect::<heapless::Vec<_, 4>>().as_slice(),
            &[Fault::CellUnderVoltage, Fault::MeasurementInvalid]
        );
        assert_eq!(FaultSet::from_bits(0xFFFF_FF00), FaultSet::EMPTY);
    }
}
