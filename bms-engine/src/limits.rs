//! What the charger and inverter may do: charge voltage limit (CVL), charge and discharge current
//! limits (CCL, DCL), discharge voltage limit, the absorption → float phase and the charge
//! requests of the inverter protocol.
//!
//! Each current limit is the configured maximum times the smallest of its derating factors
//! (integer per mille, so every target computes the same numbers):
//! * temperature — full inside the warn levels, falling linearly to 0 at the trip levels;
//! * taper — charge: full while the highest cell is at most 50 mV above absorption, 0 at the
//!   over-voltage derate level; discharge: full at the under-voltage warn level, 0 at its
//!   derate level;
//! * SOC — charge falls from full at 95 % to 20 % at 100 %; discharge from full at 10 % to 20 %
//!   at 0 %;
//! * warnings — any active derate-level fault of that direction halves it.
//!
//! The taper is a controller, not a function of the voltage alone: it recovers at most from 0
//! to full in [`TAPER_RECOVERY_MS`], and the discharge taper falls at once but by a tenth a
//! step once below the current then flowing (the charge taper falls all the way at once:
//! over-voltage harms LiFePO4, a sag under load in the cold does not). Taken from the voltage
//! under load alone, it switched a cold pack's discharge on and off every second: full
//! current pulled the lowest cell below the derate level, the DCL fell to 0, the cell
//! recovered without load, the DCL came back in full, and the inverter followed each change a
//! second later (winter-cold saw 1 096 such seconds in three days). Now the current settles
//! just below where the cells sag to the derate level.
//! Safety does not rest on the taper: the under-voltage and over-voltage trips block the
//! direction outright.
//!
//! A direction that protection does not allow gets 0 A. The CVL is never 0: it is the absorption
//! (or float) voltage of the configured cell count, which validation keeps positive.

use crate::protection::{Fault, FaultSet};
use crate::{Extremes, Measurement, PackConfig};
use serde::{Deserialize, Serialize};

/// Milliseconds in 30 days: how long SOC may stay below 97 % before a full charge is requested.
const FULL_CHARGE_INTERVAL_MS: u64 = 30 * 24 * 3_600_000;
/// SOC that counts as "reached full" for the full-charge request, per mille.
const FULL_SOC_PERMILLE: u16 = 970;

/// How long the taper takes at most to recover from 0 to full, ms.
pub const TAPER_RECOVERY_MS: u32 = 60_000;

/// Where the charge cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargePhase {
    /// Charging towards the absorption voltage.
    Absorption,
    /// Full: holding the lower float voltage.
    Float,
}

/// Limits for the charger and inverter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Charge voltage limit, mV (never 0).
    pub charge_voltage_mv: u32,
    /// Charge current limit, mA.
    pub charge_current_ma: u32,
    /// Discharge current limit, mA.
    pub discharge_current_ma: u32,
    /// Discharge voltage limit, mV.
    pub discharge_voltage_mv: u32,
    /// Absorption or float.
    pub phase: ChargePhase,
    /// SOC has not reached 97 % for 30 days: ask the inverter for a full charge.
    pub full_charge_requested: bool,
    /// Discharge is blocked by under-voltage: ask the inverter to charge (from the grid).
    pub force_charge_requested: bool,
}

/// Limit state kept between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    phase: ChargePhase,
    tail_ms: u32,
    since_full_ms: u64,
    /// The charge and discharge taper factors of the last step, per mille.
    taper: (u32, u32),
}

impl Default for LimitState {
    fn default() -> Self {
        LimitState {
            phase: ChargePhase::Absorption,
            tail_ms: 0,
            since_full_ms: 0,
            taper: (1000, 1000),
        }
    }
}

/// The taper factor after this step, per mille: when `instant` is lower than `last`, it falls
/// to `instant` but no lower than 90 % of the smaller of the current now flowing (`flowing`,
/// per mille of the maximum) and `last`, so it keeps falling by a tenth a step while the cells
/// stay beyond the level; otherwise it rises towards `instant` by at most the recovery of
/// `dt_millis`.
fn recovering(last: u32, instant: u32, flowing: impl Fn() -> u32, dt_millis: u32) -> u32 {
    if instant < last {
        let floor = flowing().min(last).saturating_mul(9) / 10;
        return instant.max(floor);
    }
    if instant == last {
        // Most steps: nothing to fall or rise by.
        return instant;
    }
    let rise = u32::try_from(u64::from(dt_millis) * 1000 / u64::from(TAPER_RECOVERY_MS))
        .unwrap_or(1000)
        .max(1);
    instant.min(last.saturating_add(rise))
}

/// Linear factor in per mille: 1000 at `full`, 0 at `zero`, clamped, for either orientation.
fn ramp(value: i32, full: i32, zero: i32) -> u32 {
    if full == zero {
        return if value == full { 1000 } else { 0 };
    }
    let num = i64::from(zero) - i64::from(value);
    let den = i64::from(zero) - i64::from(full);
    // At or beyond either end (most calls): no division.
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    if num >= den {
        return 1000;
    }
    if num <= 0 {
        return 0;
    }
    u32::try_from((num * 1000 / den).clamp(0, 1000)).unwrap_or(0)
}

/// The limiting one of a direction's derating factors (temperature, taper, SOC, warnings).
fn weakest(factors: [u32; 4]) -> u32 {
    factors.into_iter().min().unwrap_or(0)
}

/// Derate-level warnings of a direction halve its current limit.
fn warning_factor(derated: bool) -> u32 {
    if derated { 500 } else { 1000 }
}

/// Which faults concern each direction (for the derate-level halving).
fn concerns_charge(f: Fault) -> bool {
    !matches!(
        f,
        Fault::CellUnderVoltage
            | Fault::PackUnderVoltage
            | Fault::DischargeOverCurrent
            | Fault::DischargeUnderTemperature
    )
}

fn concerns_discharge(f: Fault) -> bool {
    !matches!(
        f,
        Fault::CellOverVoltage
            | Fault::PackOverVoltage
            | Fault::ChargeOverCurrent
            | Fault::ChargeOverTemperature
            | Fault::ChargeUnderTemperature
            | Fault::CellImbalance
    )
}

/// Inputs of one limit computation beyond the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInputs {
    /// SOC, per mille.
    pub soc_permille: u16,
    /// Protection allows charging.
    pub charge_allowed: bool,
    /// Protection allows discharging.
    pub discharge_allowed: bool,
    /// Faults active at derate level.
    pub derates: FaultSet,
    /// Faults active at trip level.
    pub trips: FaultSet,
}

impl LimitState {
    /// Computes this step's limits from a snapshot.
    pub fn update(
        &mut self,
        config: &PackConfig,
        m: &Measurement,
        inputs: LimitInputs,
        dt_millis: u32,
    ) -> Limits {
        self.update_with(config, m, &Extremes::of(m, config), inputs, dt_millis)
    }

    /// As [`LimitState::update`], with the snapshot's extremes already known (the engine's
    /// one pass over the snapshot computes them).
    pub fn update_with(
        &mut self,
        config: &PackConfig,
        m: &Measurement,
        extremes: &Extremes,
        inputs: LimitInputs,
        dt_millis: u32,
    ) -> Limits {
        let cells = u32::from(config.cell_count);
        let absorption_mv = cells * u32::from(config.absorption_cell_mv);
        let float_mv = cells * u32::from(config.float_cell_mv);

        // Absorption ends once the pack holds the CVL with only a tail current for long enough;
        // float ends when SOC falls back below the exit threshold.
        match self.phase {
            ChargePhase::Absorption => {
                let at_cv = m.pack_voltage_mv() + cells * 10 >= absorption_mv;
                let tail = m.current_ma >= 0
                    && m.current_ma.unsigned_abs() < config.absorption_tail_current_ma;
                self.tail_ms = if at_cv && tail && m.fresh {
                    self.tail_ms.saturating_add(dt_millis)
                } else {
                    0
                };
                if self.tail_ms >= config.absorption_tail_ms {
                    self.phase = ChargePhase::Float;
                    self.tail_ms = 0;
                }
            }
            ChargePhase::Float => {
                if inputs.soc_permille < config.float_exit_soc_permille {
                    self.phase = ChargePhase::Absorption;
                }
            }
        }
        self.since_full_ms = if inputs.soc_permille >= FULL_SOC_PERMILLE {
            0
        } else {
            self.since_full_ms.saturating_add(u64::from(dt_millis))
        };

        let (hottest, coldest) = (extremes.hottest_deci_c, extremes.coldest_deci_c);
        let temperature =
            |hot: &crate::GradedLimit, cold: &crate::GradedLimit| match (hottest, coldest) {
                _ if config.temperature_count == 0 => 1000,
                (Some(h), Some(c)) => {
                    ramp(h, hot.warn, hot.trip).min(ramp(c, cold.warn, cold.trip))
                }
                _ => 0,
            };
        let (highest, lowest) = (extremes.highest_cell_mv, extremes.lowest_cell_mv);
        let soc = i32::from(inputs.soc_permille);

        // The discharge current flowing, per mille of the maximum (asked only while the
        // discharge taper falls).
        let discharging = || {
            u32::try_from(
                u64::from(m.current_ma.min(0).unsigned_abs()) * 1000
                    / u64::from(config.max_discharge_current_ma.max(1)),
            )
            .unwrap_or(1000)
        };
        let charge_taper = recovering(
            self.taper.0,
            highest.map_or(0, |v| {
                ramp(
                    v,
                    i32::from(config.absorption_cell_mv) + 50,
                    config.cell_over_voltage.derate,
                )
            }),
            // Over-voltage is what harms LiFePO4: the charge taper falls all the way at once.
            || 0,
            dt_millis,
        );
        let discharge_taper = recovering(
            self.taper.1,
            lowest.map_or(0, |v| {
                ramp(
                    v,
                    config.cell_under_voltage.warn,
                    config.cell_under_voltage.derate,
                )
            }),
            discharging,
            dt_millis,
        );
        self.taper = (charge_taper, discharge_taper);
        let charge_factor = weakest([
            temperature(
                &config.charge_over_temperature,
                &config.charge_under_temperature,
            ),
            charge_taper,
            200 + ramp(soc, 950, 1000) * 800 / 1000,
            warning_factor(inputs.derates.iter().any(concerns_charge)),
        ]);
        let discharge_factor = weakest([
            temperature(
                &config.discharge_over_temperature,
                &config.discharge_under_temperature,
            ),
            discharge_taper,
            200 + ramp(soc, 100, 0) * 800 / 1000,
            warning_factor(inputs.derates.iter().any(concerns_discharge)),
        ]);
        let scaled = |max: u32, factor: u32| {
            u32::try_from(u64::from(max) * u64::from(factor) / 1000).unwrap_or(max)
        };
        let under_voltage_trip = inputs.trips.contains(Fault::CellUnderVoltage)
            || inputs.trips.contains(Fault::PackUnderVoltage);
        Limits {
            charge_voltage_mv: match self.phase {
                ChargePhase::Absorption => absorption_mv,
                ChargePhase::Float => float_mv,
            }
            .max(1),
            charge_current_ma: if inputs.charge_allowed {
                scaled(config.max_charge_current_ma, charge_factor)
            } else {
                0
            },
            discharge_current_ma: if inputs.discharge_allowed {
                scaled(config.max_discharge_current_ma, discharge_factor)
            } else {
                0
            },
            discharge_voltage_mv: cells * u32::from(config.discharge_cell_mv),
            phase: self.phase,
            full_charge_requested: self.since_full_ms >= FULL_CHARGE_INTERVAL_MS,
            force_charge_requested: under_voltage_trip && inputs.charge_allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PackConfig {
        PackConfig::lfp_280ah(16)
    }

    fn snapshot(cell_mv: u16, current_ma: i32, temp: i16) -> Measurement {
        Measurement::new(&[cell_mv; 16], current_ma)
            .unwrap()
            .with_temperatures(&[Some(temp), Some(temp)])
            .unwrap()
    }

    fn inputs(soc_permille: u16) -> LimitInputs {
        LimitInputs {
            soc_permille,
            charge_allowed: true,
            discharge_allowed: true,
            derates: FaultSet::EMPTY,
            trips: FaultSet::EMPTY,
        }
    }

    #[test]
    fn ramp_is_linear_and_clamped_both_ways() {
        assert_eq!(ramp(400, 400, 450), 1000);
        assert_eq!(ramp(425, 400, 450), 500);
        assert_eq!(ramp(460, 400, 450), 0);
        assert_eq!(ramp(35, 50, 0), 700);
        assert_eq!(ramp(-10, 50, 0), 0);
        assert_eq!(ramp(5, 5, 5), 1000);
    }

    #[test]
    fn full_limits_in_the_middle_of_everything() {
        let mut s = LimitState::default();
        let l = s.update(&config(), &snapshot(3_300, 0, 250), inputs(500), 1_000);
        assert_eq!(l.charge_voltage_mv, 16 * 3_450);
        assert_eq!(l.charge_current_ma, 140_000);
        assert_eq!(l.discharge_current_ma, 200_000);
        assert_eq!(l.discharge_voltage_mv, 16 * 2_900);
        assert_eq!(l.phase, ChargePhase::Absorption);
        assert!(!l.full_charge_requested && !l.force_charge_requested);
    }

    #[test]
    fn cold_and_heat_derate_charge_smoothly() {
        let mut s = LimitState::default();
        // 2.5 °C: halfway between the 5 °C warn and the 0 °C trip.
        let l = s.update(&config(), &snapshot(3_300, 0, 25), inputs(500), 1_000);
        assert_eq!(l.charge_current_ma, 70_000);
        let l = s.update(&config(), &snapshot(3_300, 0, 425), inputs(500), 1_000);
        assert_eq!(l.charge_current_ma, 70_000);
        assert_eq!(
            l.discharge_current_ma, 200_000,
            "42.5 °C is fine for discharge"
        );
        let l = s.update(&config(), &snapshot(3_300, 0, -150), inputs(500), 1_000);
        assert_eq!(l.charge_current_ma, 0);
        assert_eq!(l.discharge_current_ma, 100_000);
    }

    #[test]
    fn taper_near_full_and_near_empty() {
        let mut s = LimitState::default();
        let l = s.update(&config(), &snapshot(3_550, 0, 250), inputs(500), 1_000);
        assert_eq!(l.charge_current_ma, 70_000, "halfway from 3.50 V to 3.60 V");
        let l = s.update(&config(), &snapshot(2_850, 0, 250), inputs(500), 1_000);
        assert_eq!(
            l.discharge_current_ma, 100_000,
            "halfway from 2.90 V to 2.80 V"
        );
        // The SOC factors, with tapers that have not been pulled down.
        let mut s = LimitState::default();
        let l = s.update(&config(), &snapshot(3_300, 0, 250), inputs(1_000), 1_000);
        assert_eq!(l.charge_current_ma, 28_000, "20 % at 100 % SOC");
        let l = s.update(&config(), &snapshot(3_300, 0, 250), inputs(50), 1_000);
        assert_eq!(l.discharge_current_ma, 120_000, "60 % at 5 % SOC");
    }

    #[test]
    fn the_taper_falls_at_once_and_recovers_over_a_minute() {
        let mut s = LimitState::default();
        // The DCL after a second with the lowest cell at `mv` and `ma` flowing.
        let mut dcl = |mv: u16, ma: i32| {
            s.update(&config(), &snapshot(mv, ma, 250), inputs(500), 1_000)
                .discharge_current_ma
        };
        // 100 A pulls the lowest cell to the derate level: the limit falls to 90 A, not to 0.
        assert_eq!(dcl(2_800, -100_000), 90_000);
        // With no current flowing, the derate level gives 0.
        assert_eq!(dcl(2_800, 0), 0);
        // Without load it is back at 3.2 V a second later, yet the limit comes back gradually,
        // not at once (which made the inverter switch its load on and off every second).
        assert_eq!(dcl(3_200, 0), 200_000 * 16 / 1000);
        for _ in 0..29 {
            dcl(3_200, 0);
        }
        assert_eq!(dcl(3_200, 0), 200_000 * 16 * 31 / 1000, "half after 31 s");
        for _ in 0..40 {
            dcl(3_200, 0);
        }
        assert_eq!(dcl(3_200, 0), 200_000, "full after a minute");
        // A lower instant value still wins at once, down to 90 % of what flows.
        assert_eq!(dcl(2_850, -40_000), 100_000);
        assert_eq!(dcl(2_790, -40_000), 36_000);
    }

    #[test]
    fn derate_warnings_halve_and_blocked_directions_are_zero() {
        let mut s = LimitState::default();
        let mut i = inputs(500);
        i.derates.set(Fault::ChargeOverCurrent, true);
        i.discharge_allowed = false;
        let l = s.update(&config(), &snapshot(3_300, 0, 250), i, 1_000);
        assert_eq!(l.charge_current_ma, 70_000);
        assert_eq!(l.discharge_current_ma, 0);
        i.charge_allowed = false;
        let l = s.update(&config(), &snapshot(3_300, 0, 250), i, 1_000);
        assert_eq!(l.charge_current_ma, 0);
        assert!(l.charge_voltage_mv > 0, "never a CVL of 0");
    }

    #[test]
    fn absorption_goes_to_float_after_the_tail_time_and_back_below_exit_soc() {
        let c = config();
        let mut s = LimitState::default();
        let full = snapshot(3_450, 5_000, 250);
        for _ in 0..599 {
            assert_eq!(
                s.update(&c, &full, inputs(990), 1_000).phase,
                ChargePhase::Absorption
            );
        }
        let l = s.update(&c, &full, inputs(990), 1_000);
        assert_eq!(l.phase, ChargePhase::Float);
        assert_eq!(l.charge_voltage_mv, 16 * 3_375);
        assert_eq!(
            s.update(&c, &full, inputs(950), 1_000).phase,
            ChargePhase::Float
        );
        assert_eq!(
            s.update(&c, &full, inputs(899), 1_000).phase,
            ChargePhase::Absorption
        );
    }

    #[test]
    fn full_charge_request_after_thirty_days_below_97_percent() {
        let c = config();
        let mut s = LimitState::default();
        let m = snapshot(3_300, 0, 250);
        let day = 86_400_000;
        for _ in 0..29 {
            assert!(!s.update(&c, &m, inputs(600), day).full_charge_requested);
        }
        assert!(s.update(&c, &m, inputs(600), day).full_charge_requested);
        assert!(!s.update(&c, &m, inputs(975), 1_000).full_charge_requested);
    }

    #[test]
    fn under_voltage_trip_requests_a_force_charge() {
        let mut s = LimitState::default();
        let mut i = inputs(10);
        i.trips.set(Fault::CellUnderVoltage, true);
        i.discharge_allowed = false;
        let l = s.update(&config(), &snapshot(2_600, 0, 250), i, 1_000);
        assert!(l.force_charge_requested);
    }
}
