//! Cellsight's BMS engine.
//!
//! The engine is a pure step function: [`Engine::step`] takes one [`Measurement`] snapshot and
//! the time elapsed since the previous one, and returns [`Outputs`] — what the switches must do,
//! which faults are active, what happened (events) and the state of charge. It never reads a
//! clock, a sensor, a port or a random source, and never allocates, so the same decisions come
//! out on a Cortex-M, on x86 and in WebAssembly.
//!
//! One engine instance serves one module of at most [`MAX_CELLS`] series cells; larger systems
//! run one instance per module.
//!
//! ```
//! use bms_engine::{Engine, Measurement, PackConfig};
//!
//! let config = PackConfig::lfp_280ah(16);
//! let mut engine = Engine::new(config, 500).expect("the default configuration is valid");
//! let cells = [3300_u16; 16];
//! let measurement = Measurement::new(&cells, 10_000).expect("16 cells fit");
//! let outputs = engine.step(&measurement, 1_000);
//! assert!(outputs.charge_switch_on && outputs.discharge_switch_on);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod engine;
mod error;
mod measurement;
pub mod protection;
pub mod protocol;
mod soc;

pub use config::PackConfig;
pub use engine::{Engine, Outputs};
pub use error::Error;
pub use measurement::Measurement;
pub use protection::{Event, EventKind, Fault, FaultSet};

/// Most series cells one engine instance (one module) monitors. Fixed at compile time so that
/// every buffer has a known size.
pub const MAX_CELLS: usize = 32;
