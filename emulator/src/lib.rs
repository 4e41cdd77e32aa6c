//! A LiFePO4 pack and the solar home around it, in closed loop with the Cellsight engine.
//!
//! Everything is deterministic from an explicit seed: the same seed, scenario and pack size give
//! the same run, bit for bit, natively and in the browser.
//!
//! The loop, once per simulated second ([`Simulation::step`]):
//! scenario (PV, load, charger) → [`Pack`] (true state) → [`Sensors`] → [`bms_engine::Measurement`]
//! → [`bms_engine::Engine::step`] → switch commands → back to the pack.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bank;
mod cell;
pub mod csv;
mod device;
mod error;
pub mod faults;
mod pack;
pub mod replay;
mod scenario;
mod sensors;
mod simulation;

pub use bank::{Bank, BankSummary};
pub use cell::{CellModel, CellParams, Cells};
pub use device::EmulatedDevice;
pub use error::Error;
pub use faults::InjectedFault;
pub use pack::{Contactor, Pack};
pub use scenario::Scenario;
pub use sensors::{SensorParams, Sensors};
pub use simulation::{
    Alert, MAX_AGE_YEARS, MAX_PACK_SOC_STEP_PCT, MAX_PARALLEL, PowerFlow, Simulation,
    SimulationConfig, Summary, Trip, in_service_text,
};
