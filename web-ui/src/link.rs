//! The emulated device as a byte source, with its clock, and what the page's address asks of
//! it. Real devices are reached in `serial.rs` and `bluetooth.rs`; their bytes take the same
//! path into the session.

use emulator::{EmulatedDevice, Scenario, SimulationConfig};

/// Wall-clock milliseconds between updates.
pub const TICK_MILLIS: u32 = 500;
/// The speeds the console offers, × real time: up to a day a second, so that a trainer can
/// show a month of solar days in half a minute and the year of `aging-pack` in six.
pub const SPEEDS: [u32; 7] = [1, 10, 60, 600, 3600, 21_600, 86_400];
/// Most telemetry reports the emulator sends per real second. Up to 3600× it reports every
/// simulated second, as a device does; faster, every `speed / 3600` simulated seconds, so the
/// page decodes no more reports at a day a second than at an hour a second (the history keeps
/// a long run at a resolution coarser than that anyway).
pub const REPORTS_PER_REAL_SECOND: u32 = 3600;
/// The wall-clock time a tick may spend stepping the emulator, ms. A pack too large for the
/// speed asked stops there and the rest of the tick's simulated time is dropped, so commands
/// (pause, a fault) are still heard within a tick; the status then says what speed is reached.
pub const STEP_BUDGET_MILLIS: f64 = 350.0;
/// The speed a visit starts at, × real time.
pub const DEFAULT_SPEED: u32 = 60;
/// "Run to the next event" gives up after this long, simulated seconds (a week).
pub const NEXT_EVENT_LIMIT_SECS: u64 = 7 * 86_400;
/// … and looks at most this far ahead per tick (as far as a day a second runs), an hour at a
/// time within [`STEP_BUDGET_MILLIS`], so the page stays responsive while it searches.
pub const SEEK_SECS_PER_TICK: u64 = 12 * 3600;
/// The stretch searched between looks at the clock, s (a report each, for the history).
const SEEK_CHUNK_SECS: u64 = 3600;

/// How much simulated time a real second holds at `speed`, in words: "1 h" at 3600×,
/// "1 day" at 86 400×; `None` below a minute a second, where "10×" says it plainly.
pub fn pace(speed: u32) -> Option<String> {
    let (unit_secs, unit) = match speed {
        86_400.. => (86_400, "day"),
        3_600.. => (3_600, "h"),
        60.. => (60, "min"),
        _ => return None,
    };
    let n = f64::from(speed) / f64::from(unit_secs);
    let n = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    };
    Some(if unit == "day" && n != "1" {
        format!("{n} days")
    } else {
        format!("{n} {unit}")
    })
}

/// The speed select's words for `speed`: "3600× · 1 h/s".
pub fn speed_label(speed: u32) -> String {
    match pace(speed) {
        Some(p) => format!("{speed}× · {p}/s"),
        None => format!("{speed}×"),
    }
}

/// The emulator banner's words for the clock's speed, with what is reached when the pack is
/// too large to step at the speed asked.
pub fn speed_text(speed: u32, reached: Option<u32>) -> String {
    let asked = match pace(speed) {
        Some(p) => format!("{speed}× real time ({p} a second)"),
        None => format!("{speed}× real time"),
    };
    match reached {
        Some(r) => {
            format!("{asked}: reaching {r}×, as fast as this computer steps a pack this large")
        }
        None => asked,
    }
}

/// What the emulated pack truly was when the device sent a telemetry report: what the BMS's
/// estimates are after, drawn beside them in emulator mode.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Truth {
    /// Device time, s, as [`crate::history::HistoryPoint`] reads it from the report.
    pub time_s: f64,
    /// State of charge (mean of the cells), %.
    pub soc_pct: f32,
    /// State of health (the weakest cell's capacity over nominal), %.
    pub soh_pct: f32,
}

/// Every pack of a bank when the device sent a telemetry report: what the bank's history
/// draws.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BankPoint {
    /// Emulated time since the run started, s.
    pub time_s: f64,
    /// Each pack's SOC as its BMS tells it, %, and its current as its BMS measures it, A
    /// (charging positive), pack 1 first.
    pub packs: Vec<(f32, f32)>,
}

/// Where a "run to the next event" stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Seek {
    /// Still looking; this many simulated seconds left before giving up.
    Running {
        /// Seconds left.
        left_secs: u64,
    },
    /// Stopped at an event.
    Found,
    /// No event within the limit.
    NotFound,
}

/// The default demo set-up.
pub const DEMO: SimulationConfig = SimulationConfig::new(Scenario::SolarDay, 1, 16);

/// Reads the emulator set-up from a page query such as `?scenario=overcharge&seed=3&cells=8`
/// (each optional; the rest from [`DEMO`]). Unknown keys are ignored; a bad value is an error
/// that names it and what is accepted.
pub fn config_from_query(query: &str) -> Result<SimulationConfig, String> {
    let mut config = DEMO;
    let mut packs = None;
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // A whole number from 1 to `max`, or an error naming the key, the value and the range.
        let count = |max: usize, what: &str| {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{key} `{value}`: use 1 to {max} {what}"))
        };
        match key {
            "scenario" => {
                config.scenario = Scenario::from_name(value).map_err(|e| e.to_string())?;
            }
            "seed" => {
                config.seed = value
                    .parse()
                    .map_err(|_| format!("seed `{value}` is not a whole number 0..2^64"))?;
            }
            "cells" => config.cell_count = count(bms_engine::MAX_CELLS, "series cells")?,
            "parallel" => {
                config.parallel = count(emulator::MAX_PARALLEL, "cells in parallel")?;
            }
            "module-cells" => {
                config.module_cells = count(bms_engine::MAX_CELLS, "series groups per module")?;
            }
            "packs" => packs = Some(count(emulator::bank::MAX_PACKS, "packs in parallel")?),
            "pack-soc-step" => {
                config.pack_soc_step_pct = value
                    .parse()
                    .ok()
                    .filter(|p| *p <= emulator::MAX_PACK_SOC_STEP_PCT)
                    .ok_or_else(|| {
                        format!(
                            "pack-soc-step `{value}`: use 0 to {} SOC points between packs",
                            emulator::MAX_PACK_SOC_STEP_PCT
                        )
                    })?;
            }
            "age" | "pack-age-step" => {
                let years = value
                    .parse()
                    .ok()
                    .filter(|y| *y <= emulator::MAX_AGE_YEARS)
                    .ok_or_else(|| {
                        format!(
                            "{key} `{value}`: use 0 to {} years in service",
                            emulator::MAX_AGE_YEARS
                        )
                    })?;
                if key == "age" {
                    config.age_years = years;
                } else {
                    config.pack_age_step_years = years;
                }
            }
            _ => {}
        }
    }
    // Without `packs`, as many as the scenario runs with (three for a bank's scenario).
    config.packs = packs.unwrap_or(config.scenario.default_packs());
    config.check_packs().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The recording a page query such as `?replay=3` asks to play back, if any; a value that is
/// not a recording number is an error that says so.
pub fn replay_from_query(query: &str) -> Result<Option<u32>, String> {
    for pair in query.trim_start_matches('?').split('&') {
        if let Some(value) = pair.strip_prefix("replay=") {
            return value
                .parse()
                .map(Some)
                .map_err(|_| format!("replay `{value}` is not a recording number"));
        }
    }
    Ok(None)
}

/// How a running emulator is named in the list of recordings; `pack` (0-based) is the pack of
/// a bank whose BMS the device is.
pub fn source_text(config: &SimulationConfig, pack: usize) -> String {
    let mut text = format!(
        "emulator: {}, seed {}, {} cells",
        config.scenario.name(),
        config.seed,
        config.cell_count
    );
    if config.parallel > 1 {
        text.push_str(&format!(" × {} in parallel", config.parallel));
    }
    if config.packs > 1 {
        text.push_str(&format!(
            ", pack {} of {} in parallel",
            pack + 1,
            config.packs
        ));
    }
    if let Some(years) = emulator::in_service_text(config.pack_age_years(pack)) {
        text.push_str(", ");
        text.push_str(&years);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_the_recording_to_replay() {
        assert_eq!(replay_from_query("?replay=3&seed=2"), Ok(Some(3)));
        assert_eq!(replay_from_query("?seed=2"), Ok(None));
        let e = replay_from_query("?replay=x").unwrap_err();
        assert!(e.contains("replay `x`"), "{e}");
    }

    #[test]
    fn query_picks_scenario_seed_and_cells() {
        assert_eq!(config_from_query(""), Ok(DEMO));
        let c = config_from_query("?scenario=overcharge&seed=3&cells=8&utm=x").unwrap();
        assert_eq!(c.scenario, Scenario::Overcharge);
        assert_eq!((c.seed, c.cell_count), (3, 8));
        let c = config_from_query("?cells=32&parallel=2&module-cells=8").unwrap();
        assert_eq!(c.topology(), "32s2p in 4 modules");
        assert_eq!(config_from_query("?packs=3").map(|c| c.packs), Ok(3));
        let aged = config_from_query("?packs=3&pack-age-step=5&age=2").unwrap();
        assert_eq!((aged.age_years, aged.pack_age_step_years), (2, 5));
        assert_eq!(
            source_text(&aged, 2),
            "emulator: solar-day, seed 1, 16 cells, pack 3 of 3 in parallel, 12 years in service"
        );
        let e = config_from_query("?age=21").unwrap_err();
        assert!(e.contains("age `21`: use 0 to 20 years in service"), "{e}");
        let apart = config_from_query("?packs=3&pack-soc-step=10").unwrap();
        assert_eq!((apart.packs, apart.pack_soc_step_pct), (3, 10));
        assert_eq!(
            source_text(&config_from_query("?packs=3").unwrap(), 1),
            "emulator: solar-day, seed 1, 16 cells, pack 2 of 3 in parallel"
        );
    }

    #[test]
    fn a_banks_scenario_brings_its_packs_and_refuses_one() {
        let bank = config_from_query("?scenario=fault-bus-disconnected").unwrap();
        assert_eq!(bank.packs, 3);
        let two = config_from_query("?packs=2&scenario=fault-bus-disconnected").unwrap();
        assert_eq!(two.packs, 2);
        assert_eq!(
            config_from_query("?scenario=fault-bus-disconnected&packs=1"),
            Err(
                "scenario `fault-bus-disconnected` needs 2 or more packs in parallel, not 1: it \
                 is about a pack the packs beside it must notice"
                    .to_owned()
            )
        );
    }

    fn frames(bytes: &[u8]) -> Vec<bms_engine::protocol::DeviceMessage> {
        let mut decoder = bms_engine::protocol::FrameDecoder::new();
        let mut out = Vec::new();
        decoder.feed(bytes, |r| out.extend(r.ok()));
        out
    }

    #[test]
    fn speeds_are_said_in_simulated_time_per_second() {
        let labels: Vec<String> = SPEEDS.iter().map(|&s| speed_label(s)).collect();
        assert_eq!(
            labels,
            [
                "1×",
                "10×",
                "60× · 1 min/s",
                "600× · 10 min/s",
                "3600× · 1 h/s",
                "21600× · 6 h/s",
                "86400× · 1 day/s"
            ]
        );
        assert_eq!(pace(172_800).as_deref(), Some("2 days"));
        assert_eq!(pace(5_400).as_deref(), Some("1.5 h"));
        assert_eq!(speed_text(10, None), "10× real time");
        assert_eq!(
            speed_text(86_400, Some(30_000)),
            "86400× real time (1 day a second): reaching 30000×, as fast as this computer \
             steps a pack this large"
        );
    }

    #[test]
    fn above_an_hour_a_second_reports_thin_out_and_a_slow_tick_says_what_it_reached() {
        let count = |bytes: &[u8]| {
            frames(bytes)
                .iter()
                .filter(|m| matches!(m, bms_engine::protocol::DeviceMessage::Telemetry(_)))
                .count()
        };
        let mut link = EmulatedLink::demo().unwrap();
        link.poll();
        link.set_speed(3600);
        assert_eq!(count(&link.poll()), 1800, "one report a simulated second");
        link.set_speed(86_400);
        let before = link.elapsed_secs();
        let bytes = link.poll();
        assert_eq!(
            link.elapsed_secs() - before,
            43_200,
            "half a day in half a second"
        );
        assert_eq!(count(&bytes), 1800, "one report every 24 simulated seconds");
        assert_eq!(link.reached_speed(), None);
        // A tick that runs out of time after 100 reports: 2400 s stepped, in half a second.
        let before = link.elapsed_secs();
        let mut asked = 0;
        let bytes = link.poll_within(|| {
            asked += 1;
            asked >= 100
        });
        assert_eq!(link.elapsed_secs() - before, 2_400);
        assert_eq!(count(&bytes), 100);
        assert_eq!(link.reached_speed(), Some(4_800));
        // The time not stepped is dropped, not owed: the next tick starts afresh.
        let before = link.elapsed_secs();
        link.poll();
        assert_eq!(link.elapsed_secs() - before, 43_200);
        assert_eq!(link.reached_speed(), None);
    }

    #[test]
    fn the_clock_follows_the_speed_and_stands_still_when_paused() {
        let mut link = EmulatedLink::demo().unwrap();
        assert_eq!(link.speed(), DEFAULT_SPEED);
        link.poll();
        assert_eq!(link.elapsed_secs(), 30, "60× for half a second");
        link.set_speed(1);
        link.poll();
        link.poll();
        assert_eq!(link.elapsed_secs(), 31, "1×: one second in two ticks");
        link.set_speed(3600);
        link.poll();
        assert_eq!(link.elapsed_secs(), 31 + 1800);
        link.set_paused(true);
        let bytes = link.poll();
        assert_eq!(link.elapsed_secs(), 1831, "paused");
        assert!(
            matches!(
                frames(&bytes).first(),
                Some(bms_engine::protocol::DeviceMessage::Telemetry(_))
            ),
            "a paused device still reports"
        );
        link.step();
        assert_eq!(link.elapsed_secs(), 1832, "one step is one second");
        assert!(link.paused());
    }

    #[test]
    fn run_to_next_event_stops_at_the_event_and_injected_faults_show() {
        let mut link = EmulatedLink::demo().unwrap();
        link.poll();
        link.set_paused(true);
        link.inject(emulator::InjectedFault::OpenSenseWire { cell: 3 });
        link.run_to_next_event();
        let bytes = link.poll();
        assert_eq!(link.seek(), Some(Seek::Found));
        assert!(link.paused());
        let event = frames(&bytes).into_iter().find_map(|m| match m {
            bms_engine::protocol::DeviceMessage::Event { event, .. } => Some(event),
            _ => None,
        });
        assert_eq!(event.map(|e| e.fault), Some(bms_engine::Fault::OpenWire));
        // The open wire trips within seconds of the injection, not a simulated week later.
        assert!(link.elapsed_secs() < 60, "{}", link.elapsed_secs());
        // Nothing more happens on a quiet night: the search gives up after a week, in steps.
        let mut quiet =
            EmulatedLink::new(SimulationConfig::new(Scenario::CloudyWeek, 1, 4)).unwrap();
        quiet.run_to_next_event();
        let mut ticks = 0;
        while matches!(quiet.seek(), Some(Seek::Running { .. })) && ticks < 100 {
            quiet.poll();
            ticks += 1;
        }
        assert!(ticks > 1, "searched over several ticks");
        assert!(matches!(quiet.seek(), Some(Seek::Found | Seek::NotFound)));
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
        let e = config_from_query("?packs=9").unwrap_err();
        assert!(e.contains("packs `9`: use 1 to 8 packs in parallel"), "{e}");
        let e = config_from_query("?pack-soc-step=50").unwrap_err();
        assert!(e.contains("pack-soc-step `50`: use 0 to 40"), "{e}");
    }
}

/// The emulated pack as a byte source: it produces exactly the frames a Cellsight device
/// would send over a serial port.
#[derive(Debug)]
pub struct EmulatedLink {
    device: EmulatedDevice,
    greeted: bool,
    speed: u32,
    paused: bool,
    /// Simulated seconds owed to the clock (speeds below 2× advance less than a second a tick).
    owed_secs: f64,
    /// The last "run to the next event", if any since the last other command.
    seek: Option<Seek>,
    /// The speed the last tick reached when it could not keep up with `speed`.
    reached: Option<u32>,
    /// The truth at each telemetry report sent since the last [`EmulatedLink::take_truth`].
    truth: Vec<Truth>,
    /// With packs in parallel, every pack at each report sent since the last
    /// [`EmulatedLink::take_bank_points`].
    bank_points: Vec<BankPoint>,
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
            speed: DEFAULT_SPEED,
            paused: false,
            owed_secs: 0.0,
            seek: None,
            reached: None,
            truth: Vec::new(),
            bank_points: Vec::new(),
        })
    }

    /// The set-up running.
    pub fn config(&self) -> SimulationConfig {
        *self.device.config()
    }

    /// Speed, × real time.
    pub fn speed(&self) -> u32 {
        self.speed
    }

    /// Sets the speed (× real time, at least 1).
    pub fn set_speed(&mut self, speed: u32) {
        self.speed = speed.max(1);
        self.seek = None;
        self.reached = None;
    }

    /// The speed the last tick reached, × real time, when stepping the pack took longer than
    /// [`STEP_BUDGET_MILLIS`] allows at the speed asked; `None` while it keeps up.
    pub fn reached_speed(&self) -> Option<u32> {
        self.reached
    }

    /// Whether the clock stands still.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Stops or restarts the clock. While paused the device keeps reporting, unchanged.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.owed_secs = 0.0;
        self.seek = None;
        self.reached = None;
    }

    /// Advances one engine step (one simulated second) and pauses; returns what the device sent.
    pub fn step(&mut self) -> Vec<u8> {
        self.set_paused(true);
        let mut bytes = self.greeting();
        bytes.extend(self.advance(1));
        bytes
    }

    /// The device's report after `secs` more seconds, its truth noted for the history.
    fn advance(&mut self, secs: u64) -> Vec<u8> {
        let bytes = self.device.advance(secs);
        self.note_truth();
        bytes
    }

    fn note_truth(&mut self) {
        let sim = self.device.simulation();
        self.truth.push(Truth {
            time_s: sim.engine().uptime_ms() as f64 / 1000.0,
            soc_pct: (sim.pack().soc() * 100.0) as f32,
            soh_pct: sim.true_soh_pct() as f32,
        });
        if let Some(bank) = self.device.bank() {
            self.bank_points.push(BankPoint {
                time_s: bank.time_s() as f64,
                packs: bank
                    .packs()
                    .iter()
                    .map(|p| {
                        (
                            f32::from(p.outputs().soc_permille) / 10.0,
                            p.measurement().current_ma as f32 / 1000.0,
                        )
                    })
                    .collect(),
            });
        }
    }

    /// Every pack of a bank at each report sent since the last call, oldest first; empty for
    /// a pack on its own. The bank's history draws them.
    pub fn take_bank_points(&mut self) -> Vec<BankPoint> {
        std::mem::take(&mut self.bank_points)
    }

    /// The truth at each report sent since the last call, oldest first. The history draws
    /// it beside the estimates from these, a point for every report at any speed.
    pub fn take_truth(&mut self) -> Vec<Truth> {
        std::mem::take(&mut self.truth)
    }

    /// Starts running until the BMS records an event (at most a simulated week, searched a
    /// few hours per tick); the link pauses at the event. See [`EmulatedLink::seek`].
    pub fn run_to_next_event(&mut self) {
        self.set_paused(true);
        self.seek = Some(Seek::Running {
            left_secs: NEXT_EVENT_LIMIT_SECS,
        });
    }

    /// Where the last "run to the next event" stands.
    pub fn seek(&self) -> Option<Seek> {
        self.seek
    }

    /// Injects `fault` into the emulated pack now.
    pub fn inject(&mut self, fault: emulator::InjectedFault) {
        self.device.inject(fault);
        self.seek = None;
    }

    /// Simulated seconds since the start.
    pub fn elapsed_secs(&self) -> u64 {
        self.device.simulation().time_s()
    }

    fn greeting(&mut self) -> Vec<u8> {
        if self.greeted {
            return Vec::new();
        }
        self.greeted = true;
        self.device.hello()
    }

    /// The scenario running.
    pub fn scenario(&self) -> Scenario {
        self.device.config().scenario
    }

    /// Emulated time of day, seconds after midnight (for the emulator console).
    pub fn time_of_day_secs(&self) -> u64 {
        self.device.simulation().time_of_day_secs()
    }

    /// The current that truly flows in the emulated pack, A (the BMS sees it through a sensor
    /// with offset, gain error and noise).
    pub fn true_current_a(&self) -> f64 {
        self.device.simulation().current_a()
    }

    /// What the emulated current sensor reads above the true current, A (its offset and drift).
    pub fn true_current_offset_a(&self) -> f64 {
        self.device.simulation().current_sensor_offset_a()
    }

    /// The coldest and hottest true cell temperature, °C (the BMS sees only its sensors).
    pub fn true_temperature_range_c(&self) -> (f64, f64) {
        self.device.simulation().pack().temperature_range_c()
    }

    /// Where power flows in the emulated home now (PV, house, battery, grid): the whole
    /// bank's when packs run in parallel.
    pub fn power_flow(&self) -> emulator::PowerFlow {
        self.device.power_flow()
    }

    /// Every pack's latest telemetry frame when packs run in parallel, pack 1 first (the
    /// stream is the selected pack's); empty for a pack on its own.
    pub fn pack_frames(&self) -> Vec<Vec<u8>> {
        self.device.pack_frames()
    }

    /// With packs in parallel, every pack's part of the bank's changes as the emulated bank's
    /// controller has measured them (see `emulator::Bank::pack_parts`); empty otherwise.
    pub fn pack_parts(&self) -> Vec<(Option<u16>, Option<u16>)> {
        self.device.pack_parts()
    }

    /// Makes the device the BMS of pack `pack` (0-based) of the bank, as if the host were
    /// plugged into that pack instead: it greets again, then sends that pack's reports and
    /// event log. `false` (nothing changes) for a pack the bank lacks.
    pub fn select_pack(&mut self, pack: usize) -> bool {
        let selected = self.device.select_pack(pack);
        if selected {
            self.greeted = false;
            self.truth.clear();
            self.seek = None;
        }
        selected
    }

    /// The pack whose BMS the device is, 0-based.
    pub fn pack(&self) -> usize {
        self.device.pack()
    }

    /// The emulated pack's true state of charge (mean of the cells), %: what the BMS's
    /// estimate is trying to find, shown beside it in emulator mode.
    pub fn true_soc_pct(&self) -> f64 {
        self.device.simulation().pack().soc() * 100.0
    }

    /// Hands the device bytes from the host (configuration requests…); returns its answer.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.device.receive(bytes)
    }

    /// Bytes the device sent since the last poll (one tick of [`TICK_MILLIS`]): its greeting
    /// first, then the telemetry reports (after advancing by the speed unless paused) and any
    /// new events. No limit on the time it takes: see [`EmulatedLink::poll_within`].
    pub fn poll(&mut self) -> Vec<u8> {
        self.poll_within(|| false)
    }

    /// [`EmulatedLink::poll`], stopping early once `out_of_time` says so (it is asked after
    /// each report): the simulated time left over is dropped and
    /// [`EmulatedLink::reached_speed`] says what was reached.
    pub fn poll_within(&mut self, mut out_of_time: impl FnMut() -> bool) -> Vec<u8> {
        let mut bytes = self.greeting();
        if let Some(Seek::Running { left_secs }) = self.seek {
            let before = self.elapsed_secs();
            let ahead = left_secs.min(SEEK_SECS_PER_TICK);
            let mut found = false;
            while !found {
                let searched = self.elapsed_secs() - before;
                let (sent, event) = self
                    .device
                    .advance_to_next_event(SEEK_CHUNK_SECS.min(ahead - searched));
                self.note_truth();
                bytes.extend(sent);
                found = event;
                if self.elapsed_secs() - before >= ahead || out_of_time() {
                    break;
                }
            }
            let left_secs = left_secs.saturating_sub(self.elapsed_secs() - before);
            self.seek = Some(match (found, left_secs) {
                (true, _) => Seek::Found,
                (false, 0) => Seek::NotFound,
                (false, left_secs) => Seek::Running { left_secs },
            });
            return bytes;
        }
        let secs = if self.paused {
            0
        } else {
            self.owed_secs += f64::from(self.speed) * f64::from(TICK_MILLIS) / 1000.0;
            let whole = self.owed_secs.floor();
            self.owed_secs -= whole;
            whole as u64
        };
        if secs == 0 {
            bytes.extend(self.advance(0));
            return bytes;
        }
        let every = u64::from((self.speed / REPORTS_PER_REAL_SECOND).max(1));
        let mut done = 0;
        while done < secs {
            let chunk = every.min(secs - done);
            bytes.extend(self.advance(chunk));
            done += chunk;
            if done < secs && out_of_time() {
                self.owed_secs = 0.0;
                break;
            }
        }
        self.reached = (done < secs).then(|| (done * 1000 / u64::from(TICK_MILLIS)) as u32);
        bytes
    }
}
