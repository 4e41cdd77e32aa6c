//! The emulator's error type: invalid set-up, never a battery fault (those are engine outputs).

use std::fmt;

/// What can be wrong with a simulation's set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No scenario has this name.
    UnknownScenario {
        /// The name asked for.
        name: String,
    },
    /// The pack size is outside what one engine instance monitors.
    CellCount {
        /// The count asked for.
        given: usize,
    },
    /// The number of cells in parallel is outside 1 ..= [`crate::MAX_PARALLEL`].
    Parallel {
        /// The count asked for.
        given: usize,
    },
    /// The number of packs in a bank is outside 1 ..= [`crate::bank::MAX_PACKS`].
    Packs {
        /// The count asked for.
        given: usize,
    },
    /// The scenario is about packs in parallel and was given fewer than it needs
    /// ([`crate::Scenario::min_packs`]).
    TooFewPacks {
        /// The scenario's name.
        scenario: &'static str,
        /// The packs asked for.
        given: usize,
        /// The fewest it runs with.
        min: usize,
    },
    /// The step between packs' starting SOCs is beyond
    /// [`crate::simulation::MAX_PACK_SOC_STEP_PCT`].
    PackSocStep {
        /// The step asked for, points.
        given: u8,
    },
    /// A pack's years of service are beyond [`crate::simulation::MAX_AGE_YEARS`] (for a bank:
    /// its oldest pack's, with the step between packs' ages).
    Age {
        /// The years asked for.
        given: u32,
    },
    /// A cell parameter file is malformed or breaks a rule.
    Params {
        /// What is wrong, and where.
        reason: String,
    },
    /// The engine refused the configuration derived from the set-up.
    Engine(bms_engine::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownScenario { name } => {
                let names: Vec<&str> = crate::Scenario::ALL.iter().map(|s| s.name()).collect();
                write!(
                    f,
                    "unknown scenario `{name}`; known scenarios: {}",
                    names.join(", ")
                )
            }
            Error::CellCount { given } => write!(
                f,
                "a pack of {given} cells is not supported: use 1 to {} series cells",
                bms_engine::MAX_CELLS
            ),
            Error::Parallel { given } => write!(
                f,
                "{given} cells in parallel is not supported: use 1 to {}",
                crate::MAX_PARALLEL
            ),
            Error::Packs { given } => write!(
                f,
                "a bank of {given} packs is not supported: use 1 to {} packs in parallel",
                crate::bank::MAX_PACKS
            ),
            Error::TooFewPacks {
                scenario,
                given,
                min,
            } => write!(
                f,
                "scenario `{scenario}` needs {min} or more packs in parallel, not {given}: it is \
                 about a pack the packs beside it must notice"
            ),
            Error::PackSocStep { given } => write!(
                f,
                "packs {given} SOC points apart are not supported: use 0 to {}",
                crate::simulation::MAX_PACK_SOC_STEP_PCT
            ),
            Error::Age { given } => write!(
                f,
                "a pack {given} years in service is not supported: use 0 to {} years (in a bank, \
                 for the oldest pack)",
                crate::simulation::MAX_AGE_YEARS
            ),
            Error::Params { reason } => write!(f, "cell parameters: {reason}"),
            Error::Engine(e) => write!(f, "engine rejected the set-up: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<bms_engine::Error> for Error {
    fn from(e: bms_engine::Error) -> Self {
        Error::Engine(e)
    }
}
