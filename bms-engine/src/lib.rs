//! Cellsight's BMS engine.
//!
//! The engine is a pure step function: [`Engine::step`] takes one [`Measurement`] snapshot and
//! the time elapsed since the previous one, and returns [`Outputs`] — what the switches must do,
//! which faults are active at which level, what happened (events), the limits for the charger
//! and inverter, balancing, heater and fan, and the state of charge. It never reads a clock, a
//! sensor, a port or a random source, and never allocates, so the same decisions come out on a
//! Cortex-M, on x86 and in WebAssembly.
//!
//! One engine instance serves one module of at most [`MAX_CELLS`] series cells and
//! [`MAX_TEMPERATURES`] temperature sensors; larger systems run one instance per module.
//!
//! ```
//! use bms_engine::{Engine, Measurement, PackConfig};
//!
//! let config = PackConfig::lfp_280ah(16);
//! let mut engine = Engine::new(config, 500).expect("the default configuration is valid");
//! let measurement = Measurement::new(&[3300_u16; 16], 10_000)
//!     .and_then(|m| m.with_temperatures(&[Some(250), Some(252)]))
//!     .expect("16 cells and 2 sensors fit");
//! let outputs = engine.step(&measurement, 1_000);
//! assert!(outputs.charge_switch_on && outputs.discharge_switch_on);
//! assert_eq!(outputs.limits.charge_voltage_mv, 16 * 3_450);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod balancing;
pub mod can;
pub mod config;
mod engine;
mod error;
pub mod estimation;
pub mod event_log;
pub mod limits;
mod math;
mod measurement;
pub mod protection;
pub mod protocol;
pub mod self_discharge;
pub mod switches;
pub mod system;
pub mod thermal;

pub use config::{BalancerKind, GradedLimit, PackConfig, SwitchKind, Violation};
pub use engine::{Engine, MAX_EVENTS_PER_STEP, Outputs, STANDBY_AFTER_MS};
pub use error::Error;
pub use measurement::{Extremes, Measurement, deci_c_from_celsius};
pub use protection::{Event, EventKind, Fault, FaultSet, Level};

/// Most series cells one engine instance (one module) monitors. Fixed at compile time so that
/// every buffer has a known size.
pub const MAX_CELLS: usize = 32;

/// Most temperature sensors one engine instance reads.
pub const MAX_TEMPERATURES: usize = 8;

/// The median of the finite ones of `values` (at most [`MAX_CELLS`] are read; `None` when
/// none is finite). An insertion sort on a copy: few values, and far less flash than the
/// library's sort.
pub(crate) fn median(values: &[f32]) -> Option<f32> {
    let mut sorted = [0.0_f32; MAX_CELLS];
    let mut n = 0;
    for (slot, &v) in sorted
        .iter_mut()
        .zip(values.iter().filter(|v| v.is_finite()))
    {
        *slot = v;
        n += 1;
    }
    let sorted = sorted.get_mut(..n)?;
    for k in 1..sorted.len() {
        let mut j = k;
        while j > 0 && sorted.get(j - 1) > sorted.get(j) {
            sorted.swap(j - 1, j);
            j -= 1;
        }
    }
    let half = n / 2;
    let at = |k: usize| sorted.get(k).copied();
    if n % 2 == 1 {
        at(half)
    } else {
        Some(0.5 * (at(half.checked_sub(1)?)? + at(half)?))
    }
}
