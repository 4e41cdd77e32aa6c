//! Recordings, as plain Rust: what a session received is kept as the raw wire bytes, so a
//! recording is exactly what came over the link, and everything else — the CSV, a replay — is
//! made from those bytes by the same decoder the live view uses. The browser storage behind it
//! lives in [`crate::store`].

use crate::session::{Ingested, Reading, fault_label};
use bms_engine::protocol::{DeviceMessage, FrameDecoder};

/// The CSV's fixed columns, before the per-cell and per-sensor ones (documented in README.md).
pub const CSV_FIXED_COLUMNS: [&str; 23] = [
    "device_time_s",
    "pack_voltage_v",
    "current_a",
    "power_w",
    "soc_pct",
    "soc_bound_pct",
    "usable_soc_pct",
    "soh_pct",
    "charge_switch",
    "discharge_switch",
    "switches_held_open",
    "charge_voltage_limit_v",
    "charge_current_limit_a",
    "discharge_current_limit_a",
    "heater",
    "fan",
    "trips",
    "warnings",
    "latched",
    "balancing_cells",
    "current_offset_a",
    "current_offset_sigma_a",
    "charge_standby",
];

/// What a stored recording says of itself.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingMeta {
    /// Its key in the browser's storage.
    pub id: u32,
    /// When it started, ms since the Unix epoch.
    pub started_ms: f64,
    /// Where the bytes came from, in words ("emulator: solar-day, seed 1, 16 cells").
    pub source: String,
    /// Bytes kept.
    pub bytes: u64,
    /// Telemetry frames in it.
    pub reports: u64,
    /// Device time covered, s (a device that restarts adds only the time after).
    pub duration_s: f64,
    /// Device time of the last telemetry frame, s.
    pub last_device_time_s: Option<f64>,
}

impl RecordingMeta {
    /// A new, empty recording of `source`.
    pub fn new(id: u32, started_ms: f64, source: String) -> Self {
        RecordingMeta {
            id,
            started_ms,
            source,
            bytes: 0,
            reports: 0,
            duration_s: 0.0,
            last_device_time_s: None,
        }
    }

    /// Whether this is what a session left behind that ended before anything of it was stored
    /// (a reload in the first seconds, a tab closed while connecting): empty and started more
    /// than [`LEFTOVER_AFTER_MS`] before `now_ms`. There is nothing to export or replay in it.
    /// A session still running stores its first bytes within [`crate::recordings::FLUSH_MILLIS`]
    /// of beginning, so a younger empty one may be another tab's, just begun (and is only left
    /// out of the list).
    pub fn is_leftover(&self, now_ms: f64) -> bool {
        self.bytes == 0 && now_ms - self.started_ms > LEFTOVER_AFTER_MS
    }
}

/// An empty recording older than this is a leftover (see [`RecordingMeta::is_leftover`]), ms.
pub const LEFTOVER_AFTER_MS: f64 = 10_000.0;

/// Keeps a recording's description up to date as bytes arrive (counted by the session that
/// decoded them), and holds what has not been stored yet.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The recording's description, as it stands.
    pub meta: RecordingMeta,
    pending: Vec<u8>,
}

impl Recorder {
    /// Records into the (new, empty) recording `meta`.
    pub fn new(meta: RecordingMeta) -> Self {
        Recorder {
            meta,
            pending: Vec::new(),
        }
    }

    /// Takes in bytes just received, with what the session decoded from them.
    pub fn receive(&mut self, bytes: &[u8], ingested: Ingested) {
        let meta = &mut self.meta;
        meta.bytes += bytes.len() as u64;
        meta.reports += ingested.reports;
        meta.duration_s += ingested.advanced_s;
        if let Some(t) = ingested.last_device_time_s {
            meta.last_device_time_s = Some(t);
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Bytes received and not yet taken for storage.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// How many bytes are waiting to be stored.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Bytes received since the last call, to be stored.
    pub fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Puts bytes that could not be stored back in front of the pending ones.
    pub fn restore_pending(&mut self, mut bytes: Vec<u8>) {
        bytes.append(&mut self.pending);
        self.pending = bytes;
    }
}

/// One frame of a recording, delimiter included.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedFrame {
    /// The frame's bytes, ending with its 0x00 delimiter.
    pub bytes: Vec<u8>,
    /// The device time a telemetry frame carries, s; `None` for other frames.
    pub device_time_s: Option<f64>,
}

/// Cuts a byte stream at the frame delimiters. Bytes after the last delimiter (a frame still
/// arriving) are left out; a frame that does not decode is kept, as it was received.
pub fn split_frames(bytes: &[u8]) -> Vec<RecordedFrame> {
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut frames = Vec::new();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let Some(result) = decoder.push(byte) else {
            if byte == 0 {
                start = i + 1; // an empty frame: a lone delimiter
            }
            continue;
        };
        let device_time_s = match result {
            Ok(DeviceMessage::Telemetry(t)) => Some(t.uptime_ms as f64 / 1000.0),
            _ => None,
        };
        frames.push(RecordedFrame {
            bytes: bytes.get(start..=i).unwrap_or_default().to_vec(),
            device_time_s,
        });
        start = i + 1;
    }
    frames
}

/// The recording as CSV: a header, then one row per telemetry frame, in the order received.
/// Frames that do not decode are left out (the raw capture keeps them). The cell count is the
/// largest any report had; shorter reports leave their extra columns empty.
pub fn to_csv(bytes: &[u8]) -> String {
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut readings = Vec::new();
    decoder.feed(bytes, |result| {
        if let Ok(DeviceMessage::Telemetry(t)) = result {
            readings.push(Reading::from_telemetry(&t));
        }
    });
    let cells = readings
        .iter()
        .map(|r| r.cell_voltages_v.len())
        .max()
        .unwrap_or(0);
    let sensors = readings
        .iter()
        .map(|r| r.temperatures_c.len())
        .max()
        .unwrap_or(0);
    // Resistances since protocol version 5: no columns for a recording without any.
    let resistances = readings
        .iter()
        .map(|r| r.cell_r0_mohm.len())
        .max()
        .unwrap_or(0);
    // Capacities since protocol version 6.
    let capacities = readings
        .iter()
        .map(|r| r.cell_capacity_ah.len())
        .max()
        .unwrap_or(0);
    let mut csv = CSV_FIXED_COLUMNS.join(",");
    for i in 1..=cells {
        csv.push_str(&format!(",cell{i}_v"));
    }
    for i in 1..=cells {
        csv.push_str(&format!(",cell{i}_soc_pct"));
    }
    for i in 1..=sensors {
        csv.push_str(&format!(",temp{i}_c"));
    }
    for i in 1..=resistances {
        csv.push_str(&format!(",cell{i}_r0_mohm"));
    }
    for i in 1..=capacities {
        csv.push_str(&format!(",cell{i}_capacity_ah"));
    }
    csv.push('\n');
    let faults = |list: &[bms_engine::Fault]| {
        list.iter()
            .map(|&f| fault_label(f))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let optional =
        |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    // Unavailable fields are empty cells, never 0.
    let flag = |v: Option<bool>| v.map_or(String::new(), |on| u8::from(on).to_string());
    for r in &readings {
        let mut row = vec![
            format!("{:.3}", r.uptime_secs),
            format!("{:.3}", r.pack_voltage_v),
            format!("{:.3}", r.current_a),
            format!("{:.1}", r.power_w()),
            format!("{:.1}", r.soc_pct),
            optional(r.soc_bound_pct, 1),
            optional(r.usable_soc_pct, 1),
            optional(r.soh_pct, 1),
            flag(r.charge_switch_on),
            flag(r.discharge_switch_on),
            flag(r.switches_held_open),
            optional(r.limits.as_ref().map(|l| l.charge_voltage_v), 3),
            optional(r.limits.as_ref().map(|l| l.charge_current_a), 1),
            optional(r.limits.as_ref().map(|l| l.discharge_current_a), 1),
            flag(r.heater_on),
            flag(r.fan_on),
            quoted(&faults(&r.faults)),
            quoted(&faults(&r.warnings)),
            quoted(&faults(&r.latched)),
            quoted(
                &r.balancing
                    .iter()
                    .flatten()
                    .map(|c| (c + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            optional(r.current_offset_a.map(|(b, _)| b), 3),
            optional(r.current_offset_a.and_then(|(_, s)| s), 3),
            flag(r.charge_standby),
        ];
        let padded = |values: Vec<String>, n: usize| {
            let mut values = values;
            values.resize(n, String::new());
            values
        };
        row.extend(padded(
            r.cell_voltages_v
                .iter()
                .map(|v| format!("{v:.3}"))
                .collect(),
            cells,
        ));
        row.extend(padded(
            r.cell_soc_pct.iter().map(|v| format!("{v:.1}")).collect(),
            cells,
        ));
        row.extend(padded(
            r.temperatures_c.iter().map(|t| optional(*t, 1)).collect(),
            sensors,
        ));
        row.extend(padded(
            r.cell_r0_mohm.iter().map(|r| optional(*r, 3)).collect(),
            resistances,
        ));
        row.extend(padded(
            r.cell_capacity_ah.iter().map(|q| optional(*q, 1)).collect(),
            capacities,
        ));
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    csv
}

/// A CSV field, quoted when it holds a comma, quote or semicolon.
pub(crate) fn quoted(field: &str) -> String {
    if field.contains([',', '"', ';']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// A recording played back as a byte source, at a chosen speed in device time.
#[derive(Debug, Clone)]
pub struct Replay {
    frames: Vec<RecordedFrame>,
    next: usize,
    /// Device time the playback has reached, s.
    clock_s: f64,
    speed: u32,
    paused: bool,
    /// Device time of the last report played, s.
    played_s: Option<f64>,
    /// Index of the last report in the recording (always played: it is where the recording
    /// ends).
    last_report: Option<usize>,
}

impl Replay {
    /// Plays `bytes` from their start.
    pub fn new(bytes: &[u8]) -> Self {
        let mut frames = split_frames(bytes);
        // A device that restarted counts from zero again: play its new run after the old one.
        let (mut offset, mut last) = (0.0, None::<f64>);
        for t in frames.iter_mut().filter_map(|f| f.device_time_s.as_mut()) {
            if let Some(last) = last
                && *t + offset < last
            {
                offset = last - *t;
            }
            *t += offset;
            last = Some(*t);
        }
        let clock_s = frames.iter().find_map(|f| f.device_time_s).unwrap_or(0.0);
        let last_report = frames.iter().rposition(|f| f.device_time_s.is_some());
        Replay {
            frames,
            next: 0,
            clock_s,
            speed: crate::link::DEFAULT_SPEED,
            paused: false,
            played_s: None,
            last_report,
        }
    }

    /// Frames in the recording.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the recording holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Speed, × the recorded device time.
    pub fn speed(&self) -> u32 {
        self.speed
    }

    /// Sets the speed (at least 1×).
    pub fn set_speed(&mut self, speed: u32) {
        self.speed = speed.max(1);
    }

    /// Whether playback stands still.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Stops or restarts playback.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether every frame has been played.
    pub fn finished(&self) -> bool {
        self.next >= self.frames.len()
    }

    /// Share of the frames played, 0–1.
    pub fn progress(&self) -> f64 {
        if self.frames.is_empty() {
            1.0
        } else {
            self.next as f64 / self.frames.len() as f64
        }
    }

    /// Bytes due after `elapsed_ms` of real time: every frame up to the device time the clock
    /// has reached at the present speed (frames without a time go with the frame before).
    pub fn poll(&mut self, elapsed_ms: f64) -> Vec<u8> {
        if !self.paused {
            self.clock_s += elapsed_ms / 1000.0 * f64::from(self.speed);
        }
        // Above an hour a second, like the live emulator, at most
        // `link::REPORTS_PER_REAL_SECOND` reports a real second: one every `speed / 3600`
        // recorded seconds, every other frame (events, answers) as recorded, and always the
        // last report, where the recording ends.
        let every_s = f64::from((self.speed / crate::link::REPORTS_PER_REAL_SECOND).max(1));
        let mut bytes = Vec::new();
        while let Some(frame) = self.frames.get(self.next) {
            if frame.device_time_s.is_some_and(|t| t > self.clock_s) {
                break;
            }
            let skipped = match (frame.device_time_s, self.played_s) {
                (Some(t), Some(played)) => {
                    t < played + every_s && Some(self.next) != self.last_report
                }
                _ => false,
            };
            if !skipped {
                bytes.extend_from_slice(&frame.bytes);
                if frame.device_time_s.is_some() {
                    self.played_s = frame.device_time_s;
                }
            }
            self.next += 1;
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator::{EmulatedDevice, Scenario, SimulationConfig};

    /// An hour of a 16-cell solar day as the device sends it, one report a minute.
    fn hour() -> Vec<u8> {
        let mut dev =
            EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 7, 16)).unwrap();
        let mut bytes = dev.hello();
        for _ in 0..60 {
            bytes.extend(dev.advance(60));
        }
        bytes
    }

    #[test]
    fn frames_split_back_into_the_stream_they_came_from() {
        let bytes = hour();
        let frames = split_frames(&bytes);
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.bytes.clone()).collect();
        assert_eq!(joined, bytes);
        assert_eq!(
            frames.iter().filter(|f| f.device_time_s.is_some()).count(),
            60
        );
    }

    #[test]
    fn only_an_empty_recording_of_a_session_long_gone_is_a_leftover() {
        let mut meta = RecordingMeta::new(1, 1_000_000.0, "test".to_owned());
        assert!(meta.is_leftover(1_000_000.0 + LEFTOVER_AFTER_MS + 1.0));
        // Another tab's, just begun.
        assert!(!meta.is_leftover(1_000_000.0 + 2_000.0));
        // Anything stored, however old, is the user's to delete.
        meta.bytes = 14;
        assert!(!meta.is_leftover(1_000_000.0 + 1e9));
    }

    #[test]
    fn meta_counts_reports_and_device_time() {
        let bytes = hour();
        let mut recorder = Recorder::new(RecordingMeta::new(1, 0.0, "test".to_owned()));
        let mut session = crate::session::Session::default();
        // Bytes arrive in pieces that cut frames anywhere; the session counts what they held.
        for piece in bytes.chunks(37) {
            recorder.receive(piece, session.ingest(piece, 0.0));
        }
        let stored = recorder.take_pending();
        assert_eq!(stored, bytes);
        assert!(recorder.take_pending().is_empty());
        recorder.restore_pending(stored.clone());
        recorder.receive(&[1, 2], session.ingest(&[1, 2], 0.0));
        assert_eq!(recorder.take_pending().len(), stored.len() + 2);
        let meta = recorder.meta;
        assert_eq!(meta.bytes, bytes.len() as u64 + 2);
        assert_eq!(meta.reports, 60);
        assert!((meta.duration_s - 59.0 * 60.0).abs() < 1.0, "{meta:?}");
    }

    #[test]
    fn csv_has_one_row_per_report_with_the_values_the_dashboard_showed() {
        let bytes = hour();
        let csv = to_csv(&bytes);
        let mut lines = csv.lines();
        let mut session = crate::session::Session::default();
        session.ingest(&bytes, 0.0);
        let r = session.latest.unwrap();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(
            header.len(),
            CSV_FIXED_COLUMNS.len() + 16 + 16 + r.temperatures_c.len() + 16 + 16
        );
        assert_eq!(header[0], "device_time_s");
        assert_eq!(header[CSV_FIXED_COLUMNS.len()], "cell1_v");
        assert_eq!(header[CSV_FIXED_COLUMNS.len() + 32], "temp1_c");
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 60);
        assert!(rows.iter().all(|r| r.len() == header.len()));

        // The last row says what a session fed the same bytes shows.
        let last = rows.last().unwrap();
        assert_eq!(last[0], format!("{:.3}", r.uptime_secs));
        assert_eq!(last[1], format!("{:.3}", r.pack_voltage_v));
        assert_eq!(last[4], format!("{:.1}", r.soc_pct));
        let cell16: f64 = last[CSV_FIXED_COLUMNS.len() + 15].parse().unwrap();
        assert!((cell16 - r.cell_voltages_v[15]).abs() < 0.0005);
        // Cell voltages of a LiFePO4 pack, not zeros or garbage.
        for r in &rows {
            for v in &r[CSV_FIXED_COLUMNS.len()..CSV_FIXED_COLUMNS.len() + 16] {
                let v: f64 = v.parse().unwrap();
                assert!((2.5..3.65).contains(&v), "{v}");
            }
        }
    }

    #[test]
    fn a_corrupt_frame_is_kept_in_the_capture_but_never_becomes_a_row() {
        let mut bytes = hour();
        let frames = split_frames(&bytes);
        // Flip a byte inside the tenth telemetry frame.
        let offset: usize = frames.iter().take(10).map(|f| f.bytes.len()).sum::<usize>() + 5;
        bytes[offset] ^= 0x55;
        assert_eq!(split_frames(&bytes).len(), frames.len());
        let csv = to_csv(&bytes);
        assert_eq!(csv.lines().count(), 1 + 59);
    }

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        assert_eq!(
            quoted("cell over-voltage; cell over-temperature"),
            "\"cell over-voltage; cell over-temperature\""
        );
        assert_eq!(quoted("a \"b\", c"), "\"a \"\"b\"\", c\"");
        assert_eq!(quoted("3 4"), "3 4");
    }

    #[test]
    fn replay_plays_frames_at_the_chosen_speed_in_device_time() {
        let bytes = hour();
        let mut replay = Replay::new(&bytes);
        replay.set_speed(60); // a recorded minute per real second
        let mut session = crate::session::Session::default();
        // The first report (and the greeting before it) is due at once.
        session.ingest(&replay.poll(0.0), 0.0);
        assert_eq!(session.history.len(), 1);
        assert!(session.device.is_some());
        // Ten real seconds: ten more reports.
        for _ in 0..20 {
            session.ingest(&replay.poll(500.0), 0.0);
        }
        assert_eq!(session.history.len(), 11);
        replay.set_paused(true);
        assert!(replay.poll(10_000.0).is_empty());
        replay.set_paused(false);
        replay.set_speed(3600);
        session.ingest(&replay.poll(1_000.0), 0.0);
        assert!(replay.finished());
        assert_eq!(session.history.len(), 60);
        assert!((replay.progress() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn above_an_hour_a_second_a_replay_thins_its_reports_and_keeps_every_event_and_the_end() {
        // Four hours of one-second reports, a fault injected after the first.
        let mut dev = EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 7, 8)).unwrap();
        let mut bytes = dev.hello();
        bytes.extend(dev.advance_reporting_each_second(3_600));
        dev.inject(emulator::InjectedFault::OpenSenseWire { cell: 2 });
        bytes.extend(dev.advance_reporting_each_second(3 * 3_600 + 7));
        let count = |bytes: &[u8]| {
            let frames = split_frames(bytes);
            let reports = frames.iter().filter(|f| f.device_time_s.is_some()).count();
            (reports, frames.len() - reports)
        };
        let (reports, others) = count(&bytes);
        assert_eq!(reports, 4 * 3_600 + 7);
        let mut replay = Replay::new(&bytes);
        replay.set_speed(86_400);
        let played = replay.poll(1_000.0);
        assert!(
            replay.finished(),
            "four hours in a second at a day a second"
        );
        let (played_reports, played_others) = count(&played);
        // One every 24 s, plus the last.
        assert_eq!(played_reports, (4 * 3_600 + 7) / 24 + 1 + 1);
        assert_eq!(played_others, others, "the greeting and every event");
        let mut session = crate::session::Session::default();
        session.ingest(&played, 0.0);
        let mut whole = crate::session::Session::default();
        whole.ingest(&bytes, 0.0);
        assert_eq!(
            session.latest, whole.latest,
            "it ends on the recording's last report"
        );
        assert_eq!(session.events, whole.events);
    }

    /// The current sensor's learnt offset and (since protocol version 7) its σ are two fixed
    /// columns, empty where the device does not say.
    #[test]
    fn the_csv_carries_the_current_sensors_learnt_offset() {
        let column = |bytes: &[u8], name: &str| {
            let csv = to_csv(bytes);
            let mut lines = csv.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let row: Vec<&str> = lines.next().unwrap().split(',').collect();
            let at = header.iter().position(|&h| h == name).unwrap();
            row[at].to_owned()
        };
        let v7: &[u8] = include_bytes!("../../bms-engine/tests/golden/v7/telemetry.bin");
        assert_eq!(column(v7, "current_offset_a"), "-0.120");
        assert_eq!(column(v7, "current_offset_sigma_a"), "0.250");
        let v6: &[u8] = include_bytes!("../../bms-engine/tests/golden/v6/telemetry.bin");
        assert_eq!(column(v6, "current_offset_a"), "-0.120");
        assert_eq!(column(v6, "current_offset_sigma_a"), "");
    }

    /// Resistances (reported since protocol version 5) then capacities (since version 6) come
    /// last in the CSV, one column a cell each (empty for a cell not learnt yet); a recording
    /// made before has no such columns.
    #[test]
    fn the_csv_carries_each_cells_resistance_and_capacity_when_the_device_reports_them() {
        let v6: &[u8] = include_bytes!("../../bms-engine/tests/golden/v6/telemetry.bin");
        let csv = to_csv(v6);
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        let cells = |name: &str| {
            (1..=4)
                .map(|i| format!("cell{i}_{name}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(header[header.len() - 8..header.len() - 4], cells("r0_mohm"));
        assert_eq!(header[header.len() - 4..], cells("capacity_ah"));
        assert_eq!(
            row[row.len() - 8..],
            ["0.301", "5.298", "", "0.299", "279.5", "", "196.2", "280.1"]
        );
        assert_eq!(header.len(), row.len());
        let v5: &[u8] = include_bytes!("../../bms-engine/tests/golden/v5/telemetry.bin");
        let v5 = to_csv(v5);
        assert!(v5.contains("cell4_r0_mohm") && !v5.contains("capacity_ah"));
        let v4: &[u8] = include_bytes!("../../bms-engine/tests/golden/v4/telemetry.bin");
        assert!(!to_csv(v4).contains("r0_mohm"));
    }

    /// A recording made before protocol version 4 still plays: its reports read as the switches
    /// not held open (version 3 could not say), everything else as it was.
    #[test]
    fn a_version_3_recording_still_plays() {
        let v3: &[u8] = include_bytes!("../../bms-engine/tests/golden/v3/telemetry.bin");
        let v4: &[u8] = include_bytes!("../../bms-engine/tests/golden/v4/telemetry.bin");
        assert_ne!(v3, v4);
        let read = |bytes: &[u8]| {
            let mut session = crate::session::Session::default();
            session.ingest(bytes, 0.0);
            session.latest.expect("a reading")
        };
        let old = read(v3);
        assert_eq!(old.switches_held_open, Some(false));
        assert_eq!(old, read(v4));
        // In the CSV: 0 for a version 3 report, 1 for a report of switches held open.
        let held_column = |bytes: &[u8]| {
            let csv = to_csv(bytes);
            let mut lines = csv.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let at = header
                .iter()
                .position(|&h| h == "switches_held_open")
                .unwrap();
            let rows: Vec<String> = lines
                .map(|l| l.split(',').nth(at).unwrap().to_owned())
                .collect();
            rows
        };
        assert_eq!(held_column(v3), ["0"]);
        let held: &[u8] =
            include_bytes!("../../bms-engine/tests/golden/v4/telemetry_contactor.bin");
        assert_eq!(held_column(held), ["1"]);
    }
}
