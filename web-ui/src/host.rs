//! The emulated device as a host that takes commands and sends reports: the same code runs in
//! the emulator's Web Worker ([`crate::worker`]) and, where a worker cannot start, in the page.
//! Plain Rust, tested natively.
//!
//! Commands are the console's (start, restart, speed, pause, one step, run to the next event,
//! inject a fault); each report carries the bytes the device sent — the only thing the session
//! sees — and, for the emulator console and the truth panel, what the emulator knows besides.

use crate::link::{EmulatedLink, Seek};
use emulator::{InjectedFault, PowerFlow, Scenario, SimulationConfig};
use serde::{Deserialize, Serialize};

/// What the console asks of the emulated device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Start (or restart) with this set-up; `run` numbers the run, so that reports from an
    /// earlier run still in flight can be told apart and dropped.
    Start {
        /// The set-up.
        config: SimulationConfig,
        /// Speed to run at, × real time.
        speed: u32,
        /// Run number.
        run: u32,
    },
    /// Sets the speed and runs.
    SetSpeed(u32),
    /// Pauses or resumes.
    SetPaused(bool),
    /// One engine step (a simulated second), then paused.
    Step,
    /// Runs until the BMS records an event (at most a simulated week).
    RunToNextEvent,
    /// Injects a fault now.
    Inject(InjectedFault),
    /// Bytes from the host for the device, as a serial link would carry them (configuration
    /// reads and writes); the report carries its answer.
    ToDevice(Vec<u8>),
    /// With packs in parallel: be the BMS of this pack (0-based) from now on, as a new run
    /// numbered `run` (the page starts a new session: another device is speaking).
    SelectPack {
        /// The pack, 0-based.
        pack: usize,
        /// Run number.
        run: u32,
    },
}

/// What the emulator knows besides the wire bytes, for the console and the truth panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// The set-up running.
    pub config: SimulationConfig,
    /// Emulated time of day, s after midnight.
    pub time_of_day_secs: u64,
    /// Simulated seconds since the start.
    pub elapsed_secs: u64,
    /// The pack's true SOC, %.
    pub true_soc_pct: f64,
    /// The current truly flowing, A.
    pub true_current_a: f64,
    /// What the current sensor reads above it, A.
    pub true_current_offset_a: f64,
    /// The coldest and hottest true cell temperature, °C.
    pub true_temperature_range_c: (f64, f64),
    /// Power in the emulated home now.
    pub flow: PowerFlow,
    /// × real time.
    pub speed: u32,
    /// The speed the last tick reached when the pack was too large to keep up with `speed`.
    pub reached_speed: Option<u32>,
    /// Whether the clock stands still.
    pub paused: bool,
    /// The last "run to the next event".
    pub seek: Option<Seek>,
    /// The true SOC at each telemetry report in this message's bytes (see
    /// [`EmulatedLink::take_truth`]).
    pub truth: Vec<crate::link::Truth>,
    /// With packs in parallel, every pack's latest telemetry frame, pack 1 first, as a host
    /// reading each pack's BMS gets them (the bytes above are the selected pack's); empty
    /// otherwise.
    pub pack_frames: Vec<Vec<u8>>,
    /// With packs in parallel, every pack's part of the bank's changes in charge and
    /// discharge, per mille, as the bank's controller measured them, pack 1 first: what it
    /// told the inverter with; empty otherwise.
    pub pack_parts: Vec<(Option<u16>, Option<u16>)>,
    /// With packs in parallel, every pack at each report in this message's bytes (see
    /// [`EmulatedLink::take_bank_points`]); empty otherwise.
    pub bank_points: Vec<crate::link::BankPoint>,
    /// The pack whose BMS the device is, 0-based (0 for a pack on its own).
    pub pack: usize,
}

impl LinkStatus {
    /// What `link` knows now, with the truth of the reports sent since the last status.
    pub fn of(link: &mut EmulatedLink) -> Self {
        LinkStatus {
            config: link.config(),
            time_of_day_secs: link.time_of_day_secs(),
            elapsed_secs: link.elapsed_secs(),
            true_soc_pct: link.true_soc_pct(),
            true_current_a: link.true_current_a(),
            true_current_offset_a: link.true_current_offset_a(),
            true_temperature_range_c: link.true_temperature_range_c(),
            flow: link.power_flow(),
            speed: link.speed(),
            reached_speed: link.reached_speed(),
            paused: link.paused(),
            seek: link.seek(),
            truth: link.take_truth(),
            pack_frames: link.pack_frames(),
            pack_parts: link.pack_parts(),
            bank_points: link.take_bank_points(),
            pack: link.pack(),
        }
    }

    /// The scenario running.
    pub fn scenario(&self) -> Scenario {
        self.config.scenario
    }
}

/// One message from the device host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The run it belongs to.
    pub run: u32,
    /// Bytes the device sent, as it would over a serial link.
    pub bytes: Vec<u8>,
    /// The emulator's state after sending them; `None` before a start.
    pub status: Option<LinkStatus>,
    /// Why a command was refused (nothing changed).
    pub refused: Option<String>,
}

/// The emulated device with its clock, driven by commands and a tick every
/// [`crate::link::TICK_MILLIS`].
#[derive(Debug, Default)]
pub struct DeviceHost {
    link: Option<EmulatedLink>,
    run: u32,
}

impl DeviceHost {
    /// A host with no device yet (waiting for [`Command::Start`]).
    pub fn new() -> Self {
        Self::default()
    }

    fn report(&mut self, bytes: Vec<u8>, refused: Option<String>) -> Report {
        Report {
            run: self.run,
            bytes,
            status: self.link.as_mut().map(LinkStatus::of),
            refused,
        }
    }

    /// Carries out `command`; the report says what the device sent because of it.
    pub fn handle(&mut self, command: Command) -> Report {
        if let Command::Start { config, speed, run } = command {
            return match EmulatedLink::new(config) {
                Ok(mut link) => {
                    link.set_speed(speed);
                    let bytes = link.poll();
                    self.link = Some(link);
                    self.run = run;
                    self.report(bytes, None)
                }
                Err(e) => self.report(Vec::new(), Some(format!("{e}; nothing changed"))),
            };
        }
        let Some(link) = self.link.as_mut() else {
            return self.report(Vec::new(), Some("the emulator has not started".to_owned()));
        };
        let bytes = match command {
            Command::Start { .. } => Vec::new(),
            Command::SetSpeed(speed) => {
                link.set_speed(speed);
                link.set_paused(false);
                Vec::new()
            }
            Command::SetPaused(paused) => {
                link.set_paused(paused);
                Vec::new()
            }
            Command::Step => link.step(),
            Command::RunToNextEvent => {
                link.run_to_next_event();
                Vec::new()
            }
            Command::Inject(fault) => {
                link.inject(fault);
                Vec::new()
            }
            Command::ToDevice(bytes) => link.receive(&bytes),
            Command::SelectPack { pack, run } => {
                if !link.select_pack(pack) {
                    let refused = format!("there is no pack {} to show; nothing changed", pack + 1);
                    return self.report(Vec::new(), Some(refused));
                }
                self.run = run;
                link.poll()
            }
        };
        self.report(bytes, None)
    }

    /// One tick of the clock: what the device sent in it (nothing before a start).
    pub fn tick(&mut self) -> Option<Report> {
        self.tick_within(|| false)
    }

    /// [`DeviceHost::tick`], stepping only until `out_of_time` says so (see
    /// [`EmulatedLink::poll_within`]).
    pub fn tick_within(&mut self, out_of_time: impl FnMut() -> bool) -> Option<Report> {
        let bytes = self.link.as_mut()?.poll_within(out_of_time);
        Some(self.report(bytes, None))
    }

    /// [`DeviceHost::tick`] within [`crate::link::STEP_BUDGET_MILLIS`] of wall-clock time.
    pub fn tick_in_budget(&mut self) -> Option<Report> {
        let started_ms = wall_clock_ms();
        self.tick_within(|| wall_clock_ms() - started_ms > crate::link::STEP_BUDGET_MILLIS)
    }
}

/// Wall-clock time, ms (the browser's clock in WebAssembly).
fn wall_clock_ms() -> f64 {
    #[cfg(target_family = "wasm")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    fn start(host: &mut DeviceHost, run: u32) -> Report {
        host.handle(Command::Start {
            config: SimulationConfig::new(Scenario::SolarDay, 2, 8),
            speed: 60,
            run,
        })
    }

    #[test]
    fn host_bytes_reach_the_device_and_its_answer_comes_back() {
        let mut host = DeviceHost::new();
        let mut session = Session::default();
        session.ingest(&start(&mut host, 1).bytes, 0.0);
        let answer = host.handle(Command::ToDevice(crate::config_edit::read_request(3)));
        session.ingest(&answer.bytes, 1.0);
        assert_eq!(session.config.answered, Some(3));
        assert_eq!(session.config.device.map(|c| c.cell_count), Some(8));
    }

    #[test]
    fn every_report_carries_its_truth_into_the_history_at_a_day_a_second() {
        let mut host = DeviceHost::new();
        let mut session = Session::default();
        let ingest = |report: Report, session: &mut Session| {
            session.ingest(&report.bytes, 0.0);
            let status = report.status.unwrap();
            session.history.set_truth(&status.truth);
            status
        };
        ingest(start(&mut host, 1), &mut session);
        ingest(host.handle(Command::SetSpeed(86_400)), &mut session);
        let status = ingest(host.tick().unwrap(), &mut session);
        assert_eq!(status.truth.len(), 1_800, "one truth per report");
        let points = session.history.view(None, 1_000_000);
        assert!(points.len() > 1_800, "{}", points.len());
        let with_truth = points
            .iter()
            .filter(|p| p.true_soc_pct.is_some() && p.true_soh_pct.is_some())
            .count();
        assert_eq!(
            with_truth,
            points.len(),
            "every point has the truth beside it"
        );
        let soh = points.last().unwrap().true_soh_pct.unwrap();
        assert!(
            (90.0..=110.0).contains(&soh),
            "a new pack's weakest cell: {soh} %"
        );
        // The morning's charge shows in the truth, report by report, not as one line from the
        // start to the end of the tick.
        let truth: Vec<f64> = points.iter().filter_map(|p| p.true_soc_pct).collect();
        let steps: Vec<f64> = truth.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let largest = steps.iter().copied().fold(0.0, f64::max);
        assert!(
            largest < 1.0,
            "truth moves at most a point a report: {largest}"
        );
        let last = points.last().unwrap().true_soc_pct.unwrap();
        assert!(
            (last - status.true_soc_pct).abs() < 1e-3,
            "{last} {}",
            status.true_soc_pct
        );
        // Status reports for commands carry no truth of reports they did not send.
        let refused = host.handle(Command::SetPaused(true));
        assert!(refused.status.unwrap().truth.is_empty());
    }

    #[test]
    fn nothing_is_sent_before_a_start() {
        let mut host = DeviceHost::new();
        assert!(host.tick().is_none());
        let r = host.handle(Command::Step);
        assert!(r.bytes.is_empty() && r.status.is_none());
        assert!(r.refused.unwrap().contains("not started"));
    }

    #[test]
    fn commands_drive_the_device_and_reports_carry_its_frames() {
        let mut host = DeviceHost::new();
        let mut session = Session::default();
        let first = start(&mut host, 1);
        assert_eq!(first.run, 1);
        session.ingest(&first.bytes, 0.0);
        assert!(session.device.is_some(), "the greeting comes first");
        assert_eq!(session.latest.as_ref().unwrap().cell_voltages_v.len(), 8);

        // 60×: a tick of 500 ms is 30 simulated seconds, reported second by second as a
        // device at 1 Hz does.
        let before = host.tick().unwrap().status.unwrap().elapsed_secs;
        let tick = host.tick().unwrap();
        let after = tick.status.unwrap().elapsed_secs;
        assert_eq!(after - before, 30);
        let reports = crate::recording::split_frames(&tick.bytes)
            .iter()
            .filter(|f| f.device_time_s.is_some())
            .count();
        assert_eq!(reports, 30);

        host.handle(Command::SetPaused(true));
        let paused = host.tick().unwrap().status.unwrap();
        assert!(paused.paused);
        assert_eq!(paused.elapsed_secs, after);
        let stepped = host.handle(Command::Step);
        assert_eq!(stepped.status.unwrap().elapsed_secs, after + 1);
        session.ingest(&stepped.bytes, 1.0);
        assert_eq!(
            session.latest.as_ref().unwrap().uptime_secs,
            (after + 1) as f64
        );

        host.handle(Command::SetSpeed(3600));
        let fast = host.tick().unwrap().status.unwrap();
        assert!(!fast.paused);
        assert_eq!(fast.speed, 3600);
        assert_eq!(fast.elapsed_secs, after + 1 + 1800);

        let injected = host.handle(Command::Inject(InjectedFault::OpenSenseWire { cell: 3 }));
        assert!(injected.refused.is_none());
        host.handle(Command::RunToNextEvent);
        assert!(matches!(
            host.tick().unwrap().status.unwrap().seek,
            Some(Seek::Found | Seek::Running { .. })
        ));
    }

    #[test]
    fn a_restart_is_a_new_run_and_a_bad_one_changes_nothing() {
        let mut host = DeviceHost::new();
        start(&mut host, 1);
        host.tick();
        let bad = host.handle(Command::Start {
            config: SimulationConfig::new(Scenario::SolarDay, 2, 0),
            speed: 60,
            run: 2,
        });
        assert!(bad.refused.is_some());
        assert_eq!(bad.run, 1, "still the first run");
        assert_eq!(bad.status.unwrap().config.cell_count, 8);
        let good = start(&mut host, 3);
        assert_eq!(good.run, 3);
        assert_eq!(
            good.status.unwrap().elapsed_secs,
            30,
            "a fresh device, one tick in"
        );
    }

    #[test]
    fn reports_survive_the_trip_through_the_worker_codec() {
        let mut host = DeviceHost::new();
        let report = start(&mut host, 4);
        // gloo's worker codec is bincode.
        let bytes = bincode::serialize(&report).unwrap();
        let back: Report = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, report);
        let command = Command::Inject(InjectedFault::WeakCell {
            cell: 2,
            capacity_factor: 0.6,
        });
        let back: Command = bincode::deserialize(&bincode::serialize(&command).unwrap()).unwrap();
        assert_eq!(back, command);
    }
}
