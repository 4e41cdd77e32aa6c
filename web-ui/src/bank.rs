//! Packs in parallel on one bus, each with its own BMS, as the page hears them: every pack's
//! latest report, and what the bank tells its inverter from them
//! ([`bms_engine::system::combine`], the same arithmetic a pack-level controller runs). Plain
//! Rust, tested natively; the panel is in [`crate::app`].
//!
//! In emulator mode with several packs the session's own stream is pack 1's (its cells,
//! history and events fill the page); the other packs reach the page as their latest
//! telemetry frame each tick.

use crate::link::BankPoint;
use crate::session::{CanRow, decode_can, fault_label};
use bms_engine::protocol::{DeviceMessage, FrameDecoder, Telemetry};
use bms_engine::system::BankReport;
use bms_engine::{Fault, FaultSet};

/// Every pack's latest report, pack 1 first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BankView {
    /// Each pack's report (`None`: its last frame did not decode, and nothing is made up).
    pub packs: Vec<Option<Telemetry>>,
    /// The pack whose BMS the page shows, 0-based.
    pub shown: usize,
    /// Watches for a pack cut off the bus, report by report.
    cut_off: crate::parallel::CutOffWatch,
    /// Each pack's part of the bank's changes in charge and discharge as the bank's
    /// controller measured them, per mille (the emulator's `pack_parts`), pack 1 first.
    parts: Vec<(Option<u16>, Option<u16>)>,
}

/// One pack's line in the bank panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PackLine {
    /// Pack number, from 1.
    pub number: usize,
    /// SOC, %.
    pub soc_pct: f64,
    /// State of health as its BMS knows it, %, once known.
    pub soh_pct: Option<f64>,
    /// Current, A (charging positive).
    pub current_a: f64,
    /// Voltage, V.
    pub voltage_v: f64,
    /// The charge and the discharge switch conduct.
    pub switches: (bool, bool),
    /// The charge switch stands open for the other packs, this pack wanting no charge.
    pub charge_standby: bool,
    /// Its own charge and discharge current limits, A.
    pub limits_a: (f64, f64),
    /// Its trips and alarms in words ("open sense wire (trip)"), or "none".
    pub faults: String,
    /// Whether any fault is at trip level.
    pub tripped: bool,
    /// Taken for cut off the bus, and left out of what the bank tells.
    pub left_out: bool,
}

/// Most points the bank's history keeps: beyond, it keeps every other one and from then on
/// half as many reports (a day at a report every 24 s of emulated time is 3 600 reports).
pub const BANK_HISTORY_POINTS: usize = 2_000;

/// Every pack of a bank over the run, as the reports came: each pack's SOC and current, for
/// the bank's chart. Bounded: a long run keeps the whole span at a coarser step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BankHistory {
    points: Vec<BankPoint>,
    /// One report of this many is kept (doubles each time the history is thinned).
    every: u64,
    /// Reports offered since the last kept one.
    since_kept: u64,
}

impl BankHistory {
    /// Takes the reports of one tick, oldest first. A point earlier than the last one is a new
    /// run (a restart): the history starts again from it. A point at the time of the last is a
    /// paused device repeating itself, and adds nothing.
    pub fn extend(&mut self, points: &[BankPoint]) {
        for point in points {
            let last = self.points.last().map(|p| p.time_s);
            if last.is_some_and(|t| point.time_s < t) {
                *self = BankHistory::default();
            }
            if last == Some(point.time_s) {
                continue;
            }
            self.since_kept += 1;
            if !self.points.is_empty() && self.since_kept < self.every.max(1) {
                continue;
            }
            self.since_kept = 0;
            self.points.push(point.clone());
            if self.points.len() > BANK_HISTORY_POINTS {
                let mut k = 0;
                self.points.retain(|_| {
                    k += 1;
                    k % 2 == 1
                });
                self.every = self.every.max(1) * 2;
            }
        }
    }

    /// The points kept, oldest first.
    pub fn points(&self) -> &[BankPoint] {
        &self.points
    }

    /// Forgets everything (no bank any more).
    pub fn clear(&mut self) {
        *self = BankHistory::default();
    }

    /// The history as CSV: `time_s` (since the run started), `clock` (`clock(time_s)`, the
    /// emulated clock in words, quoted), then each pack's `packN_soc_pct` and `packN_current_a`.
    pub fn csv(&self, clock: impl Fn(f64) -> String) -> String {
        let packs = self.points.iter().map(|p| p.packs.len()).max().unwrap_or(0);
        let mut out = String::from("time_s,clock");
        for k in 1..=packs {
            out.push_str(&format!(",pack{k}_soc_pct,pack{k}_current_a"));
        }
        out.push('\n');
        for p in &self.points {
            // Quoted: the clock's words hold a comma ("day 1, 06:00:00").
            let words = clock(p.time_s).replace('"', "\"\"");
            out.push_str(&format!("{:.0},\"{words}\"", p.time_s));
            for k in 0..packs {
                // Empty where the pack was not reporting (not a number).
                let (soc, current) = p.packs.get(k).copied().unwrap_or((f32::NAN, f32::NAN));
                for (value, places) in [(soc, 1), (current, 2)] {
                    if value.is_finite() {
                        out.push_str(&format!(",{value:.places$}"));
                    } else {
                        out.push(',');
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// A bank's report in words, of `packs` in all: "CVL 55.2 V · CCL 420 A · DCL 600 A · 3 of 3
/// packs charging, 3 discharging · SOC 52.4 %", and how many it leaves out as cut off the bus.
pub fn told_words(bank: &BankReport, packs: usize) -> String {
    let r = bank.report;
    let mut words = format!(
        "CVL {:.1} V · CCL {:.0} A · DCL {:.0} A · {} of {packs} packs charging, {} discharging · SOC {:.1} %",
        f64::from(r.charge_voltage_mv) / 1000.0,
        f64::from(r.charge_current_ma) / 1000.0,
        f64::from(r.discharge_current_ma) / 1000.0,
        bank.packs_charging,
        bank.packs_discharging,
        f64::from(r.soc_permille) / 10.0,
    );
    match bank.packs_cut_off {
        0 => {}
        1 => words.push_str(" of the packs it reaches · 1 left out, cut off the bus"),
        n => words.push_str(&format!(
            " of the packs it reaches · {n} left out, cut off the bus"
        )),
    }
    words
}

/// How far below the packs' sum a limit must be for the panel to say why, mA (or 2 % of the
/// sum, whichever is more).
const HELD_WORTH_TELLING_MA: u32 = 5_000;

impl PackLine {
    /// Its switches in words: "charge on · discharge on", or "charge standing by · discharge
    /// on" while its charge switch is open for the other packs.
    pub fn switches_text(&self) -> String {
        let on = |b: bool| if b { "on" } else { "off" };
        let charge = if self.charge_standby {
            "standing by"
        } else {
            on(self.switches.0)
        };
        format!("charge {charge} · discharge {}", on(self.switches.1))
    }
}

impl BankView {
    /// Takes each pack's part of the bank's changes as the bank's controller measured them
    /// (the emulator's `pack_parts`, pack 1 first): the told limits are then the ones that
    /// controller told.
    pub fn set_parts(&mut self, parts: &[(Option<u16>, Option<u16>)]) {
        parts.clone_into(&mut self.parts);
    }

    /// Takes each pack's frame (the emulator's `pack_frames`): one decoded report each, or
    /// `None` for a frame that does not decode. No frames: not a bank.
    pub fn set_frames(&mut self, frames: &[Vec<u8>]) {
        self.packs = frames
            .iter()
            .map(|bytes| {
                let mut decoder = FrameDecoder::<DeviceMessage>::new();
                let mut found = None;
                decoder.feed(bytes, |m| {
                    if let Ok(DeviceMessage::Telemetry(t)) = m {
                        found = Some(t);
                    }
                });
                found
            })
            .collect();
        // One pack alone has no others to be compared with.
        if !self.is_bank() {
            self.cut_off = crate::parallel::CutOffWatch::default();
            return;
        }
        let readings: Vec<Option<crate::session::Reading>> = self
            .packs
            .iter()
            .map(|t| t.as_ref().map(crate::session::Reading::from_telemetry))
            .collect();
        let refs: Vec<_> = readings.iter().map(Option::as_ref).collect();
        self.cut_off.update(&refs);
    }

    /// Whether there is a bank to show (more than one pack).
    pub fn is_bank(&self) -> bool {
        self.packs.len() > 1
    }

    /// Each pack's line, pack 1 first (a pack whose frame did not decode is left out).
    pub fn lines(&self) -> Vec<PackLine> {
        self.packs
            .iter()
            .enumerate()
            .filter_map(|(k, t)| t.as_ref().map(|t| (k, t)))
            .map(|(k, t)| {
                let trips = FaultSet::from_bits(t.trip_bits);
                let alarms = FaultSet::from_bits((t.warning_bits | t.derate_bits) & !t.trip_bits);
                let named = |set: FaultSet, level: &'static str| {
                    set.iter()
                        .map(move |f: Fault| format!("{} ({level})", fault_label(f)))
                };
                let faults: Vec<String> =
                    named(trips, "trip").chain(named(alarms, "alarm")).collect();
                PackLine {
                    number: k + 1,
                    soc_pct: f64::from(t.soc_permille) / 10.0,
                    soh_pct: t.soh_permille.map(|s| f64::from(s) / 10.0),
                    current_a: f64::from(t.current_ma) / 1000.0,
                    voltage_v: f64::from(t.pack_voltage_mv) / 1000.0,
                    switches: (t.charge_switch_on, t.discharge_switch_on),
                    charge_standby: t.charge_standby,
                    limits_a: (
                        f64::from(t.limits.charge_current_ma) / 1000.0,
                        f64::from(t.limits.discharge_current_ma) / 1000.0,
                    ),
                    faults: if faults.is_empty() {
                        "none".to_owned()
                    } else {
                        faults.join(", ")
                    },
                    tripped: !trips.is_empty(),
                    left_out: self.is_bank() && self.cut_off.is_cut_off(k),
                }
            })
            .collect()
    }

    /// What the bank tells its inverter, from every pack that reported, each of
    /// `capacity_mah` (the packs of a bank are alike); `None` without a bank.
    pub fn told(&self, capacity_mah: u32) -> Option<BankReport> {
        if !self.is_bank() {
            return None;
        }
        let packs = self
            .packs
            .iter()
            .enumerate()
            .filter_map(|(k, t)| Some((k, t.as_ref()?, capacity_mah)));
        crate::parallel::combine_watched(packs, &self.cut_off, &self.parts)
    }

    /// The bank's report in words ([`told_words`]); `None` without a bank.
    pub fn told_text(&self, capacity_mah: u32) -> Option<String> {
        Some(told_words(&self.told(capacity_mah)?, self.packs.len()))
    }

    /// Why a limit is below what the packs allow together, when it is by enough to tell
    /// ([`HELD_WORTH_TELLING_MA`]): "Charge limit 60 A, not the 300 A the packs allow
    /// together: pack 3 takes its part of every change and reaches its own 20 A there." —
    /// "takes 23 % (as measured) of every change" once the bank's controller has measured it.
    pub fn held_text(&self, capacity_mah: u32) -> Vec<String> {
        let Some(bank) = self.told(capacity_mah) else {
            return Vec::new();
        };
        let lines = self.lines();
        let mut out = Vec::new();
        for (held_by, name, limit_ma, sum_ma, own) in [
            (
                bank.charge_held_by,
                "Charge",
                bank.report.charge_current_ma,
                bank.charge_sum_ma,
                true,
            ),
            (
                bank.discharge_held_by,
                "Discharge",
                bank.report.discharge_current_ma,
                bank.discharge_sum_ma,
                false,
            ),
        ] {
            let Some(pack) = held_by.and_then(|k| lines.get(usize::from(k))) else {
                continue;
            };
            // A few amperes short of hundreds is the packs' uneven sharing at work, not news.
            let short_ma = sum_ma.saturating_sub(limit_ma);
            if short_ma < HELD_WORTH_TELLING_MA.max(sum_ma / 50) {
                continue;
            }
            let sum = f64::from(sum_ma) / 1000.0;
            let its = if own {
                pack.limits_a.0
            } else {
                pack.limits_a.1
            };
            let why = if its < 0.5 {
                let (asks, switch, way) = if own {
                    (
                        "no charge",
                        "charge",
                        "charge the others without charging it",
                    )
                } else {
                    (
                        "to give nothing",
                        "discharge",
                        "draw on the others without drawing on it",
                    )
                };
                format!(
                    "pack {} asks for {asks} with its {switch} switch on, and the bus cannot {way}",
                    pack.number
                )
            } else {
                let measured = self
                    .parts
                    .get(pack.number - 1)
                    .and_then(|&(charge, discharge)| if own { charge } else { discharge });
                let part = measured.map_or_else(
                    || "its part".to_owned(),
                    |p| format!("{:.0} % (as measured)", f64::from(p) / 10.0),
                );
                format!(
                    "pack {} takes {part} of every change and reaches its own {its:.0} A there",
                    pack.number
                )
            };
            out.push(format!(
                "{name} limit {:.0} A, not the {sum:.0} A the packs allow together: {why}.",
                f64::from(limit_ma) / 1000.0,
            ));
        }
        out
    }

    /// A pack that has carried nothing beside busy ones for a minute though its switches let
    /// it, cut off the bus by all its BMS can tell ([`crate::parallel::CutOffWatch`]), in
    /// words.
    pub fn cut_off_text(&self) -> &[String] {
        if self.is_bank() {
            self.cut_off.lines()
        } else {
            &[]
        }
    }

    /// A notification for each pack first taken for cut off the bus at the last frames (none
    /// for one pack alone: [`BankView::set_frames`] keeps no watch then).
    pub fn fresh_cut_off_notices(&self) -> Vec<crate::session::Notice> {
        self.cut_off.fresh_notices(true)
    }

    /// The CAN frames the bank sends its inverter, decoded (`None` without a bank).
    pub fn can_rows(&self, capacity_mah: u32) -> Option<Vec<CanRow>> {
        let bank = self.told(capacity_mah)?;
        Some(
            bms_engine::can::pylontech_frames(&bank.report)
                .iter()
                .map(decode_can)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator::{EmulatedDevice, InjectedFault, Scenario, SimulationConfig};

    fn bank_device() -> EmulatedDevice {
        EmulatedDevice::new(SimulationConfig {
            packs: 3,
            ..SimulationConfig::new(Scenario::SolarDay, 1, 16)
        })
        .unwrap()
    }

    #[test]
    fn three_packs_are_told_as_one_and_a_pack_that_opens_is_left_out() {
        let mut device = bank_device();
        device.advance(600);
        let mut view = BankView::default();
        view.set_frames(&device.pack_frames());
        assert!(view.is_bank());
        let lines = view.lines();
        assert_eq!(lines.len(), 3);
        assert!(
            lines
                .iter()
                .all(|l| l.switches == (true, true) && l.faults == "none")
        );
        let told = view.told_text(280_000).unwrap();
        assert!(
            told.starts_with(
                "CVL 55.2 V · CCL 420 A · DCL 600 A · 3 of 3 packs charging, 3 discharging"
            ),
            "{told}"
        );
        let rows = view.can_rows(280_000).unwrap();
        let modules = rows.iter().find(|r| r.id == 0x359).unwrap();
        assert!(modules.meaning.contains("3 module"), "{modules:?}");
        // Pack 1's sense wire opens: it trips and opens, the bank tells the two others'.
        device.inject(InjectedFault::OpenSenseWire { cell: 6 });
        device.advance(60);
        view.set_frames(&device.pack_frames());
        let lines = view.lines();
        assert!(lines[0].tripped && lines[0].switches == (false, false));
        assert!(
            lines[0].faults.contains("open sense wire (trip)"),
            "{}",
            lines[0].faults
        );
        let told = view.told_text(280_000).unwrap();
        assert!(
            told.contains("· 2 of 3 packs charging, 2 discharging"),
            "{told}"
        );
        let ccl = view.told(280_000).unwrap().report.charge_current_ma;
        assert!((275_000..=280_000).contains(&ccl), "{ccl} mA");
    }

    /// The page tells what the emulated bank's controller told its inverter, minute by minute
    /// through a day with a bad connection in pack 1: the same reports, and the parts that
    /// controller measured. The pack behind the connection holds the bank's charge, and the
    /// line says what it takes of a change.
    #[test]
    fn the_page_tells_the_limits_the_emulated_bank_told() {
        let mut device = EmulatedDevice::new(SimulationConfig {
            packs: 3,
            ..SimulationConfig::new(Scenario::FaultResistanceStep, 1, 16)
        })
        .unwrap();
        let mut view = BankView::default();
        let mut measured_lines = Vec::new();
        for _ in 0..18 * 60 {
            device.advance(60);
            view.set_frames(&device.pack_frames());
            view.set_parts(&device.pack_parts());
            let told = view.told(280_000).unwrap().report;
            let bank = device.bank().unwrap().report().report;
            // The resistances travel each cell's to the µΩ, the controller adds them up
            // unrounded: a few hundredths of a percent apart once they are learnt.
            let close = |a: u32, b: u32| a.abs_diff(b) <= 50.max(b / 1000);
            assert!(
                close(told.charge_current_ma, bank.charge_current_ma)
                    && close(told.discharge_current_ma, bank.discharge_current_ma),
                "page {told:?}\nbank {bank:?}"
            );
            let without_limits =
                |r: bms_engine::can::InverterReport| bms_engine::can::InverterReport {
                    charge_current_ma: 0,
                    discharge_current_ma: 0,
                    ..r
                };
            assert_eq!(without_limits(told), without_limits(bank));
            measured_lines.extend(
                view.held_text(280_000)
                    .into_iter()
                    .filter(|l| l.contains("(as measured)")),
            );
        }
        let line = measured_lines
            .iter()
            .find(|l| l.starts_with("Charge limit") && l.contains(": pack 1 takes "))
            .unwrap_or_else(|| panic!("{measured_lines:#?}"));
        let part: f64 = line
            .split(": pack 1 takes ")
            .nth(1)
            .and_then(|rest| rest.split(" %").next())
            .and_then(|p| p.parse().ok())
            .unwrap();
        // Behind 5 mΩ more than the others, it takes under a third of a change.
        assert!(part > 10.0 && part < 30.0, "{line}");
    }

    #[test]
    fn a_pack_cut_off_the_bus_is_named_though_its_bms_sees_nothing_wrong() {
        let mut device = bank_device();
        device.advance(600);
        let mut view = BankView::default();
        view.set_frames(&device.pack_frames());
        assert!(view.cut_off_text().is_empty());
        // Pack 1's breaker opens; by mid-morning the other two charge at tens of amperes each,
        // and after a minute of that it is named.
        device.inject(InjectedFault::BusDisconnected);
        device.advance(4 * 3_600);
        view.set_frames(&device.pack_frames());
        assert!(view.cut_off_text().is_empty());
        device.advance(60);
        view.set_frames(&device.pack_frames());
        let lines = view.lines();
        let left_out: Vec<bool> = lines.iter().map(|l| l.left_out).collect();
        assert_eq!(
            left_out,
            [true, false, false],
            "its line says it is left out"
        );
        assert_eq!(lines[0].faults, "none");
        assert!(lines[0].current_a.abs() < 1.0, "{}", lines[0].current_a);
        let text = view.cut_off_text();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with("Pack 1 carries no current while the others are charging at"),
            "{}",
            text[0]
        );
        // Told as a notification once, when first named, and as the emulator's.
        let notices = view.fresh_cut_off_notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            notices[0].title,
            "Emulated battery: pack 1 may be cut off the bus"
        );
        assert_eq!(notices[0].body, text[0]);
        // The bank leaves it out of what it tells the inverter, as the bank's controller does.
        let told = view.told(280_000).unwrap();
        assert_eq!(
            (
                told.packs_cut_off,
                told.packs_charging,
                told.packs_discharging
            ),
            (1, 2, 2)
        );
        assert!(told.charge_sum_ma <= 2 * 140_000, "{told:?}");
        let socs: Vec<f64> = view.lines().iter().map(|l| l.soc_pct).collect();
        let reached = (socs[1] + socs[2]) / 2.0;
        assert!(
            (f64::from(told.report.soc_permille) / 10.0 - reached).abs() < 0.11,
            "{socs:?} {told:?}"
        );
        let words = view.told_text(280_000).unwrap();
        assert!(
            words.ends_with(" of the packs it reaches · 1 left out, cut off the bus"),
            "{words}"
        );
    }

    #[test]
    fn a_frame_that_does_not_decode_is_left_out_and_one_pack_is_no_bank() {
        let device = bank_device();
        let mut frames = device.pack_frames();
        frames[1] = vec![1, 2, 3, 0];
        let mut view = BankView::default();
        view.set_frames(&frames);
        assert_eq!(view.packs[1], None);
        assert_eq!(
            view.lines().iter().map(|l| l.number).collect::<Vec<_>>(),
            [1, 3]
        );
        view.set_frames(&frames[..1]);
        assert!(!view.is_bank() && view.told(280_000).is_none());
        assert!(view.held_text(280_000).is_empty() && view.can_rows(280_000).is_none());
    }

    #[test]
    fn a_limit_held_below_the_sum_says_which_pack_holds_it() {
        let mut device = bank_device();
        device.advance(600);
        let mut view = BankView::default();
        view.set_frames(&device.pack_frames());
        assert!(
            view.held_text(280_000).is_empty(),
            "{:?}",
            view.held_text(280_000)
        );
        // Pack 3 derated to 20 A while the three share a charge evenly.
        for (k, t) in view.packs.iter_mut().flatten().enumerate() {
            t.current_ma = 30_000;
            if k == 2 {
                t.limits.charge_current_ma = 20_000;
            }
        }
        assert_eq!(
            view.held_text(280_000),
            [
                "Charge limit 60 A, not the 300 A the packs allow together: pack 3 takes its part of every change and reaches its own 20 A there."
            ]
        );
        // Held 1 A short of 420 A: nothing worth a sentence.
        for (k, t) in view.packs.iter_mut().flatten().enumerate() {
            t.limits.charge_current_ma = if k == 2 { 139_000 } else { 140_000 };
        }
        assert!(
            view.held_text(280_000).is_empty(),
            "{:?}",
            view.held_text(280_000)
        );
        for (k, t) in view.packs.iter_mut().flatten().enumerate() {
            if k == 2 {
                t.limits.charge_current_ma = 20_000;
            }
        }
        // Full, it asks for no charge but leaves its switch on.
        if let Some(Some(t)) = view.packs.get_mut(2) {
            t.limits.charge_current_ma = 0;
        }
        assert_eq!(
            view.held_text(280_000),
            [
                "Charge limit 0 A, not the 280 A the packs allow together: pack 3 asks for no charge with its charge switch on, and the bus cannot charge the others without charging it."
            ]
        );
    }

    #[test]
    fn a_pack_standing_by_says_so_and_leaves_the_charge_to_the_others() {
        let mut device = EmulatedDevice::new(SimulationConfig {
            packs: 3,
            ..SimulationConfig::new(Scenario::FaultWeakCell, 1, 16)
        })
        .unwrap();
        // Pack 1's weak cell is full early in the afternoon; it stands by half a minute later.
        device.advance(23_000);
        let mut view = BankView::default();
        view.set_frames(&device.pack_frames());
        let lines = view.lines();
        assert!(lines[0].charge_standby && !lines[0].tripped);
        assert_eq!(
            lines[0].switches_text(),
            "charge standing by · discharge on"
        );
        assert_eq!(lines[1].switches_text(), "charge on · discharge on");
        let told = view.told_text(280_000).unwrap();
        assert!(
            told.contains("· 2 of 3 packs charging, 3 discharging"),
            "{told}"
        );
        let ccl = view.told(280_000).unwrap().report.charge_current_ma;
        assert!(ccl > 100_000, "the two others' limits, {ccl} mA");
        // Nothing says pack 1 holds the charge back any more.
        let held = view.held_text(280_000);
        assert!(!held.iter().any(|l| l.contains("pack 1 asks")), "{held:?}");
    }

    fn point(time_s: f64) -> BankPoint {
        BankPoint {
            time_s,
            packs: vec![(50.0, time_s as f32), (51.0, -1.0)],
        }
    }

    #[test]
    fn the_bank_history_keeps_the_whole_run_within_its_bound() {
        let mut h = BankHistory::default();
        let reports: Vec<_> = (1..=10_000).map(|t| point(f64::from(t))).collect();
        for tick in reports.chunks(1_800) {
            h.extend(tick);
        }
        let kept = h.points();
        assert!(kept.len() <= BANK_HISTORY_POINTS && kept.len() > BANK_HISTORY_POINTS / 2);
        assert_eq!(kept[0].time_s, 1.0, "the start stays");
        assert!(
            kept.last().unwrap().time_s > 9_990.0,
            "and the end is there"
        );
        let steps: Vec<f64> = kept.windows(2).map(|w| w[1].time_s - w[0].time_s).collect();
        assert!(
            steps.iter().all(|&s| s == steps[0]),
            "evenly spaced: {:?}",
            &steps[..4]
        );
        // A paused device repeats its last report: nothing added.
        let (before, last) = (kept.len(), kept[kept.len() - 1].time_s);
        h.extend(&[point(last), point(last)]);
        assert_eq!(h.points().len(), before);
        // A restart starts from 0 again: the old run is gone.
        h.extend(&[point(1.0), point(2.0)]);
        assert_eq!(h.points().len(), 2);
    }

    #[test]
    fn the_bank_history_downloads_as_csv_a_column_pair_a_pack() {
        let mut h = BankHistory::default();
        h.extend(&[point(60.0), point(120.0)]);
        let csv = h.csv(|t| format!("+{t:.0} s"));
        assert_eq!(
            csv,
            "time_s,clock,pack1_soc_pct,pack1_current_a,pack2_soc_pct,pack2_current_a\n\
             60,\"+60 s\",50.0,60.00,51.0,-1.00\n\
             120,\"+120 s\",50.0,120.00,51.0,-1.00\n"
        );
        assert_eq!(
            BankHistory::default().csv(|_| String::new()),
            "time_s,clock\n"
        );
    }
}
