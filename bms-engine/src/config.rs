//! Pack configuration: what the engine protects and how. Every threshold lives here, never as a
//! literal in the protection logic. [`PackConfig::validate`] returns the first broken rule,
//! [`PackConfig::violations`] every one of them, each naming the field and the rule.
//!
//! The configuration is also a wire type (configuration read and write), which is why it derives
//! serde: its field order is part of the protocol and frozen by golden tests.

use crate::{Error, MAX_CELLS, MAX_TEMPERATURES};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Three graded thresholds on one quantity, as in foxBMS: maximum operating limit (warn),
/// recommended safety limit (derate) and maximum safety limit (trip: open the switches).
///
/// For a quantity limited from above, `warn <= derate <= trip`: the warn and derate levels release
/// once the value is back at or below `level − hysteresis`, the trip level at or below
/// `trip_release`. For one limited from below everything mirrors: `warn >= derate >= trip`,
/// release at or above `level + hysteresis`, and at or above `trip_release`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradedLimit {
    /// Maximum operating limit: a warning.
    pub warn: i32,
    /// Recommended safety limit: current limits are derated.
    pub derate: i32,
    /// Maximum safety limit: the switches open.
    pub trip: i32,
    /// Distance back inside the limit before the warn and derate levels release.
    pub hysteresis: i32,
    /// Where the trip level releases (usually well inside the limits, e.g. 3.40 V after a
    /// 3.65 V over-voltage trip).
    pub trip_release: i32,
    /// How long a violation must last before the warn and derate levels act, ms.
    pub warn_delay_ms: u32,
    /// How long a violation must last before the trip level acts, ms.
    pub trip_delay_ms: u32,
    /// How long the value must stay released before a level clears, ms.
    pub release_delay_ms: u32,
}

impl GradedLimit {
    /// Thresholds, hysteresis and release multiplied by `factor` (delays unchanged).
    #[must_use]
    pub const fn scaled(self, factor: i32) -> Self {
        GradedLimit {
            warn: self.warn.saturating_mul(factor),
            derate: self.derate.saturating_mul(factor),
            trip: self.trip.saturating_mul(factor),
            hysteresis: self.hysteresis.saturating_mul(factor),
            trip_release: self.trip_release.saturating_mul(factor),
            ..self
        }
    }

    const fn above(warn: i32, derate: i32, trip: i32, hysteresis: i32, trip_delay_ms: u32) -> Self {
        GradedLimit {
            warn,
            derate,
            trip,
            hysteresis,
            trip_release: trip - hysteresis,
            warn_delay_ms: 1_000,
            trip_delay_ms,
            release_delay_ms: 2_000,
        }
    }
}

/// The switching hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwitchKind {
    /// Back-to-back charge and discharge MOSFETs (each conducts the other way through its body
    /// diode when open).
    Fets,
    /// A main contactor with a pre-charge path.
    Contactor {
        /// Pre-charge must bring the bus within this of the pack voltage, mV.
        voltage_match_mv: u32,
        /// Pre-charge that has not matched by then fails to the safe state, ms.
        precharge_timeout_ms: u32,
    },
}

/// The balancing hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BalancerKind {
    /// Bleed resistors switched by the front end.
    Passive {
        /// Current through one bleed resistor, mA.
        bleed_current_ma: u16,
        /// Most channels bleeding at once (thermal budget of the board).
        max_channels: u8,
        /// Whether two neighbouring channels may not bleed at the same time.
        no_adjacent: bool,
    },
    /// An active (charge-transfer) balancer.
    Active {
        /// Largest transfer current, mA.
        max_current_ma: u16,
    },
}

/// Configuration of one module (one engine instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackConfig {
    /// Number of series cells monitored, 1 ..= [`MAX_CELLS`].
    pub cell_count: u8,
    /// Number of temperature sensors, 0 ..= [`MAX_TEMPERATURES`].
    pub temperature_count: u8,
    /// Nominal capacity of the series string in mAh.
    pub capacity_mah: u32,
    /// Absolute maximum cell voltage (datasheet), mV; the trip level must lie below it.
    pub cell_voltage_max_mv: u16,
    /// Absolute minimum cell voltage (datasheet), mV; the trip level must lie above it.
    pub cell_voltage_min_mv: u16,

    /// Highest cell voltage, mV (limited from above).
    pub cell_over_voltage: GradedLimit,
    /// Lowest cell voltage, mV (limited from below).
    pub cell_under_voltage: GradedLimit,
    /// Pack voltage, mV (limited from above).
    pub pack_over_voltage: GradedLimit,
    /// Pack voltage, mV (limited from below).
    pub pack_under_voltage: GradedLimit,
    /// Charge current, mA (limited from above).
    pub charge_over_current: GradedLimit,
    /// Discharge current as a positive number, mA (limited from above).
    pub discharge_over_current: GradedLimit,
    /// Hottest sensor while charging is possible, 0.1 °C (limited from above).
    pub charge_over_temperature: GradedLimit,
    /// Coldest sensor while charging is possible, 0.1 °C (limited from below).
    pub charge_under_temperature: GradedLimit,
    /// Hottest sensor, 0.1 °C (limited from above).
    pub discharge_over_temperature: GradedLimit,
    /// Coldest sensor, 0.1 °C (limited from below).
    pub discharge_under_temperature: GradedLimit,
    /// Highest minus lowest cell voltage, mV (limited from above).
    pub cell_imbalance: GradedLimit,

    /// Short-circuit current the front end trips at, mA (checked for plausibility only: the
    /// hardware acts; the engine latches the flag it reports).
    pub short_circuit_current_ma: u32,
    /// Short-circuit delay programmed into the front end, µs.
    pub short_circuit_delay_us: u32,
    /// A cell reading below this is an open sense wire, mV.
    pub open_wire_mv: u16,
    /// A cell reading above this is out of the sensor's range, mV.
    pub cell_reading_max_mv: u16,
    /// A temperature outside ±this is out of the sensor's range, 0.1 °C.
    pub temperature_reading_limit_deci_c: i16,
    /// Largest accepted difference between the sum of cells and the measured pack voltage, mV.
    pub pack_voltage_mismatch_mv: u32,
    /// Largest accepted spread between temperature sensors, 0.1 °C.
    pub temperature_disagreement_deci_c: i16,
    /// A sensor whose reading has not moved at all for this long is stuck, ms (0 disables).
    pub stuck_sensor_ms: u32,
    /// Snapshots the front end failed to deliver for this long are a lost link, ms.
    pub afe_timeout_ms: u32,
    /// This many trips of one fault within `repeat_window_ms` latch it.
    pub repeat_trip_count: u8,
    /// Window for counting repeated trips, ms.
    pub repeat_window_ms: u32,

    /// The switching hardware.
    pub switches: SwitchKind,

    /// The balancing hardware.
    pub balancer: BalancerKind,
    /// Cells balance only at or above this voltage, mV.
    pub balance_min_cell_mv: u16,
    /// Balancing starts when a cell is this far above the lowest, mV.
    pub balance_start_delta_mv: u16,
    /// Balancing of a cell stops when it is within this of the lowest, mV.
    pub balance_stop_delta_mv: u16,
    /// The pack has rested once |current| has stayed below `rest_current_ma` this long, ms: for
    /// the coulomb counter's OCV reading, and for balancing after a discharge or a start (after a
    /// charge balancing goes on at once: see `balancing`).
    pub rest_time_ms: u32,
    /// Current below which the pack is at rest, mA.
    pub rest_current_ma: u32,
    /// No balancing when the hottest sensor is at or above this, 0.1 °C.
    pub balance_max_temperature_deci_c: i16,

    /// The heater switches on below this, 0.1 °C (when a heater is fitted).
    pub heater_on_below_deci_c: i16,
    /// The heater switches off at or above this, 0.1 °C.
    pub heater_off_at_deci_c: i16,
    /// The fan switches on above this, 0.1 °C.
    pub fan_on_above_deci_c: i16,
    /// The fan switches off at or below this, 0.1 °C.
    pub fan_off_at_deci_c: i16,

    /// Charge target (absorption) per cell, mV.
    pub absorption_cell_mv: u16,
    /// Float voltage per cell after absorption, mV.
    pub float_cell_mv: u16,
    /// Absorption ends after the current stays below this for `absorption_tail_ms`, mA.
    pub absorption_tail_current_ma: u32,
    /// See `absorption_tail_current_ma`, ms.
    pub absorption_tail_ms: u32,
    /// Float ends (absorption again) when SOC falls below this, per mille.
    pub float_exit_soc_permille: u16,
    /// Discharge voltage limit per cell told to the inverter, mV.
    pub discharge_cell_mv: u16,
    /// Largest charge current, mA.
    pub max_charge_current_ma: u32,
    /// Largest discharge current, mA.
    pub max_discharge_current_ma: u32,

    /// A cell found losing this much more charge than the others, beyond the estimates' noise,
    /// is reported (a warning), mA; 0 turns the warning off (see [`crate::self_discharge`]).
    pub self_discharge_warn_ma: u16,
    /// A cell found losing this much more is suspected of an internal short: charging stops
    /// until a person has looked (the trip latches), mA; 0 turns the trip off.
    pub self_discharge_trip_ma: u16,

    /// Other packs share this pack's bus, in parallel behind one inverter (FET hardware). A
    /// pack that may take no charge and is not discharging then opens its charge switch, so that the
    /// others can go on charging without charging it (see [`crate::Engine`]'s charge standby);
    /// alone on its bus a pack keeps it closed and tells its charger a zero limit. Missing
    /// from a configuration written before it (a JSON backup): alone, as such a device was.
    #[serde(default)]
    pub shared_bus: bool,
}

/// One broken configuration rule (sent on the wire as text, see
/// [`crate::protocol::WireViolation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// The offending field (dotted for nested fields, e.g. `cell_over_voltage.trip`).
    pub field: &'static str,
    /// The rule it breaks.
    pub rule: &'static str,
}

/// Most violations reported at once.
pub const MAX_VIOLATIONS: usize = 24;

/// Longest delay accepted: a protection slower than this does not protect, ms.
const MAX_DELAY_MS: u32 = 600_000;

impl PackConfig {
    /// Typical settings for LiFePO4 280 Ah prismatic cells with FETs and passive balancing
    /// (DOMAIN.md §2): cell over-voltage trip 3.65 V / release 3.40 V after 2 s, under-voltage
    /// trip 2.50 V / release 3.10 V after 2 s, charge window 0…45 °C, discharge −20…55 °C,
    /// over-current 1 C for 320 ms, balancing from 3.30 V at a 10 mV spread.
    pub const fn lfp_280ah(cell_count: u8) -> Self {
        let cells = cell_count as i32;
        PackConfig {
            cell_count,
            temperature_count: 2,
            capacity_mah: 280_000,
            cell_voltage_max_mv: 3_800,
            cell_voltage_min_mv: 2_000,
            cell_over_voltage: GradedLimit {
                trip_release: 3_400,
                ..GradedLimit::above(3_550, 3_600, 3_650, 100, 2_000)
            },
            cell_under_voltage: GradedLimit {
                warn: 2_900,
                derate: 2_800,
                trip: 2_500,
                hysteresis: 100,
                trip_release: 3_100,
                warn_delay_ms: 1_000,
                trip_delay_ms: 2_000,
                release_delay_ms: 2_000,
            },
            pack_over_voltage: GradedLimit::above(
                3_560 * cells,
                3_610 * cells,
                3_660 * cells,
                100 * cells,
                2_000,
            ),
            pack_under_voltage: GradedLimit {
                warn: 2_900 * cells,
                derate: 2_800 * cells,
                trip: 2_450 * cells,
                hysteresis: 100 * cells,
                trip_release: 3_000 * cells,
                warn_delay_ms: 1_000,
                trip_delay_ms: 2_000,
                release_delay_ms: 2_000,
            },
            charge_over_current: GradedLimit {
                warn_delay_ms: 5_000,
                ..GradedLimit::above(200_000, 250_000, 280_000, 20_000, 320)
            },
            discharge_over_current: GradedLimit {
                warn_delay_ms: 5_000,
                ..GradedLimit::above(200_000, 250_000, 280_000, 20_000, 320)
            },
            charge_over_temperature: GradedLimit::above(400, 430, 450, 50, 5_000),
            charge_under_temperature: GradedLimit {
                warn: 50,
                derate: 20,
                trip: 0,
                hysteresis: 30,
                trip_release: 30,
                warn_delay_ms: 1_000,
                trip_delay_ms: 5_000,
                release_delay_ms: 5_000,
            },
            discharge_over_temperature: GradedLimit::above(480, 520, 550, 50, 5_000),
            discharge_under_temperature: GradedLimit {
                warn: -100,
                derate: -150,
                trip: -200,
                hysteresis: 50,
                trip_release: -150,
                warn_delay_ms: 1_000,
                trip_delay_ms: 5_000,
                release_delay_ms: 5_000,
            },
            cell_imbalance: GradedLimit {
                warn_delay_ms: 30_000,
                release_delay_ms: 30_000,
                ..GradedLimit::above(100, 200, 400, 30, 60_000)
            },
            short_circuit_current_ma: 560_000,
            short_circuit_delay_us: 200,
            open_wire_mv: 500,
            cell_reading_max_mv: 5_000,
            temperature_reading_limit_deci_c: 1_200,
            pack_voltage_mismatch_mv: 500,
            temperature_disagreement_deci_c: 150,
            stuck_sensor_ms: 0,
            afe_timeout_ms: 2_000,
            repeat_trip_count: 3,
            repeat_window_ms: 3_600_000,
            switches: SwitchKind::Fets,
            balancer: BalancerKind::Passive {
                bleed_current_ma: 60,
                max_channels: 8,
                no_adjacent: true,
            },
            balance_min_cell_mv: 3_300,
            balance_start_delta_mv: 10,
            balance_stop_delta_mv: 5,
            rest_time_ms: 1_800_000,
            rest_current_ma: 1_000,
            balance_max_temperature_deci_c: 500,
            heater_on_below_deci_c: 20,
            heater_off_at_deci_c: 50,
            fan_on_above_deci_c: 350,
            fan_off_at_deci_c: 300,
            absorption_cell_mv: 3_450,
            float_cell_mv: 3_375,
            absorption_tail_current_ma: 14_000,
            absorption_tail_ms: 600_000,
            float_exit_soc_permille: 900,
            discharge_cell_mv: 2_900,
            max_charge_current_ma: 140_000,
            max_discharge_current_ma: 200_000,
            self_discharge_warn_ma: 100,
            self_discharge_trip_ma: 500,
            shared_bus: false,
        }
    }

    /// The same settings for groups of `parallel` cells in parallel: capacity and every
    /// current limit scale with the group (cell voltages and temperatures do not).
    #[must_use]
    pub const fn with_parallel(mut self, parallel: u8) -> Self {
        let p = if parallel == 0 { 1 } else { parallel as u32 };
        let pi = p as i32;
        self.capacity_mah = self.capacity_mah.saturating_mul(p);
        self.charge_over_current = self.charge_over_current.scaled(pi);
        self.discharge_over_current = self.discharge_over_current.scaled(pi);
        self.short_circuit_current_ma = self.short_circuit_current_ma.saturating_mul(p);
        self.absorption_tail_current_ma = self.absorption_tail_current_ma.saturating_mul(p);
        self.max_charge_current_ma = self.max_charge_current_ma.saturating_mul(p);
        self.max_discharge_current_ma = self.max_discharge_current_ma.saturating_mul(p);
        self
    }

    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), Error> {
        match self.violations().first() {
            None => Ok(()),
            Some(v) => Err(Error::InvalidConfig {
                field: v.field,
                rule: v.rule,
            }),
        }
    }

    /// Every broken rule (up to [`MAX_VIOLATIONS`]), in field order.
    pub fn violations(&self) -> Vec<Violation, MAX_VIOLATIONS> {
        let mut out = Vec::new();
        let mut rule = |ok: bool, field: &'static str, rule: &'static str| {
            if !ok {
                // A full list still reports the first MAX_VIOLATIONS problems.
                let _ = out.push(Violation { field, rule });
            }
        };
        rule(
            self.cell_count >= 1 && usize::from(self.cell_count) <= MAX_CELLS,
            "cell_count",
            "must be between 1 and 32",
        );
        rule(
            usize::from(self.temperature_count) <= MAX_TEMPERATURES,
            "temperature_count",
            "must be between 0 and 8",
        );
        rule(
            self.capacity_mah > 0,
            "capacity_mah",
            "must be greater than 0",
        );
        rule(
            self.cell_voltage_min_mv < self.cell_voltage_max_mv,
            "cell_voltage_min_mv",
            "must be below cell_voltage_max_mv",
        );
        let above = |g: &GradedLimit| g.warn <= g.derate && g.derate <= g.trip;
        let below = |g: &GradedLimit| g.warn >= g.derate && g.derate >= g.trip;
        let graded: [(&GradedLimit, bool, &'static str, &'static str, &'static str); 11] = [
            (
                &self.cell_over_voltage,
                true,
                "cell_over_voltage",
                "cell_over_voltage.hysteresis",
                "cell_over_voltage.trip_release",
            ),
            (
                &self.cell_under_voltage,
                false,
                "cell_under_voltage",
                "cell_under_voltage.hysteresis",
                "cell_under_voltage.trip_release",
            ),
            (
                &self.pack_over_voltage,
                true,
                "pack_over_voltage",
                "pack_over_voltage.hysteresis",
                "pack_over_voltage.trip_release",
            ),
            (
                &self.pack_under_voltage,
                false,
                "pack_under_voltage",
                "pack_under_voltage.hysteresis",
                "pack_under_voltage.trip_release",
            ),
            (
                &self.charge_over_current,
                true,
                "charge_over_current",
                "charge_over_current.hysteresis",
                "charge_over_current.trip_release",
            ),
            (
                &self.discharge_over_current,
                true,
                "discharge_over_current",
                "discharge_over_current.hysteresis",
                "discharge_over_current.trip_release",
            ),
            (
                &self.charge_over_temperature,
                true,
                "charge_over_temperature",
                "charge_over_temperature.hysteresis",
                "charge_over_temperature.trip_release",
            ),
            (
                &self.charge_under_temperature,
                false,
                "charge_under_temperature",
                "charge_under_temperature.hysteresis",
                "charge_under_temperature.trip_release",
            ),
            (
                &self.discharge_over_temperature,
                true,
                "discharge_over_temperature",
                "discharge_over_temperature.hysteresis",
                "discharge_over_temperature.trip_release",
            ),
            (
                &self.discharge_under_temperature,
                false,
                "discharge_under_temperature",
                "discharge_under_temperature.hysteresis",
                "discharge_under_temperature.trip_release",
            ),
            (
                &self.cell_imbalance,
                true,
                "cell_imbalance",
                "cell_imbalance.hysteresis",
                "cell_imbalance.trip_release",
            ),
        ];
        for (g, from_above, name, hysteresis_field, release_field) in graded {
            if from_above {
                rule(above(g), name, "must have warn <= derate <= trip");
            } else {
                rule(below(g), name, "must have warn >= derate >= trip");
            }
            rule(g.hysteresis > 0, hysteresis_field, "must be greater than 0");
            if from_above {
                rule(g.trip_release < g.trip, release_field, "must be below trip");
            } else {
                rule(g.trip_release > g.trip, release_field, "must be above trip");
            }
            rule(
                g.warn_delay_ms <= MAX_DELAY_MS
                    && g.trip_delay_ms <= MAX_DELAY_MS
                    && g.release_delay_ms <= MAX_DELAY_MS,
                name,
                "delays must be at most 600000 ms",
            );
        }
        rule(
            self.cell_over_voltage.trip < i32::from(self.cell_voltage_max_mv),
            "cell_over_voltage.trip",
            "must be below cell_voltage_max_mv",
        );
        rule(
            self.cell_under_voltage.trip > i32::from(self.cell_voltage_min_mv),
            "cell_under_voltage.trip",
            "must be above cell_voltage_min_mv",
        );
        rule(
            self.cell_under_voltage.trip_release < self.cell_over_voltage.trip_release,
            "cell_under_voltage.trip_release",
            "must be below cell_over_voltage.trip_release",
        );
        rule(
            self.charge_under_temperature.trip < self.charge_over_temperature.trip,
            "charge_under_temperature.trip",
            "must be below charge_over_temperature.trip",
        );
        rule(
            self.discharge_under_temperature.trip < self.discharge_over_temperature.trip,
            "discharge_under_temperature.trip",
            "must be below discharge_over_temperature.trip",
        );
        let oc_trip = self
            .charge_over_current
            .trip
            .max(self.discharge_over_current.trip);
        rule(
            i64::from(self.short_circuit_current_ma) > i64::from(oc_trip),
            "short_circuit_current_ma",
            "must be above both over-current trip levels",
        );
        rule(
            (1..=2_000).contains(&self.short_circuit_delay_us),
            "short_circuit_delay_us",
            "must be between 1 and 2000 µs",
        );
        rule(
            self.open_wire_mv < self.cell_voltage_min_mv,
            "open_wire_mv",
            "must be below cell_voltage_min_mv",
        );
        rule(
            self.cell_reading_max_mv > self.cell_voltage_max_mv,
            "cell_reading_max_mv",
            "must be above cell_voltage_max_mv",
        );
        rule(
            self.temperature_reading_limit_deci_c > 0,
            "temperature_reading_limit_deci_c",
            "must be greater than 0",
        );
        rule(
            self.pack_voltage_mismatch_mv > 0,
            "pack_voltage_mismatch_mv",
            "must be greater than 0",
        );
        rule(
            self.temperature_disagreement_deci_c > 0,
            "temperature_disagreement_deci_c",
            "must be greater than 0",
        );
        rule(
            (100..=60_000).contains(&self.afe_timeout_ms),
            "afe_timeout_ms",
            "must be between 100 and 60000 ms",
        );
        rule(
            self.self_discharge_warn_ma == 0
                || self.self_discharge_trip_ma == 0
                || self.self_discharge_warn_ma < self.self_discharge_trip_ma,
            "self_discharge_warn_ma",
            "must be below self_discharge_trip_ma",
        );
        rule(
            self.repeat_trip_count >= 2,
            "repeat_trip_count",
            "must be at least 2",
        );
        if let SwitchKind::Contactor {
            voltage_match_mv,
            precharge_timeout_ms,
        } = self.switches
        {
            rule(
                voltage_match_mv > 0,
                "switches.voltage_match_mv",
                "must be greater than 0",
            );
            rule(
                (100..=60_000).contains(&precharge_timeout_ms),
                "switches.precharge_timeout_ms",
                "must be between 100 and 60000 ms",
            );
        }
        match self.balancer {
            BalancerKind::Passive { max_channels, .. } => rule(
                usize::from(max_channels) <= MAX_CELLS,
                "balancer.max_channels",
                "must be at most 32",
            ),
            BalancerKind::Active { max_current_ma } => rule(
                max_current_ma > 0,
                "balancer.max_current_ma",
                "must be greater than 0",
            ),
        }
        rule(
            self.balance_stop_delta_mv < self.balance_start_delta_mv,
            "balance_stop_delta_mv",
            "must be below balance_start_delta_mv",
        );
        rule(
            self.heater_on_below_deci_c < self.heater_off_at_deci_c,
            "heater_on_below_deci_c",
            "must be below heater_off_at_deci_c",
        );
        rule(
            self.fan_off_at_deci_c < self.fan_on_above_deci_c,
            "fan_off_at_deci_c",
            "must be below fan_on_above_deci_c",
        );
        rule(
            i32::from(self.absorption_cell_mv) < self.cell_over_voltage.warn,
            "absorption_cell_mv",
            "must be below cell_over_voltage.warn",
        );
        rule(
            self.float_cell_mv <= self.absorption_cell_mv,
            "float_cell_mv",
            "must be at most absorption_cell_mv",
        );
        rule(
            i32::from(self.discharge_cell_mv) > self.cell_under_voltage.trip,
            "discharge_cell_mv",
            "must be above cell_under_voltage.trip",
        );
        rule(
            self.float_exit_soc_permille <= 1000,
            "float_exit_soc_permille",
            "must be at most 1000",
        );
        rule(
            self.max_charge_current_ma > 0,
            "max_charge_current_ma",
            "must be greater than 0",
        );
        rule(
            self.max_discharge_current_ma > 0,
            "max_discharge_current_ma",
            "must be greater than 0",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_groups_scale_capacity_and_currents_not_voltages() {
        let one = PackConfig::lfp_280ah(16);
        let three = one.with_parallel(3);
        assert_eq!(three.validate(), Ok(()));
        assert_eq!(three.capacity_mah, 840_000);
        assert_eq!(three.max_discharge_current_ma, 600_000);
        assert_eq!(three.charge_over_current, one.charge_over_current.scaled(3));
        assert_eq!(three.charge_over_current.trip_delay_ms, 320);
        assert_eq!(three.short_circuit_current_ma, 1_680_000);
        assert_eq!(three.cell_over_voltage, one.cell_over_voltage);
        assert_eq!(one.with_parallel(0), one);
    }

    #[test]
    fn defaults_are_valid_for_every_supported_cell_count() {
        for cells in 1..=32 {
            let config = PackConfig::lfp_280ah(cells);
            assert_eq!(config.violations().as_slice(), &[], "{cells} cells");
        }
    }

    #[test]
    fn default_constants_are_the_documented_ones() {
        // foxBMS once shipped DIAG_DELAY_2000ms defined as 1000: pin the numbers.
        let c = PackConfig::lfp_280ah(16);
        assert_eq!(
            (c.cell_over_voltage.trip, c.cell_over_voltage.trip_release),
            (3_650, 3_400)
        );
        assert_eq!(c.cell_over_voltage.trip_delay_ms, 2_000);
        assert_eq!(
            (c.cell_under_voltage.trip, c.cell_under_voltage.trip_release),
            (2_500, 3_100)
        );
        assert_eq!(c.cell_under_voltage.trip_delay_ms, 2_000);
        assert_eq!(c.charge_over_current.trip, 280_000, "1 C");
        assert_eq!(c.charge_over_current.trip_delay_ms, 320);
        assert_eq!(c.short_circuit_current_ma, 2 * 280_000);
        assert_eq!(
            (
                c.charge_under_temperature.trip,
                c.charge_over_temperature.trip
            ),
            (0, 450)
        );
        assert_eq!(c.discharge_under_temperature.trip, -200);
        assert_eq!(c.pack_over_voltage.trip, 16 * 3_660);
        assert_eq!(c.balance_start_delta_mv, 10);
        assert_eq!(c.rest_time_ms, 30 * 60 * 1000);
    }

    #[test]
    fn too_many_cells_names_the_field() {
        let err = PackConfig::lfp_280ah(33).validate().unwrap_err();
        assert_eq!(
            err,
            Error::InvalidConfig {
                field: "cell_count",
                rule: "must be between 1 and 32"
            }
        );
    }

    #[test]
    fn every_violation_is_reported() {
        let mut c = PackConfig::lfp_280ah(16);
        c.capacity_mah = 0;
        c.cell_over_voltage.trip = 3_900;
        c.fan_off_at_deci_c = 400;
        let fields: heapless::Vec<&str, MAX_VIOLATIONS> =
            c.violations().iter().map(|v| v.field).collect();
        assert_eq!(
            fields.as_slice(),
            &[
                "capacity_mah",
                "cell_over_voltage.trip",
                "fan_off_at_deci_c"
            ]
        );
    }

    #[test]
    fn misordered_levels_are_rejected() {
        let mut c = PackConfig::lfp_280ah(16);
        c.cell_under_voltage.derate = 3_000;
        assert_eq!(
            c.validate(),
            Err(Error::InvalidConfig {
                field: "cell_under_voltage",
                rule: "must have warn >= derate >= trip"
            })
        );
    }

    #[test]
    fn contactor_settings_are_checked() {
        let mut c = PackConfig::lfp_280ah(16);
        c.switches = SwitchKind::Contactor {
            voltage_match_mv: 0,
            precharge_timeout_ms: 5_000,
        };
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidConfig {
                field: "switches.voltage_match_mv",
                ..
            })
        ));
    }
}
