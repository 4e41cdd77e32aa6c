//! Switch logic: back-to-back FETs, or a main contactor with pre-charge sequencing.
//!
//! FETs follow the direction permissions directly: after an over-voltage trip the charge FET
//! opens and the discharge FET stays on, and vice versa. With one FET open, current in the
//! allowed direction still flows through the open FET's body diode, so discharging a tripped-full
//! pack needs no extra logic.
//!
//! A contactor is one switch for both directions. It closes through pre-charge (pre-charge relay
//! on, wait for the bus voltage to come within `voltage_match_mv` of the pack, close the main
//! contactor, drop pre-charge) and opens when neither direction is allowed. A pre-charge that has
//! not matched within its timeout leaves everything open and latches
//! [`crate::Fault::PrechargeFailed`]. With the contactor closed, a direction that is not allowed
//! is stopped by telling the charger or inverter a zero current limit.

use crate::{Measurement, SwitchKind};
use serde::{Deserialize, Serialize};

/// Where the contactor sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContactorState {
    /// Everything open.
    Open,
    /// Pre-charge relay closed, waiting for the bus to match the pack.
    Precharging {
        /// Time spent pre-charging, ms.
        elapsed_ms: u32,
    },
    /// Main contactor closed.
    Closed,
    /// Pre-charge timed out; open until reset.
    Failed,
}

/// What each switch must do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchCommands {
    /// Charge FET on (FET hardware).
    pub charge_fet_on: bool,
    /// Discharge FET on (FET hardware).
    pub discharge_fet_on: bool,
    /// Pre-charge relay closed (contactor hardware).
    pub precharge_on: bool,
    /// Main contactor closed (contactor hardware).
    pub main_contactor_on: bool,
}

/// The switch state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    kind: SwitchKind,
    contactor: ContactorState,
}

impl Switches {
    /// Switches of `kind`, all open.
    pub const fn new(kind: SwitchKind) -> Self {
        Switches {
            kind,
            contactor: ContactorState::Open,
        }
    }

    /// The contactor's state, `None` for FET hardware.
    pub fn contactor(&self) -> Option<ContactorState> {
        match self.kind {
            SwitchKind::Fets => None,
            SwitchKind::Contactor { .. } => Some(self.contactor),
        }
    }

    /// Whether pre-charge has failed (until reset).
    pub fn precharge_failed(&self) -> bool {
        self.contactor == ContactorState::Failed
    }

    /// Clears a failed pre-charge so the next step may try again.
    pub fn reset(&mut self) {
        if self.contactor == ContactorState::Failed {
            self.contactor = ContactorState::Open;
        }
    }

    /// Advances by `dt_millis` given what the protection allows.
    pub fn update(
        &mut self,
        charge_allowed: bool,
        discharge_allowed: bool,
        m: &Measurement,
        dt_millis: u32,
    ) -> SwitchCommands {
        match self.kind {
            SwitchKind::Fets => SwitchCommands {
                charge_fet_on: charge_allowed,
                discharge_fet_on: discharge_allowed,
                ..SwitchCommands::default()
            },
            SwitchKind::Contactor {
                voltage_match_mv,
                precharge_timeout_ms,
            } => {
                let wanted = charge_allowed || discharge_allowed;
                self.contactor = match self.contactor {
                    ContactorState::Failed => ContactorState::Failed,
                    _ if !wanted => ContactorState::Open,
                    ContactorState::Open => ContactorState::Precharging { elapsed_ms: 0 },
                    ContactorState::Precharging { elapsed_ms } => {
                        let elapsed_ms = elapsed_ms.saturating_add(dt_millis);
                        let matched = m.bus_voltage_mv.is_some_and(|bus| {
                            bus.abs_diff(m.pack_voltage_mv()) <= voltage_match_mv
                        });
                        if matched && m.fresh {
                            ContactorState::Closed
                        } else if elapsed_ms >= precharge_timeout_ms {
                            ContactorState::Failed
                        } else {
                            ContactorState::Precharging { elapsed_ms }
                        }
                    }
                    ContactorState::Closed => ContactorState::Closed,
                };
                SwitchCommands {
                    precharge_on: matches!(self.contactor, ContactorState::Precharging { .. }),
                    main_contactor_on: self.contactor == ContactorState::Closed,
                    ..SwitchCommands::default()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contactor() -> Switches {
        Switches::new(SwitchKind::Contactor {
            voltage_match_mv: 1_000,
            precharge_timeout_ms: 3_000,
        })
    }

    fn at(bus_mv: Option<u32>) -> Measurement {
        let mut m = Measurement::new(&[3_300; 16], 0).unwrap();
        m.bus_voltage_mv = bus_mv;
        m
    }

    #[test]
    fn fets_follow_each_direction_independently() {
        let mut s = Switches::new(SwitchKind::Fets);
        let c = s.update(false, true, &at(None), 100);
        assert!(!c.charge_fet_on && c.discharge_fet_on);
        assert!(!c.precharge_on && !c.main_contactor_on);
        assert_eq!(s.contactor(), None);
    }

    #[test]
    fn contactor_precharges_then_closes_when_the_bus_matches() {
        let mut s = contactor();
        let c = s.update(true, true, &at(Some(10_000)), 100);
        assert!(c.precharge_on && !c.main_contactor_on);
        let c = s.update(true, true, &at(Some(40_000)), 100);
        assert!(c.precharge_on, "52.8 V pack vs 40 V bus: keep pre-charging");
        let c = s.update(true, true, &at(Some(52_000)), 100);
        assert!(!c.precharge_on && c.main_contactor_on);
        assert_eq!(s.contactor(), Some(ContactorState::Closed));
        let c = s.update(false, false, &at(Some(52_000)), 100);
        assert!(!c.precharge_on && !c.main_contactor_on);
    }

    #[test]
    fn precharge_timeout_fails_safe_until_reset() {
        let mut s = contactor();
        // Pre-charge starts on the first step: 30 steps of 100 ms reach the 3 s timeout.
        for _ in 0..30 {
            assert!(s.update(true, true, &at(Some(0)), 100).precharge_on);
        }
        let c = s.update(true, true, &at(Some(0)), 100);
        assert_eq!(c, SwitchCommands::default());
        assert!(s.precharge_failed());
        assert_eq!(
            s.update(true, true, &at(Some(52_800)), 100),
            SwitchCommands::default()
        );
        s.reset();
        assert!(s.update(true, true, &at(Some(52_800)), 100).precharge_on);
        assert!(
            s.update(true, true, &at(Some(52_800)), 100)
                .main_contactor_on
        );
    }

    #[test]
    fn a_missing_bus_measurement_never_counts_as_matched() {
        let mut s = contactor();
        for _ in 0..40 {
            assert!(!s.update(true, true, &at(None), 100).main_contactor_on);
        }
        assert!(s.precharge_failed());
    }
}
