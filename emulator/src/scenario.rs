//! Named scenarios: where the pack starts and what the world around it asks of it.

use crate::Error;
use crate::faults::InjectedFault;
use bms_engine::limits::Limits;
use bms_engine::{Fault, Level, PackConfig};
use rand::Rng;
use std::f64::consts::PI;

/// A named, reproducible situation for the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scenario {
    /// PV charges the pack by day, the house discharges it in the evening and at night.
    SolarDay,
    /// Thirty days of sun and cloud with realistic sensor errors and a wrong initial SOC.
    Solar30,
    /// A week of clouds.
    CloudyWeek,
    /// Three winter days below freezing: heat before charging.
    WinterCold,
    /// Three hot summer days, charging in the heat of the afternoon: cool, and charge less
    /// the hotter the cells.
    SummerHeat,
    /// A new pack whose cells start 5 % apart in SOC.
    Imbalance,
    /// One year of solar days: the pack ages.
    AgingPack,
    /// Sixty days of deep daily cycles on a pack at 90 % capacity fading 10 % a year.
    CapacityFade,
    /// The grid fails for six hours in the evening: the battery carries the house.
    GridOutage,
    /// Time-of-use tariff: discharge in the evening peak, top up at night from the grid.
    PeakShaving,
    /// A rack with a main contactor: pre-charge, then a solar day.
    ContactorRack,
    /// A charger that ignores the BMS's limits pushes 0.5 C into a nearly full pack.
    Overcharge,
    /// A load draws 0.5 C from a nearly empty pack.
    DeepDischarge,
    /// Solar day; one cell has an internal short (4 A of extra self-discharge).
    FaultInternalShort,
    /// Four solar days; one cell leaks 0.3 A (a soft internal short, the slow kind).
    FaultSlowLeak,
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
    /// A contactor rack whose DC bus is loaded (5 Ω): pre-charge never matches.
    FaultPrecharge,
    /// Three packs in parallel on a solar day; pack 1's breaker to the bus opens at 10:00.
    FaultBusDisconnected,
}

impl Scenario {
    /// Every scenario, in the order `emulator scenarios` lists them.
    pub const ALL: [Scenario; 26] = [
        Scenario::SolarDay,
        Scenario::Solar30,
        Scenario::CloudyWeek,
        Scenario::WinterCold,
        Scenario::SummerHeat,
        Scenario::Imbalance,
        Scenario::AgingPack,
        Scenario::CapacityFade,
        Scenario::GridOutage,
        Scenario::PeakShaving,
        Scenario::ContactorRack,
        Scenario::Overcharge,
        Scenario::DeepDischarge,
        Scenario::FaultInternalShort,
        Scenario::FaultSlowLeak,
        Scenario::FaultResistanceStep,
        Scenario::FaultWeakCell,
        Scenario::FaultThermalRunaway,
        Scenario::FaultOpenWire,
        Scenario::FaultStuckSensor,
        Scenario::FaultCurrentDrift,
        Scenario::FaultFrontEndLost,
        Scenario::FaultChargerIgnoresLimits,
        Scenario::FaultShortCircuit,
        Scenario::FaultPrecharge,
        Scenario::FaultBusDisconnected,
    ];

    /// The name used on the command line and in the dashboard.
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::SolarDay => "solar-day",
            Scenario::Solar30 => "solar-30",
            Scenario::CloudyWeek => "cloudy-week",
            Scenario::WinterCold => "winter-cold",
            Scenario::SummerHeat => "summer-heat",
            Scenario::Imbalance => "imbalance",
            Scenario::AgingPack => "aging-pack",
            Scenario::CapacityFade => "capacity-fade",
            Scenario::GridOutage => "grid-outage",
            Scenario::PeakShaving => "peak-shaving",
            Scenario::ContactorRack => "contactor-rack",
            Scenario::Overcharge => "overcharge",
            Scenario::DeepDischarge => "deep-discharge",
            Scenario::FaultInternalShort => "fault-internal-short",
            Scenario::FaultSlowLeak => "fault-slow-leak",
            Scenario::FaultResistanceStep => "fault-resistance-step",
            Scenario::FaultWeakCell => "fault-weak-cell",
            Scenario::FaultThermalRunaway => "fault-thermal-runaway",
            Scenario::FaultOpenWire => "fault-open-wire",
            Scenario::FaultStuckSensor => "fault-stuck-sensor",
            Scenario::FaultCurrentDrift => "fault-current-drift",
            Scenario::FaultFrontEndLost => "fault-front-end-lost",
            Scenario::FaultChargerIgnoresLimits => "fault-charger-ignores-limits",
            Scenario::FaultShortCircuit => "fault-short-circuit",
            Scenario::FaultPrecharge => "fault-precharge",
            Scenario::FaultBusDisconnected => "fault-bus-disconnected",
        }
    }

    /// One line saying what the scenario shows.
    pub const fn purpose(self) -> &'static str {
        match self {
            Scenario::SolarDay => {
                "A sunny day in a solar home: PV charges the pack from morning, the house drains it in the evening."
            }
            Scenario::Solar30 => {
                "Thirty days (20 sunny, 10 cloudy, 4 in a row), nightly use down to a 20–40 % reserve, 5–35 °C, current sensor +0.1 A / +0.5 %, voltage noise 2 mV, BMS starting 20 points wrong."
            }
            Scenario::CapacityFade => {
                "Sixty days of full charges and deep evenings on a pack already at 90 % of its capacity and losing 10 % a year: the BMS must find the capacity and follow it down."
            }
            Scenario::CloudyWeek => {
                "A week of heavy cloud: the pack never fills and sits near its reserve."
            }
            Scenario::WinterCold => {
                "Three days at −13…−3 °C: charging below 0 °C is blocked until the heater has warmed the cells."
            }
            Scenario::SummerHeat => {
                "Three summer days at 26…44 °C in a hot garage, the air conditioning on from 11:00, so the pack charges in the afternoon heat: the fan runs from mid-morning, and from 40 °C the BMS cuts the charge current (140 A, about 25 A at 44 °C) before 45 °C would stop it; nothing trips."
            }
            Scenario::Imbalance => {
                "A new pack whose cells start about 5 % apart in SOC, with a 2 A active balancer: watch it move charge from the highest cell to the lowest at the top of each charge until the cells agree."
            }
            Scenario::AgingPack => {
                "A year of solar days: capacity fades and resistance grows with time, charge level and temperature."
            }
            Scenario::GridOutage => {
                "The grid fails from 18:00 to midnight: the battery carries the whole house within its discharge limit."
            }
            Scenario::PeakShaving => {
                "Time-of-use tariff: the battery covers the 17–21 h peak and is topped up from the grid at night when low."
            }
            Scenario::ContactorRack => {
                "A rack with a main contactor: the BMS pre-charges the inverter's DC link, closes the contactor, then runs a solar day."
            }
            Scenario::FaultPrecharge => {
                "The DC bus is loaded (5 Ω): pre-charge never brings it up, the BMS times out and stays open until reset."
            }
            Scenario::FaultBusDisconnected => {
                "Three packs in parallel; at 10:00 pack 1's breaker to the bus opens: its own BMS sees a pack at rest, the others see it carry nothing while they charge, and after a minute the bank leaves it out of what it tells the inverter, so that its share no longer pushes packs 2 and 3 past their own limits."
            }
            Scenario::Overcharge => {
                "A charger ignoring the BMS pushes 0.5 C into a 97 % pack: over-voltage protection must open the charge switch."
            }
            Scenario::DeepDischarge => {
                "A 0.5 C load drains an 8 % pack: under-voltage protection must open the discharge switch."
            }
            Scenario::FaultInternalShort => {
                "Cell 5 leaks 4 A internally: by night it lags so far that the imbalance trip stops charging, then under-voltage protection stops the discharge; the cell then drains itself below 2 V, which nothing outside it can stop."
            }
            Scenario::FaultSlowLeak => {
                "Cell 5 leaks 0.3 A internally, too slowly for any voltage limit: the BMS compares each top and bottom of charge with the last and, within the week (mostly by day 4), warns that the cell loses charge the others do not."
            }
            Scenario::FaultResistanceStep => {
                "Cell 3's connection degrades (+5 mΩ) after an hour: it reads high under charge current and the BMS derates charging before anything trips."
            }
            Scenario::FaultWeakCell => {
                "Cell 8 has only 70 % of the capacity of the others: it is full first, the BMS tapers the charge and reports the imbalance."
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
            Scenario::SolarDay
            | Scenario::Solar30
            | Scenario::CloudyWeek
            | Scenario::WinterCold
            | Scenario::SummerHeat
            | Scenario::Imbalance
            | Scenario::AgingPack
            | Scenario::CapacityFade
            | Scenario::GridOutage
            | Scenario::PeakShaving
            | Scenario::ContactorRack
            | Scenario::FaultPrecharge
            | Scenario::Overcharge
            | Scenario::DeepDischarge => &[],
            // 06:00 + 4 h: the packs charge from the morning sun.
            Scenario::FaultBusDisconnected => &[(4 * HOUR, InjectedFault::BusDisconnected)],
            Scenario::FaultInternalShort => &[(
                0,
                InjectedFault::InternalShort {
                    cell: 4,
                    leak_a: 4.0,
                },
            )],
            Scenario::FaultSlowLeak => &[(
                0,
                InjectedFault::InternalShort {
                    cell: 4,
                    leak_a: 0.3,
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
            Scenario::SolarDay
            | Scenario::Solar30
            | Scenario::CloudyWeek
            | Scenario::Imbalance
            | Scenario::AgingPack
            | Scenario::CapacityFade
            | Scenario::GridOutage
            | Scenario::PeakShaving
            | Scenario::ContactorRack
            | Scenario::FaultCurrentDrift => &[],
            // No BMS can see its own pack cut off: the point is the bank's, which leaves the
            // pack out of what it tells (`PackShare::secs_left_out`, checked by the scenario's
            // test in `tests/bank.rs`), and nothing trips.
            Scenario::FaultBusDisconnected => &[],
            Scenario::FaultPrecharge => &[(Fault::PrechargeFailed, Level::Trip)],
            // Blocking charge in the frost is the protection working, not a failure.
            Scenario::WinterCold => &[(Fault::ChargeUnderTemperature, Level::Trip)],
            // Charging hot wears the cells: warned of, then derated (see the scenario's test
            // for what may not happen: a trip).
            Scenario::SummerHeat => &[(Fault::ChargeOverTemperature, Level::Derate)],
            Scenario::Overcharge | Scenario::FaultChargerIgnoresLimits => {
                &[(Fault::CellOverVoltage, Level::Trip)]
            }
            Scenario::DeepDischarge => &[(Fault::CellUnderVoltage, Level::Trip)],
            Scenario::FaultInternalShort => &[
                (Fault::CellUnderVoltage, Level::Trip),
                (Fault::CellImbalance, Level::Trip),
            ],
            // Too slow to trip: the self-discharge check's warning is the point.
            Scenario::FaultSlowLeak => &[(Fault::CellSelfDischarge, Level::Warning)],
            // The connection reads high under charge current: the charge is derated for that
            // cell's voltage, or for the spread it opens up if that derate comes first (5 of
            // 100 seeds).
            Scenario::FaultResistanceStep => &[
                (Fault::CellOverVoltage, Level::Derate),
                (Fault::CellImbalance, Level::Derate),
            ],
            // The weak cell is full first: the taper stops charging before it trips, and the
            // spread it opens up is reported.
            Scenario::FaultWeakCell => &[
                (Fault::CellOverVoltage, Level::Derate),
                (Fault::CellImbalance, Level::Warning),
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
            // The trips come 20–25 h in (100 seeds), depending on how much the day's sun
            // charged; after them the cell keeps leaking until it is empty (nothing outside a
            // cell can stop an internal short).
            Scenario::FaultInternalShort => 1.25,
            Scenario::Solar30 => 30.0,
            Scenario::CloudyWeek | Scenario::Imbalance => 7.0,
            Scenario::WinterCold | Scenario::SummerHeat => 3.0,
            // The check needs ends of charge days apart for the leak to outgrow the estimates'
            // wander, and only sunny days bring the pack to the top: of 100 seeds, 79 warned by
            // the fourth day, the rest on the fifth to seventh (the latest after 147 h).
            Scenario::FaultSlowLeak => 7.0,
            Scenario::AgingPack => 365.0,
            Scenario::CapacityFade => 60.0,
            Scenario::PeakShaving => 2.0,
            _ => 1.0,
        }
    }

    /// Packs in parallel the scenario runs with unless told otherwise.
    pub const fn default_packs(self) -> usize {
        match self {
            Scenario::FaultBusDisconnected => 3,
            _ => 1,
        }
    }

    /// The fewest packs in parallel the scenario means anything with: a pack cut off the bus
    /// is seen only by the packs beside it.
    pub const fn min_packs(self) -> usize {
        match self {
            Scenario::FaultBusDisconnected => 2,
            _ => 1,
        }
    }

    /// The engine configuration the scenario runs with.
    pub fn engine_config(self, cell_count: u8) -> PackConfig {
        let mut config = PackConfig::lfp_280ah(cell_count);
        if self == Scenario::FaultStuckSensor {
            config.stuck_sensor_ms = 30 * 60 * 1000;
        }
        // 5 % of 280 Ah is 14 Ah: the default 60 mA bleed, working a few hours a day at the
        // top of charge, would need months; an active balancer as JK or Daly fit does it in days.
        if self == Scenario::Imbalance {
            config.balancer = bms_engine::BalancerKind::Active {
                max_current_ma: 2_000,
            };
        }
        if matches!(self, Scenario::ContactorRack | Scenario::FaultPrecharge) {
            config.switches = bms_engine::SwitchKind::Contactor {
                voltage_match_mv: 2_000,
                precharge_timeout_ms: 5_000,
            };
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
            Scenario::Imbalance | Scenario::AgingPack | Scenario::PeakShaving => 0.5,
            Scenario::WinterCold => 0.3,
            Scenario::GridOutage => 0.6,
            _ => 0.35,
        }
    }

    /// Cell-to-cell spread of the initial SOC, σ as a fraction.
    pub const fn soc_spread(self) -> f64 {
        match self {
            Scenario::Imbalance => 0.015,
            _ => 0.005,
        }
    }

    /// How far off the BMS's initial SOC is from the truth, fraction (added, then clamped).
    pub const fn bms_soc_error(self) -> f64 {
        match self {
            Scenario::Solar30 => 0.20,
            _ => 0.0,
        }
    }

    /// Sensor imperfections of the scenario.
    pub fn sensors(self) -> crate::SensorParams {
        let base = crate::SensorParams::default();
        match self {
            Scenario::Solar30 => crate::SensorParams {
                voltage_noise_mv: 2.0,
                voltage_offset_mv: 1.0,
                current_offset_a: 0.1,
                current_gain_error: 0.005,
                ..base
            },
            _ => base,
        }
    }

    /// Fraction of clear-sky PV on day `day` (0-based).
    pub fn sky(self, day: u64) -> f64 {
        const CLOUDY: f64 = 0.25;
        match self {
            // 10 cloudy days of 30, four of them in a row.
            Scenario::Solar30 if [4, 5, 6, 7, 12, 15, 19, 23, 26, 28].contains(&(day % 30)) => {
                CLOUDY
            }
            Scenario::CloudyWeek => CLOUDY,
            _ => 1.0,
        }
    }

    /// Capacity the cells have already lost at the start, fraction, and how fast they lose
    /// more besides their own ageing, fraction per year (an accelerated test).
    pub const fn pre_ageing(self) -> (f64, f64) {
        match self {
            Scenario::CapacityFade => (0.10, 0.10),
            _ => (0.0, 0.0),
        }
    }

    /// Power the home's air conditioning draws through the hot hours (11–19 h), W.
    pub const fn air_conditioning_w(self) -> f64 {
        match self {
            Scenario::SummerHeat => 1_500.0,
            _ => 0.0,
        }
    }

    /// PV peak power on a clear day, W.
    pub const fn pv_peak_w(self) -> f64 {
        match self {
            Scenario::WinterCold => 2_500.0,
            Scenario::CapacityFade => 6_500.0,
            _ => 4_500.0,
        }
    }

    /// How the inverter runs the home.
    pub const fn mode(self) -> Mode {
        match self {
            Scenario::Solar30 | Scenario::CloudyWeek | Scenario::AgingPack => {
                Mode::SelfConsumption {
                    reserve_min: 0.20,
                    reserve_max: 0.40,
                }
            }
            Scenario::GridOutage => Mode::Backup {
                outage_start_s: 12 * 3_600,
                outage_secs: 6 * 3_600,
            },
            Scenario::PeakShaving => Mode::PeakShaving,
            Scenario::WinterCold | Scenario::SummerHeat => Mode::SelfConsumption {
                reserve_min: 0.20,
                reserve_max: 0.20,
            },
            Scenario::CapacityFade => Mode::SelfConsumption {
                reserve_min: 0.05,
                reserve_max: 0.08,
            },
            _ => Mode::SelfConsumption {
                reserve_min: 0.0,
                reserve_max: 0.0,
            },
        }
    }

    /// Ambient temperature around the pack at a time of day, °C: a daily swing, coldest at
    /// 03:00 and warmest at 15:00.
    pub fn ambient_c(self, time_of_day_secs: u64) -> f64 {
        let (mean, swing) = match self {
            Scenario::Overcharge | Scenario::DeepDischarge => (25.0, 0.0),
            Scenario::Solar30 => (20.0, 15.0),
            Scenario::WinterCold => (-8.0, 5.0),
            Scenario::SummerHeat => (35.0, 9.0),
            Scenario::AgingPack => (20.0, 8.0),
            _ => (20.0, 5.0),
        };
        let hour = time_of_day_secs as f64 / 3600.0;
        mean + swing * (2.0 * PI * (hour - 9.0) / 24.0).sin()
    }

    /// Time of day at the start, seconds after midnight.
    pub const fn start_time_of_day_secs(self) -> u64 {
        match self {
            Scenario::Overcharge | Scenario::DeepDischarge => 12 * 3600,
            _ => 6 * 3600,
        }
    }
}

/// How the home's inverter uses the battery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Charge from PV surplus, discharge to cover the load, but keep a reserve: each night's
    /// reserve is drawn between the two fractions (0 and 0: no reserve).
    SelfConsumption {
        /// Lowest nightly reserve, fraction of SOC.
        reserve_min: f64,
        /// Highest nightly reserve, fraction of SOC.
        reserve_max: f64,
    },
    /// Time-of-use: discharge only in the 17–21 h peak; charge from PV, and from the grid at
    /// 01–05 h when below half charge.
    PeakShaving,
    /// Self-consumption with a 30 % backup reserve, and a grid outage during which the battery
    /// (within its discharge limit) is the house's only supply besides PV.
    Backup {
        /// Start of the outage, seconds from the scenario start.
        outage_start_s: u64,
        /// Length of the outage, s.
        outage_secs: u64,
    },
}

/// Largest charge or discharge current the inverter handles, A.
const INVERTER_MAX_A: f64 = 100.0;
/// The smallest charge current the inverter's constant-voltage regulator sets, A; below it
/// the regulator stops charging.
const CV_LIMIT_RESOLUTION_A: f64 = 0.001;
/// Grid charging current in peak-shaving mode, A.
const GRID_CHARGE_A: f64 = 30.0;

/// What the home's inverter knows when it decides (it reads the BMS over CAN).
#[derive(Debug, Clone, Copy)]
pub struct HomeInputs<'a> {
    /// Seconds since the scenario start.
    pub time_s: u64,
    /// Time of day, seconds after midnight.
    pub time_of_day_secs: u64,
    /// Pack voltage at the inverter's terminals, mV.
    pub pack_voltage_mv: f64,
    /// The BMS's SOC, per mille.
    pub bms_soc_permille: u16,
    /// The BMS's limits.
    pub limits: &'a Limits,
}

/// The house, its PV and its inverter: what current the pack is asked for.
#[derive(Debug, Clone)]
pub struct Home {
    scenario: Scenario,
    /// Cloud attenuation within the day, 0.3..1, a slowly varying seeded process.
    cloud: f64,
    /// Seconds left of an appliance spike and its power, W.
    spike: (u32, f64),
    /// The inverter's present charge current, from its constant-voltage regulator, A.
    cv_limit_a: f64,
    /// Today's reserve (fraction of SOC) and the day it was drawn for.
    reserve: (u64, f64),
    /// Load the battery could not serve during an outage, Wh.
    pub unserved_wh: f64,
    /// A charger that ignores the BMS and pushes this current (fault injection), A.
    pub rogue_charger_a: Option<f64>,
    /// PV and household power during the last step, W.
    last_w: (f64, f64),
    /// Packs the home is built for: its PV, its household and its inverter are this many times
    /// the scenario's own (see [`Home::for_packs`]).
    scale: f64,
    /// Whether the last step had charge on offer, before the BMS's limits.
    charge_offered: bool,
}

impl Home {
    /// The home of `scenario`.
    pub fn new(scenario: Scenario) -> Self {
        Self::for_packs(scenario, 1)
    }

    /// The home of `scenario` for a bank of `packs` packs in parallel: a house, a PV array and
    /// an inverter (and a bench supply or load in the lab scenarios) that many times the size,
    /// so that each pack works about as hard as it would alone.
    pub fn for_packs(scenario: Scenario, packs: usize) -> Self {
        let scale = packs.max(1) as f64;
        Home {
            scenario,
            cloud: 1.0,
            spike: (0, 0.0),
            cv_limit_a: INVERTER_MAX_A * scale,
            reserve: (u64::MAX, 0.0),
            unserved_wh: 0.0,
            rogue_charger_a: None,
            last_w: (0.0, 0.0),
            charge_offered: false,
            scale,
        }
    }

    /// PV power now on day `day`, W.
    pub fn pv_w(&self, day: u64, time_of_day_secs: u64) -> f64 {
        let hour = time_of_day_secs as f64 / 3600.0;
        if !(6.0..20.0).contains(&hour) {
            return 0.0;
        }
        let sun = (PI * (hour - 6.0) / 14.0).sin().max(0.0);
        // sun^1.5, as a root and a product rather than a general power (a tenth of the cost).
        self.scenario.pv_peak_w()
            * (sun * sun.sqrt())
            * self.cloud
            * self.scenario.sky(day)
            * self.scale
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
        let cooling = if (11.0..19.0).contains(&hour) {
            self.scenario.air_conditioning_w()
        } else {
            0.0
        };
        (base + routine + cooling + if self.spike.0 > 0 { self.spike.1 } else { 0.0 }) * self.scale
    }

    /// PV and household power during the last step, W: what the inverter balanced with the
    /// current it asked for (0 and 0 in the lab scenarios, where a bench supply or load
    /// drives the pack instead of a home, and before the first step).
    pub fn pv_and_load_w(&self) -> (f64, f64) {
        self.last_w
    }

    /// Whether the last step had charge to give the pack before the BMS's limits (PV surplus,
    /// a grid charge, a bench or rogue charger): what a charger-detect input or the inverter's
    /// charge request tells the BMS.
    pub fn charge_offered(&self) -> bool {
        self.charge_offered
    }

    /// Where power flowed in the step that ended at `time_s`: PV and load as this home had
    /// them, `battery_w` into the battery at its terminals (of which `heater_w` warmed it from
    /// inside), and the grid as the balance (import positive). Without a grid, load the
    /// battery cannot cover goes unserved and the grid shows 0.
    pub fn power_flow(&self, time_s: u64, battery_w: f64, heater_w: f64) -> crate::PowerFlow {
        let (pv_w, load_w) = self.pv_and_load_w();
        // The step just taken started a second ago.
        let grid_available = self.grid_available(time_s.saturating_sub(1));
        let balance_w = battery_w + load_w - pv_w;
        crate::PowerFlow {
            pv_w,
            load_w,
            battery_w,
            heater_w,
            grid_w: if grid_available { balance_w } else { 0.0 },
            grid_available,
        }
    }

    /// Whether the grid is up at `time_s`.
    pub fn grid_available(&self, time_s: u64) -> bool {
        match self.scenario.mode() {
            Mode::Backup {
                outage_start_s,
                outage_secs,
            } => !(outage_start_s..outage_start_s + outage_secs).contains(&time_s),
            _ => true,
        }
    }

    /// Advances the home by one second and returns the current it asks of the pack, A
    /// (positive charges). The inverter keeps the charge current within the BMS's CCL and
    /// regulates the pack voltage to its CVL, keeps the discharge current within the DCL, and
    /// covers the rest of the load from the grid (when there is one).
    pub fn step(&mut self, input: HomeInputs<'_>, rng: &mut impl Rng) -> f64 {
        match self.scenario {
            Scenario::Overcharge => {
                self.charge_offered = true;
                return 140.0 * self.scale;
            }
            Scenario::DeepDischarge => {
                self.charge_offered = false;
                return -140.0 * self.scale;
            }
            _ => {}
        }
        let day = (self.scenario.start_time_of_day_secs() + input.time_s) / 86_400;
        if let Some(current_a) = self.rogue_charger_a {
            self.last_w = (
                self.pv_w(day, input.time_of_day_secs),
                self.load_w(input.time_of_day_secs),
            );
            self.charge_offered = current_a > 0.0;
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
        if self.reserve.0 != day {
            let reserve = match self.scenario.mode() {
                Mode::SelfConsumption {
                    reserve_min,
                    reserve_max,
                } if reserve_max > reserve_min => rng.random_range(reserve_min..=reserve_max),
                Mode::SelfConsumption { reserve_min, .. } => reserve_min,
                Mode::Backup { .. } => 0.30,
                Mode::PeakShaving => 0.10,
            };
            self.reserve = (day, reserve);
        }
        let hour = input.time_of_day_secs as f64 / 3600.0;
        let soc = f64::from(input.bms_soc_permille) / 1000.0;
        let grid = self.grid_available(input.time_s);
        let load_w = self.load_w(input.time_of_day_secs);
        let pv_w = self.pv_w(day, input.time_of_day_secs);
        self.last_w = (pv_w, load_w);
        let net_w = pv_w - load_w;
        let volts = (input.pack_voltage_mv / 1000.0).max(1.0);
        let ccl_a = f64::from(input.limits.charge_current_ma) / 1000.0;
        let dcl_a = f64::from(input.limits.discharge_current_ma) / 1000.0;

        let mut wanted_a = net_w / volts;
        if wanted_a < 0.0 && grid {
            // With a grid the battery only discharges above its reserve (and, when shaving
            // peaks, only in the peak).
            let in_peak = (17.0..21.0).contains(&hour);
            let allowed =
                soc > self.reserve.1 && (self.scenario.mode() != Mode::PeakShaving || in_peak);
            if !allowed {
                wanted_a = 0.0;
            }
        }
        if self.scenario.mode() == Mode::PeakShaving && (1.0..5.0).contains(&hour) && soc < 0.5 {
            wanted_a = wanted_a.max(GRID_CHARGE_A * self.scale);
        }
        self.charge_offered = wanted_a > 0.0;
        let inverter_max_a = INVERTER_MAX_A * self.scale;
        let limited_a = wanted_a.clamp(-inverter_max_a.min(dcl_a), inverter_max_a.min(ccl_a));
        if !grid && wanted_a < limited_a {
            // No grid: what the battery cannot deliver is load the house goes without.
            self.unserved_wh += (limited_a - wanted_a) * volts / 3600.0;
        }
        // Constant-voltage regulator on the BMS's CVL: back off while above, recover slowly below.
        if input.pack_voltage_mv > f64::from(input.limits.charge_voltage_mv) {
            // Down to nothing, not to ever smaller fractions of a milliampere: held above the
            // CVL for an afternoon the limit would shrink to a subnormal number (2.5e-323 A),
            // which every cell then multiplied by at a hundred times the cost.
            self.cv_limit_a = if self.cv_limit_a > CV_LIMIT_RESOLUTION_A {
                self.cv_limit_a * 0.9
            } else {
                0.0
            };
        } else {
            self.cv_limit_a = (self.cv_limit_a + 0.5 * self.scale).min(inverter_max_a);
        }
        limited_a.min(self.cv_limit_a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solar_30_has_20_sunny_and_10_cloudy_days_four_in_a_row() {
        let cloudy: Vec<u64> = (0..30)
            .filter(|d| Scenario::Solar30.sky(*d) < 1.0)
            .collect();
        assert_eq!(cloudy.len(), 10);
        assert!(cloudy.windows(4).any(|w| w[3] - w[0] == 3));
    }

    #[test]
    fn the_outage_is_six_evening_hours() {
        let home = Home::new(Scenario::GridOutage);
        assert!(home.grid_available(12 * 3_600 - 1));
        assert!(!home.grid_available(12 * 3_600));
        assert!(!home.grid_available(18 * 3_600 - 1));
        assert!(home.grid_available(18 * 3_600));
    }

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

    /// Held above the CVL for hours, the inverter's constant-voltage regulator comes down to
    /// no current at all, never to a subnormal fraction of a milliampere (which once made every
    /// cell's arithmetic a hundred times slower for the rest of the afternoon).
    #[test]
    fn the_cv_regulator_backs_off_to_exactly_nothing() {
        use rand::SeedableRng;
        let mut home = Home::new(Scenario::SolarDay);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let limits = Limits {
            charge_voltage_mv: 55_200,
            charge_current_ma: 100_000,
            discharge_current_ma: 100_000,
            discharge_voltage_mv: 44_800,
            phase: bms_engine::limits::ChargePhase::Absorption,
            full_charge_requested: false,
            force_charge_requested: false,
        };
        let mut current_a = f64::NAN;
        for s in 0..20_000 {
            current_a = home.step(
                HomeInputs {
                    time_s: 11 * 3600 + s,
                    time_of_day_secs: 11 * 3600 + s,
                    pack_voltage_mv: 55_300.0,
                    bms_soc_permille: 990,
                    limits: &limits,
                },
                &mut rng,
            );
            assert!(current_a == 0.0 || current_a.is_normal(), "{current_a:e} A");
        }
        assert_eq!(current_a, 0.0);
    }

    #[test]
    fn pv_is_zero_at_night_and_peaks_at_one_pm() {
        let home = Home::new(Scenario::SolarDay);
        assert_eq!(home.pv_w(0, 3 * 3600), 0.0);
        assert_eq!(home.pv_w(0, 21 * 3600), 0.0);
        assert!((home.pv_w(0, 13 * 3600) - 4_500.0).abs() < 1.0);
        let cloudy = Home::new(Scenario::Solar30);
        assert!((cloudy.pv_w(5, 13 * 3600) - 0.25 * 4_500.0).abs() < 1.0);
        assert!((cloudy.pv_w(8, 13 * 3600) - 4_500.0).abs() < 1.0);
    }
}
