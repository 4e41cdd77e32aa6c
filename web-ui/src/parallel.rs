//! Your own batteries in parallel: several BMSs connected to the page at once (a serial port or
//! a Bluetooth link each, any protocol the page reads), shown side by side and added up. Plain
//! Rust, tested natively; the panel is [`crate::parallel_panel`].
//!
//! Packs in parallel share one bus: they carry the current between them and sit at nearly one
//! voltage. So the page adds their currents and powers, weighs their SOCs by their capacities
//! (where every BMS tells its own; the plain mean otherwise, and it says so), and points at a
//! pack that does not take its part: one carrying nothing while the others carry tens of
//! amperes with its switches on, for a minute, is most likely cut off the bus (a breaker, fuse
//! or cable). A pack's own BMS cannot tell that; only the packs side by side can.

use crate::session::{Reading, fault_label, signed};
use crate::vendor::Protocol;

/// A pack carrying less than this, A, carries nothing …
pub const IDLE_A: f64 = 1.0;
/// … while the others carry this much each on average, A: below, everything may simply rest.
pub const BUSY_A: f64 = 10.0;

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

/// How long a pack must have carried nothing beside busy ones before it is named, s of its own
/// reports' time: a pack on the bus can pass through 0 A for a moment as the currents shift
/// (in the emulator, for at most 3 s at a time over two days of ten scenarios).
pub const CUT_OFF_AFTER_S: f64 = 60.0;

/// Watches for a pack cut off the bus: one carrying under [`IDLE_A`] with its switches on (not
/// standing by, and not asking for no current that way), while the others carry at least
/// [`BUSY_A`] each on average, for [`CUT_OFF_AFTER_S`] of its own time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutOffWatch {
    /// Per pack, pack 1 first: the time of its report (its own clock, s) since which it has
    /// looked cut off, and the others' mean current then, A.
    since: Vec<Option<(f64, f64)>>,
    /// The lines for the packs named at the last update.
    lines: Vec<String>,
}

impl CutOffWatch {
    /// Takes every pack's latest reading (pack 1 first; `None`: none yet, or not coming). A
    /// pack without a reading is neither named nor counted among the others.
    pub fn update(&mut self, readings: &[Option<&Reading>]) {
        self.since.resize(readings.len(), None);
        self.lines.clear();
        let reported = readings.iter().flatten().count();
        for (k, reading) in readings.iter().enumerate() {
            let Some(r) = reading else {
                self.since[k] = None;
                continue;
            };
            let others: Vec<f64> = readings
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .filter_map(|(_, o)| o.map(|o| o.current_a))
                .collect();
            let mean = others.iter().sum::<f64>() / others.len().max(1) as f64;
            let asks_none = r.limits.as_ref().is_some_and(|l| {
                let limit = if mean > 0.0 {
                    l.charge_current_a
                } else {
                    l.discharge_current_a
                };
                limit < IDLE_A
            });
            let looks_cut_off = reported >= 2
                && r.current_a.abs() < IDLE_A
                && mean.abs() >= BUSY_A
                && r.charge_switch_on != Some(false)
                && r.discharge_switch_on != Some(false)
                && r.charge_standby != Some(true)
                && !asks_none;
            if !looks_cut_off {
                self.since[k] = None;
                continue;
            }
            let (since_s, _) = *self.since[k].get_or_insert((r.uptime_secs, mean));
            if r.uptime_secs - since_s >= CUT_OFF_AFTER_S {
                let way = if mean > 0.0 {
                    "charging"
                } else {
                    "discharging"
                };
                self.lines.push(format!(
                    "Pack {} carries no current while the others are {way} at {:.0} A each on average, its switches on: it may be cut off the bus. Check its breaker, fuse and cables.",
                    k + 1,
                    mean.abs()
                ));
            }
        }
    }

    /// The packs named at the last update, in words: one line each.
    pub fn lines(&self) -> &[String] {
        &self.lines
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
        let idle = pack(62.0, 0.3, Some(280.0));
        let mut watch = CutOffWatch::default();
        let mut look = |time_s: f64, idle: &Reading| {
            let idle = at(idle.clone(), time_s);
            watch.update(&[Some(&a), Some(&idle), Some(&b)]);
            watch.lines().to_vec()
        };
        // A moment at 0 A is a pack passing through it as the currents shift.
        assert!(look(100.0, &idle).is_empty());
        assert!(look(159.0, &idle).is_empty());
        assert_eq!(
            look(160.0, &idle),
            vec![
                "Pack 2 carries no current while the others are discharging at 40 A each on average, its switches on: it may be cut off the bus. Check its breaker, fuse and cables."
            ]
        );
        // Carrying again: the count starts afresh.
        let carrying = pack(62.0, -20.0, Some(280.0));
        assert!(look(161.0, &carrying).is_empty());
        assert!(look(200.0, &idle).is_empty());

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
        let charging = pack(60.0, 41.0, Some(280.0));
        assert_eq!(named_by(&charging, &full), 0);
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
}
