//! The engine: configuration, protection state and estimators, advanced by [`Engine::step`].

use crate::protection::{self, Debouncer, RULE_COUNT, Rule};
use crate::soc::CoulombCounter;
use crate::{Error, Event, EventKind, Fault, FaultSet, Measurement, PackConfig};
use heapless::Vec;

/// Most events one step can report (each rule trips or clears at most once per step).
pub const MAX_EVENTS_PER_STEP: usize = RULE_COUNT + 1;

/// What the engine decided in one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// Whether the charge switch (FET) must be closed, letting current into the pack.
    pub charge_switch_on: bool,
    /// Whether the discharge switch (FET) must be closed, letting current out of the pack.
    pub discharge_switch_on: bool,
    /// Faults active after this step.
    pub faults: FaultSet,
    /// Faults that tripped or cleared during this step.
    pub events: Vec<Event, MAX_EVENTS_PER_STEP>,
    /// State of charge in per mille.
    pub soc_permille: u16,
    /// Remaining charge in mAh.
    pub remaining_mah: u32,
}

/// One module's BMS.
#[derive(Debug, Clone)]
pub struct Engine {
    config: PackConfig,
    rules: [Rule; RULE_COUNT],
    debouncers: [Debouncer; RULE_COUNT],
    measurement_invalid: bool,
    soc: CoulombCounter,
}

impl Engine {
    /// An engine for `config`, starting from `initial_soc_permille`. Fails if the
    /// configuration is invalid.
    pub fn new(config: PackConfig, initial_soc_permille: u16) -> Result<Self, Error> {
        config.validate()?;
        Ok(Engine {
            rules: protection::rules(&config),
            debouncers: [Debouncer::default(); RULE_COUNT],
            measurement_invalid: false,
            soc: CoulombCounter::new(config.capacity_mah, initial_soc_permille),
            config,
        })
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &PackConfig {
        &self.config
    }

    /// Advances the engine by `dt_millis` with a new snapshot and returns what to do.
    ///
    /// A snapshot whose cell count differs from the configuration is implausible: the engine
    /// raises [`Fault::MeasurementInvalid`] at once, opens both switches, and holds every other
    /// rule's timers until a plausible snapshot arrives.
    pub fn step(&mut self, measurement: &Measurement, dt_millis: u32) -> Outputs {
        let mut events = Vec::new();
        let plausible = measurement.cell_voltages_mv.len() == usize::from(self.config.cell_count);
        if plausible == self.measurement_invalid {
            self.measurement_invalid = !plausible;
            let (kind, value) = if plausible {
                (EventKind::Cleared, 0)
            } else {
                (
                    EventKind::Tripped,
                    i32::try_from(measurement.cell_voltages_mv.len()).unwrap_or(i32::MAX),
                )
            };
            // Capacity is RULE_COUNT + 1, so this push cannot fail.
            let _ = events.push(Event {
                kind,
                fault: Fault::MeasurementInvalid,
                cell_index: None,
                value,
                limit: i32::from(self.config.cell_count),
            });
        }

        for (rule, debouncer) in self.rules.iter().zip(self.debouncers.iter_mut()) {
            let reading = if plausible {
                rule.signal.read(measurement)
            } else {
                None
            };
            if let Some(event) = debouncer.update(rule, reading, dt_millis) {
                let _ = events.push(event);
            }
        }

        if plausible {
            self.soc.integrate(measurement.current_ma, dt_millis);
        }

        let mut faults = FaultSet::EMPTY;
        faults.set(Fault::MeasurementInvalid, self.measurement_invalid);
        let mut charge_switch_on = !self.measurement_invalid;
        let mut discharge_switch_on = !self.measurement_invalid;
        for (rule, debouncer) in self.rules.iter().zip(self.debouncers.iter()) {
            if debouncer.tripped() {
                faults.set(rule.fault, true);
                charge_switch_on &= !rule.blocks_charge;
                discharge_switch_on &= !rule.blocks_discharge;
            }
        }

        Outputs {
            charge_switch_on,
            discharge_switch_on,
            faults,
            events,
            soc_permille: self.soc.soc_permille(),
            remaining_mah: self.soc.remaining_mah(),
        }
    }
}
