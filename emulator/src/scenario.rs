//! Named scenarios: where the pack starts and what the world around it asks of it.

use crate::Error;
use bms_engine::limits::Limits;
use rand::Rng;
use std::f64::consts::PI;

/// A named, reproducible situation for the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// PV charges the pack by day, the house discharges it in the evening and at night.
    SolarDay,
    /// A charger that ignores the BMS's limits pushes 0.5 C into a nearly full pack.
    Overcharge,
    /// A load draws 0.5 C from a nearly empty pack.
    DeepDischarge,
}

impl Scenario {
    /// Every scenario, in the order `emulator scenarios` lists them.
    pub const ALL: [Scenario; 3] = [
        Scenario::SolarDay,
        Scenario::Overcharge,
        Scenario::DeepDischarge,
    ];

    /// The name used on the command line and in the dashboard.
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::SolarDay => "solar-day",
            Scenario::Overcharge => "overcharge",
            Scenario::DeepDischarge => "deep-discharge",
        }
    }

    /// One line saying what the scenario shows.
    pub const fn purpose(self) -> &'static str {
        match self {
            Scenario::SolarDay => {
                "A sunny day in a solar home: PV charges the pack from morning, the house drains it in the evening."
            }
            Scenario::Overcharge => {
                "A charger ignoring the BMS pushes 0.5 C into a 97 % pack: over-voltage protection must open the charge switch."
            }
            Scenario::DeepDischarge => {
                "A 0.5 C load drains an 8 % pack: under-voltage protection must open the discharge switch."
            }
        }
    }

    /// Looks a scenario up by name.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownScenario {
                name: name.to_owned(),
            })
    }

    /// True pack SOC (fraction) at the start.
    pub const fn initial_soc(self) -> f64 {
        match self {
            Scenario::SolarDay => 0.35,
            Scenario::Overcharge => 0.97,
            Scenario::DeepDischarge => 0.08,
        }
    }

    /// Ambient temperature around the pack at a time of day, °C.
    pub fn ambient_c(self, time_of_day_secs: u64) -> f64 {
        match self {
            // A mild day: 15 °C before dawn, 25 °C mid-afternoon.
            Scenario::SolarDay => {
                let hour = time_of_day_secs as f64 / 3600.0;
                20.0 + 5.0 * (2.0 * PI * (hour - 9.0) / 24.0).sin()
            }
            Scenario::Overcharge | Scenario::DeepDischarge => 25.0,
        }
    }

    /// Time of day at the start, seconds after midnight.
    pub const fn start_time_of_day_secs(self) -> u64 {
        match self {
            Scenario::SolarDay => 6 * 3600,
            Scenario::Overcharge | Scenario::DeepDischarge => 12 * 3600,
        }
    }
}

/// Largest charge or discharge current the inverter handles, A.
const INVERTER_MAX_A: f64 = 100.0;

/// The house, its PV and its inverter: what current the pack is asked for.
#[derive(Debug, Clone)]
pub struct Home {
    scenario: Scenario,
    /// PV peak power on a clear day, W.
    pv_peak_w: f64,
    /// Cloud attenuation, 0..1, a slowly varying seeded process.
    cloud: f64,
    /// Seconds left of an appliance spike and its power, W.
    spike: (u32, f64),
    /// The inverter's present charge current, from its constant-voltage regulator, A.
    cv_limit_a: f64,
}

impl Home {
    /// The home of `scenario`.
    pub fn new(scenario: Scenario) -> Self {
        Home {
            scenario,
            pv_peak_w: 4_500.0,
            cloud: 1.0,
            spike: (0, 0.0),
            cv_limit_a: INVERTER_MAX_A,
        }
    }

    /// PV power now, W.
    pub fn pv_w(&self, time_of_day_secs: u64) -> f64 {
        let hour = time_of_day_secs as f64 / 3600.0;
        if !(6.0..20.0).contains(&hour) {
            return 0.0;
        }
        let sun = (PI * (hour - 6.0) / 14.0).sin().max(0.0);
        self.pv_peak_w * sun.powf(1.5) * self.cloud
    }

    /// Household consumption now, W.
    pub fn load_w(&self, time_of_day_secs: u64) -> f64 {
        let hour = time_of_day_secs as f64 / 3600.0;
        let base = 250.0;
        let routine = match hour {
            h if (7.0..8.0).contains(&h) => 700.0,
            h if (18.0..22.0).contains(&h) => 1_400.0,
            h if (22.0..23.5).contains(&h) => 500.0,
            _ => 0.0,
        };
        base + routine + if self.spike.0 > 0 { self.spike.1 } else { 0.0 }
    }

    /// Advances the home by one second and returns the current it asks of the pack, A
    /// (positive charges). `pack_voltage_mv` is what the inverter measures at its terminals;
    /// `limits` is what the BMS tells it (as over the inverter CAN bus): the inverter keeps the
    /// charge current within the CCL and regulates the pack voltage to the CVL, and keeps the
    /// discharge current within the DCL, covering the rest of the load from the grid.
    pub fn step(
        &mut self,
        time_of_day_secs: u64,
        pack_voltage_mv: f64,
        limits: &Limits,
        rng: &mut impl Rng,
    ) -> f64 {
        match self.scenario {
            Scenario::Overcharge => return 140.0,
            Scenario::DeepDischarge => return -140.0,
            Scenario::SolarDay => {}
        }
        // Clouds drift slowly; appliances (kettle, oven, pump) switch on at random.
        let drift: f64 = rng.random_range(-0.01..=0.01);
        self.cloud = (self.cloud + drift + 0.002 * (0.95 - self.cloud)).clamp(0.3, 1.0);
        if self.spike.0 > 0 {
            self.spike.0 -= 1;
        } else if rng.random_bool(1.0 / 2_400.0) {
            self.spike = (
                rng.random_range(60..=600),
                rng.random_range(800.0..=2_200.0),
            );
        }
        let net_w = self.pv_w(time_of_day_secs) - self.load_w(time_of_day_secs);
        let volts = (pack_voltage_mv / 1000.0).max(1.0);
        let ccl_a = f64::from(limits.charge_current_ma) / 1000.0;
        let dcl_a = f64::from(limits.discharge_current_ma) / 1000.0;
        let wanted_a = (net_w / volts).clamp(-INVERTER_MAX_A.min(dcl_a), INVERTER_MAX_A.min(ccl_a));
        // Constant-voltage regulator on the BMS's CVL: back off while above, recover slowly below.
        if pack_voltage_mv > f64::from(limits.charge_voltage_mv) {
            self.cv_limit_a *= 0.9;
        } else {
            self.cv_limit_a = (self.cv_limit_a + 0.5).min(INVERTER_MAX_A);
        }
        wanted_a.min(self.cv_limit_a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Ok(s));
            assert!(!s.purpose().is_empty());
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = Scenario::from_name("sunny").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`sunny`") && text.contains("solar-day"),
            "{text}"
        );
    }

    #[test]
    fn pv_is_zero_at_night_and_peaks_at_one_pm() {
        let home = Home::new(Scenario::SolarDay);
        assert_eq!(home.pv_w(3 * 3600), 0.0);
        assert_eq!(home.pv_w(21 * 3600), 0.0);
        assert!((home.pv_w(13 * 3600) - 4_500.0).abs() < 1.0);
    }
}
