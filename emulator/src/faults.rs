//! Faults the emulator can inject, at a scheduled time (scenarios) or on demand
//! ([`crate::Simulation::inject`]). Each changes the true pack, its sensors or the world around
//! it; the engine must notice from the measurements alone.

use serde::Serialize;

/// An injectable fault. Cell and sensor numbers are 0-based here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
}

impl InjectedFault {
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
        }
    }
}
