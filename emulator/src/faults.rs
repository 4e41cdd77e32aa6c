//! Faults the emulator can inject, at a scheduled time (scenarios) or on demand
//! ([`crate::Simulation::inject`]). Each changes the true pack, its sensors or the world around
//! it; the engine must notice from the measurements alone.

use serde::Serialize;

/// An injectable fault. Cell and sensor numbers are 0-based here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub enum InjectedFault {
    /// An internal short: the cell self-discharges with this extra current, A.
    InternalShort {
        /// The cell.
        cell: usize,
        /// Leakage current, A.
        leak_a: f64,
    },
    /// A step in one cell's ohmic resistance (a loose busbar, a failing weld), Ω added.
    ResistanceStep {
        /// The cell.
        cell: usize,
        /// Added resistance, Ω.
        added_ohm: f64,
    },
    /// A weak cell: its capacity drops to this fraction.
    WeakCell {
        /// The cell.
        cell: usize,
        /// Remaining capacity fraction.
        capacity_factor: f64,
    },
    /// A thermal-runaway precursor: a heat source inside one cell, W.
    ThermalRunawayPrecursor {
        /// The cell.
        cell: usize,
        /// Heat, W.
        heat_w: f64,
    },
    /// An open voltage-sense wire on one channel.
    OpenSenseWire {
        /// The channel (cell).
        cell: usize,
    },
    /// A temperature sensor stuck at its present reading.
    StuckTemperatureSensor {
        /// The sensor.
        sensor: usize,
    },
    /// The current sensor's offset drifts by this much per hour, A/h.
    CurrentSensorDrift {
        /// Drift rate, A per hour.
        amps_per_hour: f64,
    },
    /// The analog front end stops answering.
    FrontEndLost,
    /// The charger ignores the BMS's charge voltage and current limits and pushes this current, A.
    ChargerIgnoresLimits {
        /// Charge current, A.
        current_a: f64,
    },
    /// A short circuit on the pack terminals: the front end's hardware trips within
    /// microseconds and reports it.
    ExternalShortCircuit,
    /// The pack's breaker or fuse to the bus opens (a cable comes loose): it is cut off the
    /// bus, and its BMS, measuring inside, sees a pack at rest with its switches on. Only the
    /// packs beside it can tell.
    BusDisconnected,
}

impl InjectedFault {
    /// How many faults [`InjectedFault::catalogue`] offers.
    pub const CATALOGUE_LEN: usize = 11;

    /// One of each kind with the strength the scenarios use, for a pack of `cell_count` cells
    /// and `sensor_count` temperature sensors: what an emulator console offers to inject now.
    pub fn catalogue(cell_count: usize) -> [InjectedFault; Self::CATALOGUE_LEN] {
        // A cell in the middle of the string, away from the ends' thermal advantage.
        let cell = cell_count.saturating_sub(1) / 2;
        [
            InjectedFault::InternalShort { cell, leak_a: 4.0 },
            InjectedFault::ResistanceStep {
                cell,
                added_ohm: 0.005,
            },
            InjectedFault::WeakCell {
                cell,
                capacity_factor: 0.7,
            },
            InjectedFault::ThermalRunawayPrecursor {
                cell,
                heat_w: 150.0,
            },
            InjectedFault::OpenSenseWire { cell },
            InjectedFault::StuckTemperatureSensor { sensor: 0 },
            InjectedFault::CurrentSensorDrift { amps_per_hour: 0.5 },
            InjectedFault::FrontEndLost,
            InjectedFault::ChargerIgnoresLimits { current_a: 120.0 },
            InjectedFault::ExternalShortCircuit,
            InjectedFault::BusDisconnected,
        ]
    }

    /// What the fault does, in one sentence for a person (cells and sensors numbered from 1).
    pub fn describe(&self) -> String {
        match *self {
            InjectedFault::InternalShort { cell, leak_a } => {
                format!(
                    "Internal short: cell {} leaks {leak_a} A inside itself",
                    cell + 1
                )
            }
            InjectedFault::ResistanceStep { cell, added_ohm } => format!(
                "Resistance step: cell {}'s connection gains {:.1} mΩ",
                cell + 1,
                added_ohm * 1000.0
            ),
            InjectedFault::WeakCell {
                cell,
                capacity_factor,
            } => format!(
                "Weak cell: cell {} keeps {:.0} % of its capacity",
                cell + 1,
                capacity_factor * 100.0
            ),
            InjectedFault::ThermalRunawayPrecursor { cell, heat_w } => format!(
                "Thermal-runaway precursor: {heat_w:.0} W of heat inside cell {}",
                cell + 1
            ),
            InjectedFault::OpenSenseWire { cell } => {
                format!("Open sense wire on cell {}'s channel", cell + 1)
            }
            InjectedFault::StuckTemperatureSensor { sensor } => {
                format!("Temperature sensor {} sticks at its reading", sensor + 1)
            }
            InjectedFault::CurrentSensorDrift { amps_per_hour } => {
                format!("Current sensor drifts by {amps_per_hour} A per hour")
            }
            InjectedFault::FrontEndLost => "The analog front end stops answering".to_owned(),
            InjectedFault::ChargerIgnoresLimits { current_a } => {
                format!("A charger ignores the BMS and pushes {current_a:.0} A")
            }
            InjectedFault::ExternalShortCircuit => "Short circuit on the pack terminals".to_owned(),
            InjectedFault::BusDisconnected => {
                "The pack's breaker to the bus opens: cut off, its BMS sees nothing wrong"
                    .to_owned()
            }
        }
    }

    /// Stable kebab-case name.
    pub fn name(&self) -> &'static str {
        match self {
            InjectedFault::InternalShort { .. } => "internal-short",
            InjectedFault::ResistanceStep { .. } => "resistance-step",
            InjectedFault::WeakCell { .. } => "weak-cell",
            InjectedFault::ThermalRunawayPrecursor { .. } => "thermal-runaway-precursor",
            InjectedFault::OpenSenseWire { .. } => "open-sense-wire",
            InjectedFault::StuckTemperatureSensor { .. } => "stuck-temperature-sensor",
            InjectedFault::CurrentSensorDrift { .. } => "current-sensor-drift",
            InjectedFault::FrontEndLost => "front-end-lost",
            InjectedFault::ChargerIgnoresLimits { .. } => "charger-ignores-limits",
            InjectedFault::ExternalShortCircuit => "external-short-circuit",
            InjectedFault::BusDisconnected => "bus-disconnected",
        }
    }
}
