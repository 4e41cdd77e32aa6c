//! Your own batteries in parallel: several BMSs connected to the page at once (a serial port or
//! a Bluetooth link each, any protocol the page reads), shown side by side and added up. Plain
//! Rust, tested natively; the panel is [`crate::parallel_panel`].
//!
//! Packs in parallel share one bus: they carry the current between them and sit at nearly one
//! voltage. So the page adds their currents and powers, weighs their SOCs by their capacities
//! (where every BMS tells its own; the plain mean otherwise, and it says so), and points at a
//! pack that does not take its part: one carrying nothing while the others carry tens of
//! amperes though its switches let it, for a minute, is most likely cut off the bus (a
//! breaker, fuse or cable). A pack's own BMS cannot tell that; only the packs side by side can.

use crate::link::BankPoint;
use crate::session::{Notice, Reading, fault_label, signed};
use crate::vendor::Protocol;
use bms_engine::protocol::Telemetry;
use bms_engine::system::{BUSY_MA, BusLook, CutOffTimer, IDLE_MA, Others};

/// One pack's row in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRow {
    /// Pack number, from 1 (pack 1 is the battery the rest of the page shows).
    pub number: usize,
    /// How it is connected and where it stands ("JK over Bluetooth · live").
    pub link: String,
    /// SOC, or "—" before a report.
    pub soc: String,
    /// SOH as its BMS knows it: "learning" from a Cellsight device that has not learnt it
    /// yet, "—" from a BMS that does not tell it.
    pub soh: String,
    /// Current, A, signed (charging positive).
    pub current: String,
    /// Pack voltage.
    pub voltage: String,
    /// Its lowest and highest cell voltage: "3.301–3.312 V".
    pub cells: String,
    /// How far apart, and which cells: "11 mV apart, cells 4 and 11" ("" without cells).
    pub cells_apart: String,
    /// Its switches in words, or "not reported".
    pub switches: String,
    /// Trips and alarms in words, "none", or "not reported".
    pub faults: String,
    /// Whether any fault is at trip level.
    pub tripped: bool,
}

/// What the packs add up to, from every pack that has reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Together {
    /// Packs that have reported.
    pub packs: usize,
    /// Their currents added, A.
    pub current_a: f64,
    /// Their powers added, W.
    pub power_w: f64,
    /// Their SOC, %, weighted by capacity where every pack tells its own.
    pub soc_pct: f64,
    /// Charge left and full capacity added, Ah, where every pack tells them.
    pub capacity_ah: Option<(f64, f64)>,
}

impl Together {
    /// In words: "2 packs · +52.3 A · +2790 W · SOC 64.2 % of 560 Ah (359.5 Ah left)".
    pub fn text(&self) -> String {
        let soc = match self.capacity_ah {
            Some((left, full)) => format!(
                "SOC {:.1} % of {full:.0} Ah ({left:.1} Ah left)",
                self.soc_pct
            ),
            None => format!(
                "SOC {:.1} % (the mean: not every BMS tells its capacity)",
                self.soc_pct
            ),
        };
        format!(
            "{} pack{} · {} A · {} W · {soc}",
            self.packs,
            if self.packs == 1 { "" } else { "s" },
            signed(self.current_a, 1),
            signed(self.power_w, 0)
        )
    }
}

/// The row of pack `number`, connected as `link`, with its latest reading if it has sent one.
pub fn row(number: usize, link: String, reading: Option<&Reading>) -> PackRow {
    let Some(r) = reading else {
        let none = || "—".to_owned();
        return PackRow {
            number,
            link,
            soc: none(),
            soh: none(),
            current: none(),
            voltage: none(),
            cells: none(),
            cells_apart: String::new(),
            switches: none(),
            faults: none(),
            tripped: false,
        };
    };
    let soh = match (r.soh_pct, r.protocol) {
        (Some(s), _) => format!("{s:.0} %"),
        (None, Protocol::Cellsight) => "learning".to_owned(),
        (None, _) => "—".to_owned(),
    };
    let (cells, cells_apart) = match (r.min_cell(), r.max_cell()) {
        (Some((lowest, low)), Some((highest, high))) if lowest != highest => (
            format!("{low:.3}–{high:.3} V"),
            format!(
                "{:.0} mV apart, cells {lowest} and {highest}",
                (high - low) * 1000.0
            ),
        ),
        (Some((_, v)), Some(_)) => (format!("{v:.3} V"), "all alike".to_owned()),
        _ => ("—".to_owned(), String::new()),
    };
    let on = |b: bool| if b { "on" } else { "off" };
    let switches = match (r.charge_switch_on, r.discharge_switch_on) {
        (None, None) => "not reported".to_owned(),
        (charge, discharge) => {
            let charge = if r.charge_standby == Some(true) {
                "standing by"
            } else {
                charge.map_or("?", on)
            };
            format!("charge {charge} · discharge {}", discharge.map_or("?", on))
        }
    };
    let named = r
        .faults
        .iter()
        .map(|&f| format!("{} (trip)", fault_label(f)))
        .chain(
            r.warnings
                .iter()
                .map(|&f| format!("{} (alarm)", fault_label(f))),
        )
        .collect::<Vec<_>>();
    let faults = if !r.alarms_known {
        "not reported".to_owned()
    } else if named.is_empty() {
        "none".to_owned()
    } else {
        named.join(", ")
    };
    PackRow {
        number,
        link,
        soc: format!("{:.1} %", r.soc_pct),
        soh,
        current: format!("{} A", signed(r.current_a, 1)),
        voltage: format!("{:.2} V", r.pack_voltage_v),
        cells,
        cells_apart,
        switches,
        faults,
        tripped: !r.faults.is_empty(),
    }
}

/// A reading as it counts towards what the packs add up to: a BMS that does not count its own
/// charge (a Cellsight device tells its SOC and its nominal capacity, `nominal_mah`, apart) is
/// given the charge its SOC says of that capacity.
pub fn counted(reading: &Reading, nominal_mah: Option<u32>) -> Reading {
    let mut r = reading.clone();
    if r.capacity_ah.is_none()
        && let Some(full) = nominal_mah
            .filter(|&m| m > 0)
            .map(|m| f64::from(m) / 1000.0)
    {
        r.capacity_ah = Some((full * r.soc_pct / 100.0, full));
    }
    r
}

/// What the packs that have reported add up to (`None` before any has).
pub fn together(readings: &[&Reading]) -> Option<Together> {
    if readings.is_empty() {
        return None;
    }
    let current_a = readings.iter().map(|r| r.current_a).sum();
    let power_w = readings.iter().map(|r| r.power_w()).sum();
    let capacities: Option<Vec<(f64, f64)>> = readings
        .iter()
        .map(|r| r.capacity_ah.filter(|&(_, full)| full > 0.0))
        .collect();
    let (soc_pct, capacity_ah) = match capacities {
        Some(c) => {
            let full: f64 = c.iter().map(|&(_, f)| f).sum();
            let weighted: f64 = readings
                .iter()
                .zip(&c)
                .map(|(r, &(_, f))| r.soc_pct * f)
                .sum();
            let left = c.iter().map(|&(l, _)| l).sum();
            (weighted / full, Some((left, full)))
        }
        None => (
            readings.iter().map(|r| r.soc_pct).sum::<f64>() / readings.len() as f64,
            None,
        ),
    };
    Some(Together {
        packs: readings.len(),
        current_a,
        power_w,
        soc_pct,
        capacity_ah,
    })
}

/// Where a pack's limits come from, for [`told_together`].
#[derive(Debug, Clone, PartialEq)]
pub enum OwnReport {
    /// A Cellsight device's latest report, with its nominal capacity, mAh.
    Cellsight(Box<Telemetry>, u32),
    /// A BMS that does not tell its limits (this protocol).
    Silent(Protocol),
}

/// What the packs whose reports are coming would tell an inverter together, as the bank's
/// controller works it out ([`bms_engine::system::combine`]), a pack the watch names left
/// out: the words, or why it cannot be known. `reports` has every pack, pack 1 first (`None`:
/// its reports are not coming, and it is left out); `None` with no pack's coming.
pub fn told_together(
    reports: &[Option<OwnReport>],
    watch: &CutOffWatch,
) -> Option<Result<String, String>> {
    let silent = reports.iter().flatten().find_map(|r| match r {
        OwnReport::Silent(protocol) => Some(protocol),
        OwnReport::Cellsight(..) => None,
    });
    if let Some(protocol) = silent {
        return Some(Err(format!(
            "not known, as {} does not tell its limits.",
            protocol.label()
        )));
    }
    let cellsight = reports.iter().enumerate().filter_map(|(k, r)| match r {
        Some(OwnReport::Cellsight(t, capacity_mah)) => Some((k, &**t, *capacity_mah)),
        _ => None,
    });
    let bank = combine_watched(cellsight, watch, &[])?;
    Some(Ok(crate::bank::told_words(&bank, reports.len())))
}

/// The bank's report from packs' own reports (each with its index among all the packs and its
/// nominal capacity, mAh), a pack `watch` names as cut off the bus left out, as the bank's
/// controller leaves it, and each pack's part of the bank's changes as that controller
/// measured them (`parts[k]`, charge and discharge, per mille; none for a pack beyond:
/// [`bms_engine::system::PartTracker`] needs the packs read together, which reports coming at
/// each pack's own pace are not); `None` for no packs.
pub fn combine_watched<'a>(
    packs: impl Iterator<Item = (usize, &'a Telemetry, u32)>,
    watch: &CutOffWatch,
    parts: &[(Option<u16>, Option<u16>)],
) -> Option<bms_engine::system::BankReport> {
    let reports: Vec<_> = packs
        .map(|(k, t, capacity_mah)| {
            let (mut report, phase) = t.pack_report(capacity_mah);
            report.cut_off = watch.is_cut_off(k);
            report.part_permille = parts.get(k).copied().unwrap_or_default();
            (report, phase)
        })
        .collect();
    bms_engine::system::combine(&reports)
}

/// Every pack's SOC and current at `time_s` (since the history began) for the history, pack 1
/// first: not a number for a pack without a reading coming (a gap in its line, an empty CSV
/// field).
pub fn history_point(time_s: f64, readings: &[Option<&Reading>]) -> BankPoint {
    BankPoint {
        time_s,
        packs: readings
            .iter()
            .map(|r| {
                r.map_or((f32::NAN, f32::NAN), |r| {
                    (r.soc_pct as f32, r.current_a as f32)
                })
            })
            .collect(),
    }
}

/// Watches for a pack cut off the bus by the rule a bank's controller uses
/// ([`bms_engine::system::CutOffTimer`]): one carrying next to nothing with its switch for the
/// way the others carry on (not standing by, and asking for current that way) and its voltage
/// on the far side of the others' (a diode's drop further with its other switch open), while
/// they carry tens of amperes, for a minute of its own reports' time. Named, it stays named
/// until it carries current again or opens both switches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutOffWatch {
    /// Per pack, pack 1 first.
    timers: Vec<CutOffTimer>,
    /// The lines for the packs named at the last update.
    lines: Vec<String>,
    /// The packs (0-based) named at the last update and not at the one before, with their
    /// lines: what to tell an owner who asked for notifications.
    fresh: Vec<(usize, String)>,
}

/// How a reading looks to the bus watch.
fn bus_look(r: &Reading) -> BusLook {
    let asks = |limit: fn(&crate::session::LimitsView) -> f64| {
        r.limits
            .as_ref()
            .is_none_or(|l| limit(l) * 1000.0 >= f64::from(IDLE_MA))
    };
    BusLook {
        current_ma: (r.current_a * 1000.0).round() as i32,
        voltage_mv: (r.pack_voltage_v * 1000.0).round().max(0.0) as u32,
        charge_on: r.charge_switch_on != Some(false) && r.charge_standby != Some(true),
        discharge_on: r.discharge_switch_on != Some(false),
        on_bus: r.charge_switch_on != Some(false) || r.discharge_switch_on != Some(false),
        asks_charge: asks(|l| l.charge_current_a),
        asks_discharge: asks(|l| l.discharge_current_a),
    }
}

impl CutOffWatch {
    /// Takes every pack's latest reading (pack 1 first; `None`: none yet, or not coming). A
    /// pack without a reading is neither named nor counted among the others.
    pub fn update(&mut self, readings: &[Option<&Reading>]) {
        self.timers.resize(readings.len(), CutOffTimer::default());
        let named_before: Vec<bool> = self.timers.iter().map(CutOffTimer::is_cut_off).collect();
        self.lines.clear();
        self.fresh.clear();
        let looks: Vec<Option<BusLook>> = readings.iter().map(|r| r.map(bus_look)).collect();
        for (k, (timer, reading)) in self.timers.iter_mut().zip(readings).enumerate() {
            let others = Others::of(looks.iter().copied(), k);
            // Its own clock, ms: a pack's reports may come late, never early.
            let now_ms = reading.map_or(0, |r| (r.uptime_secs * 1000.0).max(0.0) as u64);
            if !timer.update(looks[k], &others, now_ms) {
                continue;
            }
            let mean_a = f64::from(others.mean_ma) / 1000.0;
            let number = k + 1;
            let switches = match looks[k].map(|l| (l.charge_on, l.discharge_on)) {
                Some((true, false)) => "its charge switch on",
                Some((false, true)) => "its discharge switch on",
                _ => "its switches on",
            };
            let line = if others.mean_ma.unsigned_abs() >= BUSY_MA {
                let way = if mean_a > 0.0 {
                    "charging"
                } else {
                    "discharging"
                };
                format!(
                    "Pack {number} carries no current while the others are {way} at {:.0} A each on average, {switches}: it may be cut off the bus. Check its breaker, fuse and cables.",
                    mean_a.abs()
                )
            } else {
                format!(
                    "Pack {number} carried no current the last time the others did, {switches}: it may be cut off the bus. Check its breaker, fuse and cables."
                )
            };
            if !named_before.get(k).copied().unwrap_or(false) {
                self.fresh.push((k, line.clone()));
            }
            self.lines.push(line);
        }
    }

    /// A notification for each pack named at the last update that was not named before (its
    /// tag one per pack, so that a pack named again replaces its last one); `emulated` for
    /// the emulator's bank, so that a demo is never taken for a battery.
    pub fn fresh_notices(&self, emulated: bool) -> Vec<Notice> {
        let whose = Notice::whose(emulated);
        self.fresh
            .iter()
            .map(|(k, line)| Notice {
                title: format!("{whose}: pack {} may be cut off the bus", k + 1),
                body: line.clone(),
                tag: format!("cellsight-cut-off-{}", k + 1),
            })
            .collect()
    }

    /// The packs named at the last update, in words: one line each.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Whether pack `k` (0-based) is named.
    pub fn is_cut_off(&self, k: usize) -> bool {
        self.timers.get(k).is_some_and(CutOffTimer::is_cut_off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendor::Snapshot;
    use bms_engine::Fault;

    /// A JK-like pack at `soc` % carrying `current_a`, with `full_ah` of capacity.
    fn pack(soc: f64, current_a: f64, full_ah: Option<f64>) -> Reading {
        let snapshot = Snapshot {
            pack_voltage_v: Some(53.2),
            current_a: Some(current_a),
            soc_pct: Some(soc),
            remaining_ah: full_ah.map(|f| f * soc / 100.0),
            full_ah,
            cell_voltages_v: vec![3.321, 3.325, 3.310, 3.318],
            charge_switch_on: Some(true),
            discharge_switch_on: Some(true),
            faults: Some(Vec::new()),
            ..Snapshot::default()
        };
        Reading::from_snapshot(&snapshot, Protocol::Jk, 0.0).unwrap()
    }

    #[test]
    fn a_row_says_what_the_bms_tells_and_what_it_does_not() {
        let mut r = pack(64.25, -12.34, Some(280.0));
        r.faults = vec![Fault::DischargeOverTemperature];
        r.warnings = vec![Fault::CellImbalance];
        let row = row(2, "JK over Bluetooth · live".to_owned(), Some(&r));
        assert_eq!(row.soc, "64.2 %");
        assert_eq!(row.soh, "—");
        assert_eq!(row.current, "-12.3 A");
        assert_eq!(row.voltage, "53.20 V");
        assert_eq!(
            (row.cells.as_str(), row.cells_apart.as_str()),
            ("3.310–3.325 V", "15 mV apart, cells 3 and 2")
        );
        assert_eq!(row.switches, "charge on · discharge on");
        assert_eq!(
            row.faults,
            "over-temperature (trip), cell imbalance (alarm)"
        );
        assert!(row.tripped);

        // A BMS that reports neither switches nor protections says so, and nothing is made up.
        r.charge_switch_on = None;
        r.discharge_switch_on = None;
        r.alarms_known = false;
        r.faults.clear();
        let row = super::row(2, String::new(), Some(&r));
        assert_eq!(
            (row.switches.as_str(), row.faults.as_str()),
            ("not reported", "not reported")
        );
        assert!(!row.tripped);

        // A Cellsight device that has not learnt its SOH yet is learning; before any report,
        // every figure is a dash.
        r.protocol = Protocol::Cellsight;
        assert_eq!(super::row(1, String::new(), Some(&r)).soh, "learning");
        r.cell_voltages_v = vec![3.3; 4];
        let alike = super::row(1, String::new(), Some(&r));
        assert_eq!(
            (alike.cells.as_str(), alike.cells_apart.as_str()),
            ("3.300 V", "all alike")
        );
        let empty = super::row(3, "waiting".to_owned(), None);
        assert_eq!((empty.soc.as_str(), empty.current.as_str()), ("—", "—"));
    }

    #[test]
    fn the_packs_add_up_and_their_soc_is_weighted_by_capacity() {
        let big = pack(80.0, 30.0, Some(280.0));
        let small = pack(40.0, 10.0, Some(100.0));
        let t = together(&[&big, &small]).unwrap();
        assert!((t.current_a - 40.0).abs() < 1e-9);
        assert!((t.power_w - 40.0 * 53.2).abs() < 1e-6);
        // (80 × 280 + 40 × 100) / 380
        assert!((t.soc_pct - 69.473_684).abs() < 1e-4, "{}", t.soc_pct);
        let (left, full) = t.capacity_ah.unwrap();
        assert!((left - 264.0).abs() < 1e-9 && (full - 380.0).abs() < 1e-9);
        assert_eq!(
            t.text(),
            "2 packs · +40.0 A · +2128 W · SOC 69.5 % of 380 Ah (264.0 Ah left)"
        );

        // One BMS that does not tell its capacity: the plain mean, said as such.
        let unknown = pack(40.0, 10.0, None);
        let t = together(&[&big, &unknown]).unwrap();
        assert!((t.soc_pct - 60.0).abs() < 1e-9);
        assert_eq!(t.capacity_ah, None);
        assert!(
            together(&[&big])
                .unwrap()
                .text()
                .starts_with("1 pack · +30.0 A")
        );
        assert!(
            t.text()
                .ends_with("SOC 60.0 % (the mean: not every BMS tells its capacity)")
        );
        assert_eq!(together(&[]), None);
    }

    /// `pack` as reported at `time_s` of its own clock.
    fn at(mut pack: Reading, time_s: f64) -> Reading {
        pack.uptime_secs = time_s;
        pack
    }

    #[test]
    fn a_pack_carrying_nothing_beside_busy_ones_for_a_minute_is_pointed_at() {
        let a = pack(60.0, -41.0, Some(280.0));
        let b = pack(60.0, -39.0, Some(280.0));
        // Cut off, it shows its rest voltage, above the others' as they give 40 A.
        let mut idle = pack(62.0, 0.3, Some(280.0));
        idle.pack_voltage_v = 53.5;
        let mut watch = CutOffWatch::default();
        let look = |watch: &mut CutOffWatch, time_s: f64, idle: &Reading| {
            let idle = at(idle.clone(), time_s);
            watch.update(&[Some(&a), Some(&idle), Some(&b)]);
            watch.lines().to_vec()
        };
        // A moment at 0 A is a pack passing through it as the currents shift.
        assert!(look(&mut watch, 100.0, &idle).is_empty());
        assert!(look(&mut watch, 159.0, &idle).is_empty());
        assert!(watch.fresh_notices(false).is_empty());
        assert_eq!(
            look(&mut watch, 160.0, &idle),
            vec![
                "Pack 2 carries no current while the others are discharging at 40 A each on average, its switches on: it may be cut off the bus. Check its breaker, fuse and cables."
            ]
        );
        // Told once, when it is first named.
        assert_eq!(
            watch.fresh_notices(false),
            [Notice {
                title: "Battery: pack 2 may be cut off the bus".to_owned(),
                body: watch.lines()[0].clone(),
                tag: "cellsight-cut-off-2".to_owned(),
            }]
        );
        assert_eq!(
            watch.fresh_notices(true)[0].title,
            "Emulated battery: pack 2 may be cut off the bus"
        );
        // Named, it stays named while the others rest.
        let (mut a_resting, mut b_resting) = (a.clone(), b.clone());
        a_resting.current_a = 0.2;
        b_resting.current_a = -0.1;
        watch.update(&[
            Some(&a_resting),
            Some(&at(idle.clone(), 161.0)),
            Some(&b_resting),
        ]);
        assert_eq!(
            watch.lines(),
            [
                "Pack 2 carried no current the last time the others did, its switches on: it may be cut off the bus. Check its breaker, fuse and cables."
            ]
        );
        assert!(watch.is_cut_off(1) && !watch.is_cut_off(0));
        assert!(watch.fresh_notices(false).is_empty());
        // Carrying again: the count starts afresh.
        let carrying = pack(62.0, -20.0, Some(280.0));
        assert!(look(&mut watch, 162.0, &carrying).is_empty());
        assert!(look(&mut watch, 200.0, &idle).is_empty());

        // Never named: resting together, its own switch open, standing by, or asking for no
        // current that way (a full pack's charge limit of 0 while the others charge).
        let named_by = |a: &Reading, idle: &Reading| {
            let mut watch = CutOffWatch::default();
            for t in [0.0, 100.0] {
                watch.update(&[Some(a), Some(&at(idle.clone(), t))]);
            }
            watch.lines().len()
        };
        let resting = pack(60.0, 0.2, Some(280.0));
        assert_eq!(named_by(&resting, &idle), 0);
        assert_eq!(named_by(&a, &idle), 1);
        // At the bus voltage, where a pack on the bus carrying nothing sits (the others a
        // link's drop below it as they give current), it is not named.
        let mut at_the_bus = idle.clone();
        at_the_bus.pack_voltage_v = 53.22;
        assert_eq!(named_by(&a, &at_the_bus), 0);
        let mut open = idle.clone();
        open.discharge_switch_on = Some(false);
        assert_eq!(named_by(&a, &open), 0);
        let mut standing_by = idle.clone();
        standing_by.charge_standby = Some(true);
        assert_eq!(named_by(&a, &standing_by), 0);
        let mut full = idle.clone();
        full.limits = Some(crate::session::LimitsView {
            charge_voltage_v: 55.2,
            charge_current_a: 0.0,
            discharge_current_a: 200.0,
            phase: "absorption",
        });
        let mut charging = pack(60.0, 41.0, Some(280.0));
        charging.pack_voltage_v = 54.0;
        assert_eq!(named_by(&charging, &full), 0);
        assert_eq!(named_by(&charging, &idle), 1);
        // Its discharge switch opened by a trip, it is charged through that switch's diode:
        // named beside packs charging only once it is a diode's drop further below them.
        assert_eq!(named_by(&charging, &open), 0, "0.5 V below them");
        let mut tripped_far = open.clone();
        tripped_far.pack_voltage_v = 52.5;
        let mut watch = CutOffWatch::default();
        for t in [0.0, 100.0] {
            watch.update(&[Some(&charging), Some(&at(tripped_far.clone(), t))]);
        }
        assert_eq!(
            watch.lines(),
            [
                "Pack 2 carries no current while the others are charging at 41 A each on average, its charge switch on: it may be cut off the bus. Check its breaker, fuse and cables."
            ]
        );
        assert_eq!(
            named_by(&a, &full),
            1,
            "it still gives nothing when asked to"
        );
        // A pack that has not reported is neither named nor counted.
        let mut watch = CutOffWatch::default();
        for t in [0.0, 100.0] {
            watch.update(&[Some(&at(idle.clone(), t)), None]);
        }
        assert!(watch.lines().is_empty());
    }

    #[test]
    fn the_history_keeps_every_pack_and_leaves_a_gap_where_one_is_silent() {
        let a = pack(60.0, -41.0, Some(280.0));
        let b = pack(80.5, 12.25, Some(100.0));
        let mut history = crate::bank::BankHistory::default();
        history.extend(&[
            history_point(0.0, &[Some(&a), Some(&b)]),
            history_point(1.0, &[Some(&a), None]),
        ]);
        let csv = history.csv(|t| format!("2026-12-07 16:50:0{t:.0}"));
        assert_eq!(
            csv,
            "time_s,clock,pack1_soc_pct,pack1_current_a,pack2_soc_pct,pack2_current_a\n\
             0,\"2026-12-07 16:50:00\",60.0,-41.00,80.5,12.25\n\
             1,\"2026-12-07 16:50:01\",60.0,-41.00,,\n"
        );
        // Drawn, the silent moment is a gap in pack 2's lines, not a fall to zero.
        let plots = crate::chart::bank_plots(history.points(), crate::chart::TimeAxis::Hours);
        let json = plots[1].to_json();
        assert!(json.contains("[80.5,null]"), "{json}");
    }

    #[test]
    fn what_cellsight_packs_allow_together_is_told_and_a_silent_bms_is_named() {
        use emulator::{Scenario, Simulation, SimulationConfig};
        let t = Simulation::new(SimulationConfig::new(Scenario::SolarDay, 1, 16))
            .unwrap()
            .telemetry();
        let own = || Some(OwnReport::Cellsight(Box::new(t.clone()), 280_000));
        let watch = CutOffWatch::default();
        let (ccl, dcl) = (t.limits.charge_current_ma, t.limits.discharge_current_ma);
        // Two like packs at one current: each one's limits twice over.
        let words = told_together(&[own(), own()], &watch).unwrap().unwrap();
        let twice = format!(
            "CCL {:.0} A · DCL {:.0} A · 2 of 2 packs charging, 2 discharging · SOC {:.1} %",
            f64::from(2 * ccl) / 1000.0,
            f64::from(2 * dcl) / 1000.0,
            f64::from(t.soc_permille) / 10.0
        );
        assert!(words.ends_with(&twice), "{words} / {twice}");
        assert!(words.starts_with(&format!(
            "CVL {:.1} V · ",
            f64::from(t.limits.charge_voltage_mv) / 1000.0
        )));
        // A pack whose reports are not coming is left out; a BMS that does not tell its
        // limits leaves them unknown; with no report coming there is nothing to tell.
        let words = told_together(&[own(), None], &watch).unwrap().unwrap();
        assert!(
            words.contains(" · 1 of 2 packs charging, 1 discharging · "),
            "{words}"
        );
        assert_eq!(
            told_together(
                &[own(), Some(OwnReport::Silent(Protocol::Jbd)), own()],
                &watch
            ),
            Some(Err(
                "not known, as JBD / Xiaoxiang / Overkill does not tell its limits.".to_owned()
            ))
        );
        assert_eq!(told_together(&[None, None], &watch), None);
    }

    #[test]
    fn a_cellsight_pack_counts_by_its_nominal_capacity() {
        let mut r = pack(50.0, 10.0, None);
        let counted = counted(&r, Some(280_000));
        assert_eq!(counted.capacity_ah, Some((140.0, 280.0)));
        // What a BMS counts itself stands; without a capacity nothing is made up.
        r.capacity_ah = Some((100.0, 230.0));
        assert_eq!(
            super::counted(&r, Some(280_000)).capacity_ah,
            Some((100.0, 230.0))
        );
        r.capacity_ah = None;
        assert_eq!(super::counted(&r, None).capacity_ah, None);
    }
}
