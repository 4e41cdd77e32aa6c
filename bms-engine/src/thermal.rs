//! Thermal management: the heater (heat first, then charge) and the fan, each with hysteresis.
//! Temperature derating of the current limits lives in [`crate::limits`]; shutdown at the hard
//! limits is the protection table's trip rows.
//!
//! The heater starts only while the pack is not being discharged (beyond the rest current)
//! and, where the hardware can tell (`Measurement::charger_present`), a charge is on offer:
//! heat is for taking charge, and LiFePO4 discharges down to −20 °C, which protection
//! enforces. So a winter night's load does not also pay for keeping the cells warm hour after
//! hour, nor does a pack resting at its reserve while the grid carries the house; the heater
//! starts once PV has surplus in the morning (or, without a charger signal, when the pack
//! rests or is charged). Once on it runs to its off temperature, as its own draw then shows
//! as discharge and a passing cloud should not stop it.

use crate::{Extremes, Measurement, PackConfig};

/// Heater and fan state kept between steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thermal {
    heater_on: bool,
    fan_on: bool,
}

/// What the thermal actuators must do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThermalCommands {
    /// Heater on.
    pub heater_on: bool,
    /// Fan (cooling) on.
    pub fan_on: bool,
}

impl Thermal {
    /// Decides the actuators. `heating_permitted` is false while a trip-level fault other than a
    /// cold-charge one is active (never heat a faulty pack). Without plausible temperatures the
    /// heater stays off (never heat blind) and the fan runs (cooling blind is harmless).
    pub fn update(
        &mut self,
        config: &PackConfig,
        m: &Measurement,
        heating_permitted: bool,
    ) -> ThermalCommands {
        self.update_with(config, m, &Extremes::of(m, config), heating_permitted)
    }

    /// As [`Thermal::update`], with the snapshot's extremes already known.
    pub fn update_with(
        &mut self,
        config: &PackConfig,
        m: &Measurement,
        extremes: &Extremes,
        heating_permitted: bool,
    ) -> ThermalCommands {
        let (coldest, hottest) = (extremes.coldest_deci_c, extremes.hottest_deci_c);
        let discharging = i64::from(m.current_ma) < -i64::from(config.rest_current_ma);
        self.heater_on = match (coldest, hottest) {
            (Some(cold), Some(hot)) if heating_permitted && m.fresh => {
                let too_hot_to_heat = hot >= i32::from(config.heater_off_at_deci_c);
                if self.heater_on {
                    cold < i32::from(config.heater_off_at_deci_c) && !too_hot_to_heat
                } else {
                    cold < i32::from(config.heater_on_below_deci_c)
                        && !too_hot_to_heat
                        && !discharging
                        && m.charger_present != Some(false)
                }
            }
            _ => false,
        };
        self.fan_on = match hottest {
            None => config.temperature_count > 0,
            Some(hot) if self.fan_on => hot > i32::from(config.fan_off_at_deci_c),
            Some(hot) => hot > i32::from(config.fan_on_above_deci_c),
        };
        ThermalCommands {
            heater_on: self.heater_on,
            fan_on: self.fan_on,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(temps: &[Option<i16>]) -> Measurement {
        Measurement::new(&[3_300; 4], 0)
            .unwrap()
            .with_temperatures(temps)
            .unwrap()
    }

    #[test]
    fn heater_has_hysteresis() {
        let c = PackConfig::lfp_280ah(4);
        let mut t = Thermal::default();
        assert!(!t.update(&c, &at(&[Some(30), Some(30)]), true).heater_on);
        assert!(t.update(&c, &at(&[Some(10), Some(30)]), true).heater_on);
        assert!(
            t.update(&c, &at(&[Some(40), Some(40)]), true).heater_on,
            "below 5 °C keeps heating"
        );
        assert!(!t.update(&c, &at(&[Some(50), Some(50)]), true).heater_on);
    }

    #[test]
    fn the_heater_waits_while_the_pack_is_discharged_and_then_runs_to_its_off_temperature() {
        let c = PackConfig::lfp_280ah(4);
        let with_current = |ma: i32, deci_c: i16| {
            let mut m = at(&[Some(deci_c), Some(deci_c)]);
            m.current_ma = ma;
            m
        };
        let mut t = Thermal::default();
        // A cold night, the house drawing 5 A: no heating.
        assert!(!t.update(&c, &with_current(-5_000, -80), true).heater_on);
        // At rest (within the rest current) or charging: heat.
        assert!(t.update(&c, &with_current(-500, -80), true).heater_on);
        // Its own draw (or a load coming on) does not stop it before the off temperature.
        assert!(t.update(&c, &with_current(-9_000, 20), true).heater_on);
        assert!(!t.update(&c, &with_current(-9_000, 50), true).heater_on);
        // Charging into a cold pack starts it too.
        assert!(t.update(&c, &with_current(3_000, 0), true).heater_on);
    }

    #[test]
    fn with_a_charger_signal_the_heater_starts_only_when_charge_is_on_offer() {
        let c = PackConfig::lfp_280ah(4);
        let resting = |charger: Option<bool>, deci_c: i16| {
            let mut m = at(&[Some(deci_c), Some(deci_c)]);
            m.charger_present = charger;
            m
        };
        let mut t = Thermal::default();
        // A cold night at the reserve, the grid carrying the house: nothing to charge, no heat.
        assert!(!t.update(&c, &resting(Some(false), -80), true).heater_on);
        // The sun is up and has surplus: heat, then charge.
        assert!(t.update(&c, &resting(Some(true), -80), true).heater_on);
        // A cloud takes the surplus away: the heater still runs to its off temperature.
        assert!(t.update(&c, &resting(Some(false), 20), true).heater_on);
        assert!(!t.update(&c, &resting(Some(false), 50), true).heater_on);
        // Hardware that cannot tell: a rested cold pack is heated as before.
        assert!(t.update(&c, &resting(None, -80), true).heater_on);
    }

    #[test]
    fn heater_stays_off_when_blind_or_not_permitted() {
        let c = PackConfig::lfp_280ah(4);
        let mut t = Thermal::default();
        assert!(!t.update(&c, &at(&[None, None]), true).heater_on);
        assert!(!t.update(&c, &at(&[Some(-50), Some(-50)]), false).heater_on);
        assert!(t.update(&c, &at(&[None, Some(-50)]), true).heater_on);
    }

    #[test]
    fn fan_has_hysteresis_and_runs_when_blind() {
        let c = PackConfig::lfp_280ah(4);
        let mut t = Thermal::default();
        assert!(!t.update(&c, &at(&[Some(340), Some(300)]), true).fan_on);
        assert!(t.update(&c, &at(&[Some(360), Some(300)]), true).fan_on);
        assert!(t.update(&c, &at(&[Some(310), Some(300)]), true).fan_on);
        assert!(!t.update(&c, &at(&[Some(300), Some(300)]), true).fan_on);
        assert!(t.update(&c, &at(&[None, None]), true).fan_on);
    }
}
