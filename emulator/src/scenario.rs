//! Named scenarios: where the pack starts and what the world around it asks of it.

use crate::Error;
use crate::faults::InjectedFault;
use bms_engine::limits::Limits;
use bms_engine::{Fault, Level, PackConfig};
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
    /// Solar day; one cell has an internal short (2 A of extra self-discharge).
    FaultInternalShort,
    /// Solar day; one cell's resistance steps up by 5 mΩ after an hour.
    FaultResistanceStep,
    /// Solar day with one cell at 70 % of the others' capacity.
    FaultWeakCell,
    /// Solar day; a 150 W heat source appears inside one cell after an hour.
    FaultThermalRunaway,
    /// Solar day; a voltage-sense wire opens after an hour.
    FaultOpenWire,
    /// Solar day; a temperature sensor sticks after an hour.
    FaultStuckSensor,
    /// Solar day; the current sensor's offset drifts by 0.1 A per hour from the first hour.
    FaultCurrentDrift,
    /// Solar day; the analog front end stops answering after an hour.
    FaultFrontEndLost,
    /// Solar day; after an hour a charger ignoring the BMS pushes 120 A.
    FaultChargerIgnoresLimits,
    /// Solar day; the pack terminals are shorted after an hour.
    FaultShortCircuit,
}

impl Scenario {
    /// Every scenario, in the order `emulator scenarios` lists them.
    pub const ALL: [Scenario; 13] = [
        Scenario::SolarDay,
        Scenario::Overcharge,
        Scenario::DeepDischarge,
        Scenario::FaultInternalShort,
        Scenario::FaultResistanceStep,
        Scenario::FaultWeakCell,
        Scenario::FaultThermalRunaway,
        Scenario::FaultOpenWire,
        Scenario::FaultStuckSensor,
        Scenario::FaultCurrentDrift,
        Scenario::FaultFrontEndLost,
        Scenario::FaultChargerIgnoresLimits,
        Scenario::FaultShortCircuit,
    ];

    /// The name used on the command line and in the dashboard.
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::SolarDay => "solar-day",
            Scenario::Overcharge => "overcharge",
            Scenario::DeepDischarge => "deep-discharge",
            Scenario::FaultInternalShort => "fault-internal-short",
            Scenario::FaultResistanceStep => "fault-resistance-step",
            Scenario::FaultWeakCell => "fault-weak-cell",
            Scenario::FaultThermalRunaway => "fault-thermal-runaway",
            Scenario::FaultOpenWire => "fault-open-wire",
            Scenario::FaultStuckSensor => "fault-stuck-sensor",
            Scenario::FaultCurrentDrift => "fault-current-drift",
            Scenario::FaultFrontEndLost => "fault-front-end-lost",
            Scenario::FaultChargerIgnoresLimits => "fault-charger-ignores-limits",
            Scenario::FaultShortCircuit => "fault-short-circuit",
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
            Scenario::FaultInternalShort => {
                "Cell 5 leaks 2 A internally: it falls behind every night until under-voltage protection catches it."
            }
            Scenario::FaultResistanceStep => {
                "Cell 3's connection degrades (+5 mΩ) after an hour: it reads high under charge current and the BMS derates charging before anything trips."
            }
            Scenario::FaultWeakCell => {
                "Cell 8 has only 70 % of the capacity of the others: it is full first and over-voltage protection stops the charge."
            }
            Scenario::FaultThermalRunaway => {
                "A 150 W heat source appears in cell 13 after an hour: the sensors disagree and everything opens before the cell reaches 60 °C."
            }
            Scenario::FaultOpenWire => {
                "The sense wire of cell 7 opens after an hour: the BMS sees 0 V, opens both switches and latches until reset."
            }
            Scenario::FaultStuckSensor => {
                "Temperature sensor 1 freezes after an hour (stuck detection on, 30 min): the BMS stops trusting it and opens."
            }
            Scenario::FaultCurrentDrift => {
                "The current sensor drifts 0.1 A per hour: nothing trips, but the coulomb-counted SOC walks away from the truth."
            }
            Scenario::FaultFrontEndLost => {
                "The analog front end stops answering after an hour: with no fresh measurements the BMS opens both switches."
            }
            Scenario::FaultChargerIgnoresLimits => {
                "After an hour a charger ignoring the BMS pushes 120 A: over-voltage protection must open the charge switch."
            }
            Scenario::FaultShortCircuit => {
                "The pack terminals are shorted after an hour: the front end trips in microseconds and the BMS latches short-circuit."
            }
        }
    }

    /// Faults injected, with their time in seconds from the start.
    pub fn faults(self) -> &'static [(u64, InjectedFault)] {
        const HOUR: u64 = 3_600;
        match self {
            Scenario::SolarDay | Scenario::Overcharge | Scenario::DeepDischarge => &[],
            Scenario::FaultInternalShort => &[(
                0,
                InjectedFault::InternalShort {
                    cell: 4,
                    leak_a: 2.0,
                },
            )],
            Scenario::FaultResistanceStep => &[(
                HOUR,
                InjectedFault::ResistanceStep {
                    cell: 2,
                    added_ohm: 0.005,
                },
            )],
            Scenario::FaultWeakCell => &[(
                0,
                InjectedFault::WeakCell {
                    cell: 7,
                    capacity_factor: 0.7,
                },
            )],
            Scenario::FaultThermalRunaway => &[(
                HOUR,
                InjectedFault::ThermalRunawayPrecursor {
                    cell: 12,
                    heat_w: 150.0,
                },
            )],
            Scenario::FaultOpenWire => &[(HOUR, InjectedFault::OpenSenseWire { cell: 6 })],
            Scenario::FaultStuckSensor => {
                &[(HOUR, InjectedFault::StuckTemperatureSensor { sensor: 0 })]
            }
            Scenario::FaultCurrentDrift => &[(
                HOUR,
                InjectedFault::CurrentSensorDrift { amps_per_hour: 0.1 },
            )],
            Scenario::FaultFrontEndLost => &[(HOUR, InjectedFault::FrontEndLost)],
            Scenario::FaultChargerIgnoresLimits => &[(
                HOUR,
                InjectedFault::ChargerIgnoresLimits { current_a: 120.0 },
            )],
            Scenario::FaultShortCircuit => &[(HOUR, InjectedFault::ExternalShortCircuit)],
        }
    }

    /// What the BMS must show in this scenario: one of these faults at least at the given
    /// level (empty: nothing may trip). A resistance step, for instance, should be handled by
    /// derating before it ever trips.
    pub fn expected(self) -> &'static [(Fault, Level)] {
        match self {
            Scenario::SolarDay | Scenario::FaultCurrentDrift => &[],
            Scenario::Overcharge | Scenario::FaultChargerIgnoresLimits => {
                &[(Fault::CellOverVoltage, Level::Trip)]
            }
            Scenario::DeepDischarge => &[(Fault::CellUnderVoltage, Level::Trip)],
            Scenario::FaultInternalShort => &[
                (Fault::CellUnderVoltage, Level::Trip),
                (Fault::CellImbalance, Level::Trip),
            ],
            Scenario::FaultResistanceStep => &[(Fault::CellOverVoltage, Level::Derate)],
            Scenario::FaultWeakCell => &[
                (Fault::CellOverVoltage, Level::Trip),
                (Fault::CellImbalance, Level::Trip),
            ],
            Scenario::FaultThermalRunaway => &[
                (Fault::TemperatureDisagreement, Level::Trip),
                (Fault::DischargeOverTemperature, Level::Trip),
            ],
            Scenario::FaultOpenWire => &[(Fault::OpenWire, Level::Trip)],
            Scenario::FaultStuckSensor => &[(Fault::StuckSensor, Level::Trip)],
            Scenario::FaultFrontEndLost => &[(Fault::FrontEndLost, Level::Trip)],
            Scenario::FaultShortCircuit => &[(Fault::ShortCircuit, Level::Trip)],
        }
    }

    /// Days the scenario needs to show its point.
    pub const fn days(self) -> f64 {
        match self {
            // Two nights for the leak to empty the cell; longer and it keeps leaking after the
            // trip (nothing outside the cell can stop an internal short).
            Scenario::FaultInternalShort => 2.0,
            _ => 1.0,
        }
    }

    /// The engine configuration the scenario runs with.
    pub fn engine_config(self, cell_count: u8) -> PackConfig {
        let mut config = PackConfig::lfp_280ah(cell_count);
        if self == Scenario::FaultStuckSensor {
            config.stuck_sensor_ms = 30 * 60 * 1000;
        }
        config
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
            Scenario::Overcharge => 0.97,
            Scenario::DeepDischarge => 0.08,
            _ => 0.35,
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
            _ => Scenario::SolarDay.ambient_c(time_of_day_secs),
        }
    }

    /// Time of day at the start, seconds after midnight.
    pub const fn start_time_of_day_secs(self) -> u64 {
        match self {
            Scenario::Overcharge | Scenario::DeepDischarge => 12 * 3600,
            _ => 6 * 3600,
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
    /// A charger that ignores the BMS and pushes this current (fault injection), A.
    pub rogue_charger_a: Option<f64>,
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
            rogue_charger_a: None,
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
            _ => {}
        }
        if let Some(current_a) = self.rogue_charger_a {
            return current_a;
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
