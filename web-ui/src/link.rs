//! Where bytes come from. Today one source, the emulated device running inside the page; real
//! devices (Web Serial, Web Bluetooth) join here behind a common trait when they arrive.

use emulator::{EmulatedDevice, Scenario, SimulationConfig};

/// Simulated seconds per update of the emulated device.
pub const EMULATED_SECS_PER_TICK: u64 = 60;
/// Wall-clock milliseconds between updates.
pub const TICK_MILLIS: u32 = 500;

/// The default demo set-up.
pub const DEMO: SimulationConfig = SimulationConfig::new(Scenario::SolarDay, 1, 16);

/// Reads the emulator set-up from a page query such as `?scenario=overcharge&seed=3&cells=8`
/// (each optional; the rest from [`DEMO`]). Unknown keys are ignored; a bad value is an error
/// that names it and what is accepted.
pub fn config_from_query(query: &str) -> Result<SimulationConfig, String> {
    let mut config = DEMO;
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "scenario" => {
                config.scenario = Scenario::from_name(value).map_err(|e| e.to_string())?;
            }
            "seed" => {
                config.seed = value
                    .parse()
                    .map_err(|_| format!("seed `{value}` is not a whole number 0..2^64"))?;
            }
            "cells" => {
                config.cell_count = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=bms_engine::MAX_CELLS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "cells `{value}`: use 1 to {} series cells",
                            bms_engine::MAX_CELLS
                        )
                    })?;
            }
            "parallel" => {
                config.parallel = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=emulator::MAX_PARALLEL).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "parallel `{value}`: use 1 to {} cells in parallel",
                            emulator::MAX_PARALLEL
                        )
                    })?;
            }
            "module-cells" => {
                config.module_cells = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=bms_engine::MAX_CELLS).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "module-cells `{value}`: use 1 to {} series groups per module",
                            bms_engine::MAX_CELLS
                        )
                    })?;
            }
            _ => {}
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_picks_scenario_seed_and_cells() {
        assert_eq!(config_from_query(""), Ok(DEMO));
        let c = config_from_query("?scenario=overcharge&seed=3&cells=8&utm=x").unwrap();
        assert_eq!(c.scenario, Scenario::Overcharge);
        assert_eq!((c.seed, c.cell_count), (3, 8));
        let c = config_from_query("?cells=32&parallel=2&module-cells=8").unwrap();
        assert_eq!(c.topology(), "32s2p in 4 modules");
    }

    #[test]
    fn bad_values_are_named() {
        let e = config_from_query("?scenario=sunny").unwrap_err();
        assert!(e.contains("`sunny`") && e.contains("solar-day"), "{e}");
        let e = config_from_query("?cells=40").unwrap_err();
        assert!(e.contains("cells `40`"), "{e}");
        let e = config_from_query("?seed=-1").unwrap_err();
        assert!(e.contains("seed `-1`"), "{e}");
        let e = config_from_query("?parallel=0").unwrap_err();
        assert!(e.contains("parallel `0`"), "{e}");
    }
}

/// The emulated pack as a byte source: it produces exactly the frames a Cellsight device
/// would send over a serial port.
#[derive(Debug)]
pub struct EmulatedLink {
    device: EmulatedDevice,
    greeted: bool,
}

impl EmulatedLink {
    /// The default demo: a 16-cell pack on a sunny day, seed 1.
    pub fn demo() -> Result<Self, emulator::Error> {
        Self::new(DEMO)
    }

    /// A device running `config`.
    pub fn new(config: SimulationConfig) -> Result<Self, emulator::Error> {
        Ok(EmulatedLink {
            device: EmulatedDevice::new(config)?,
            greeted: false,
        })
    }

    /// The scenario running.
    pub fn scenario(&self) -> Scenario {
        self.device.simulation().config().scenario
    }

    /// Emulated time of day, seconds after midnight (for the emulator console).
    pub fn time_of_day_secs(&self) -> u64 {
        self.device.simulation().time_of_day_secs()
    }

    /// The emulated pack's true state of charge (mean of the cells), %: what the BMS's
    /// estimate is trying to find, shown beside it in emulator mode.
    pub fn true_soc_pct(&self) -> f64 {
        self.device.simulation().pack().soc() * 100.0
    }

    /// Bytes the device sent since the last poll: its greeting first, then one telemetry frame
    /// per tick.
    pub fn poll(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if !self.greeted {
            self.greeted = true;
            bytes.extend(self.device.hello());
        }
        bytes.extend(self.device.advance(EMULATED_SECS_PER_TICK));
        bytes
    }
}
