//! The `emulator` command as a user meets it: its listing, its JSON, and its errors (exit code 2,
//! the error on the screen and not buried under the usage).

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use emulator::Scenario;
use std::path::PathBuf;
use std::process::{Command, Output};

fn emulator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emulator"))
        .args(args)
        .output()
        .expect("the emulator binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file in a directory of this test process's own, removed with it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("emulator-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    fn write(&self, file: &str, text: &str) -> String {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("a scratch file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn scenarios_are_listed_one_per_line_with_their_purposes_in_one_column() {
    let out = emulator(&["scenarios"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), Scenario::ALL.len(), "{text}");
    let mut columns = Vec::new();
    for (line, scenario) in lines.iter().zip(Scenario::ALL) {
        assert!(line.starts_with(scenario.name()), "{line}");
        assert!(line.contains(&format!(" {} d ", scenario.days())), "{line}");
        let column = line
            .find(scenario.purpose())
            .expect("the purpose on the line");
        assert!(column > scenario.name().len(), "{line}");
        columns.push(column);
    }
    assert!(columns.iter().all(|&c| c == columns[0]), "{text}");
}

#[test]
fn run_with_json_prints_one_object_with_the_steps_simulated() {
    let out = emulator(&["run", "--days", "0.01", "--seed", "3", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(summary["scenario"], "solar-day");
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["steps"], 864);
    assert_eq!(summary["trips"], serde_json::json!([]));
    assert!(summary["wall_ms"].is_u64(), "{summary}");
}

#[test]
fn the_text_summary_gives_times_as_the_dashboard_does() {
    let out = emulator(&["run", "--scenario", "overcharge", "--days", "0.01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let trips = text
        .lines()
        .find(|l| l.starts_with("protection trips"))
        .unwrap_or_default();
    // The over-voltage trip a few minutes in, located at its cell.
    assert!(
        trips.contains("cell-over-voltage on cell ") && trips.contains(" at +0d 00:0"),
        "{text}"
    );
    let converged = text
        .lines()
        .find(|l| l.starts_with("converged"))
        .unwrap_or_default();
    assert!(
        converged.contains(" s;") && !converged.contains("after 0 s"),
        "{text}"
    );
    assert!(text.contains("\ntrue cell temp      25.0 °C … "), "{text}");
    assert!(
        text.contains("\nthermal             heater 0.0 h, 0.00 kWh from the cells; fan "),
        "{text}"
    );
}

#[test]
fn the_summary_says_what_the_balancer_did() {
    // imbalance: cells about 5 % apart and a 2 A active balancer, for two days.
    let out = emulator(&["run", "--scenario", "imbalance", "--days", "2", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hours = json["balancing_hours"].as_f64().unwrap();
    let moved = json["balanced_ah"].as_f64().unwrap();
    // A 2 A transfer: the charge moved is the hours worked times 2 A.
    assert!(
        hours > 2.0 && (moved - 2.0 * hours).abs() < 0.05 * moved,
        "{json}"
    );
    let (start, end) = (
        json["initial_soc_spread_pct"].as_f64().unwrap(),
        json["final_soc_spread_pct"].as_f64().unwrap(),
    );
    assert!(start > 4.0 && end < start / 2.0, "{json}");
    let out = emulator(&["run", "--scenario", "imbalance", "--days", "2"]);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("balancing           "))
        .unwrap_or_default();
    assert!(
        line.contains(" h, ") && line.contains(" Ah taken from high cells; cell SOC spread "),
        "{text}"
    );
    // A pack run down to 8 %: no cell is high enough to balance, said as none.
    let text = stdout(&emulator(&[
        "run",
        "--scenario",
        "deep-discharge",
        "--days",
        "0.01",
    ]));
    assert!(
        text.contains("\nbalancing           none; cell SOC spread "),
        "{text}"
    );
}

#[test]
fn the_summary_reports_the_warnings_and_derates_below_the_trips() {
    // fault-weak-cell trips nothing: its story is the BMS warning of the weak cell and
    // derating the charge, which the summary once left out ("protection trips none").
    let out = emulator(&["run", "--scenario", "fault-weak-cell"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\nprotection trips    none\n"), "{text}");
    let alerts: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("warnings, derates   "))
        .take_while(|l| l.starts_with("warnings, derates   ") || l.starts_with("    "))
        .collect();
    assert!(
        alerts
            .iter()
            .any(|l| l.contains("cell-imbalance on cell 8: warning ")
                && l.contains(", derate ")
                && l.contains(", from +0d ")),
        "{text}"
    );
    let json = emulator(&["run", "--scenario", "fault-weak-cell", "--json"]);
    let json = stdout(&json);
    assert!(
        json.contains("\"alerts\":[{\"fault\":\"cell-imbalance\",\"level\":\"warning\","),
        "{json}"
    );
    assert!(json.contains("\"cells\":[8]"), "{json}");
}

#[test]
fn a_capacity_known_for_only_some_cells_says_so() {
    // After one solar day (seed 42) 15 of the 16 cells have a capacity estimate: the line must
    // not read as if the weakest of all had been found.
    let text = |days: &str| {
        let out = emulator(&["run", "--scenario", "solar-day", "--days", days]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        text.lines()
            .find(|l| l.starts_with("capacity "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no capacity line: {text}"))
    };
    let one_day = text("1");
    assert!(
        one_day.contains(" Ah (15 of 16 cells estimated), true "),
        "{one_day}"
    );
    let json = emulator(&["run", "--scenario", "solar-day", "--days", "1", "--json"]);
    assert!(
        stdout(&json).contains("\"capacity_cells_estimated\":15"),
        "{}",
        stdout(&json)
    );
}

#[test]
fn the_summary_names_the_most_resistive_cell_beside_its_truth() {
    // Cell 3's connection gains 5 mΩ after an hour: by the end of the day the BMS knows it.
    let out = emulator(&["run", "--scenario", "fault-resistance-step", "--seed", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("highest cell "))
        .unwrap_or_else(|| panic!("no highest-resistance line: {text}"));
    let figures: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(line.contains("highest cell 3:"), "{line}");
    let [_, estimate, truth] = figures[..] else {
        panic!("{line}");
    };
    assert!((estimate - truth).abs() / truth < 0.05, "{line}");
    assert!(truth > 5.0, "{line}");
    let json = stdout(&emulator(&[
        "run",
        "--scenario",
        "fault-resistance-step",
        "--seed",
        "1",
        "--json",
    ]));
    assert!(json.contains("\"highest_r0\":{\"cell\":3,"), "{json}");
}

#[test]
fn the_summary_names_the_weakest_cell_beside_its_own_truth() {
    // Cell 8 has 70 % of the others' capacity: its ends come first, and by the end of the
    // day it is the one the BMS has learnt.
    let out = emulator(&["run", "--scenario", "fault-weak-cell", "--seed", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("lowest cell "))
        .unwrap_or_else(|| panic!("no lowest-capacity line: {text}"));
    assert!(line.contains("lowest cell 8:"), "{line}");
    let figures: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    let [_, estimate, truth] = figures[..] else {
        panic!("{line}");
    };
    assert!((estimate - truth).abs() / truth < 0.03, "{line}");
    assert!(truth < 0.75 * 280.0, "{line}");
}

#[test]
fn run_without_days_runs_the_scenario_for_its_own_length() {
    let scenario = Scenario::PeakShaving;
    assert!(
        scenario.days() > 1.0,
        "a scenario longer than the old one-day default"
    );
    let out = emulator(&["run", "--scenario", scenario.name(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(summary["days"], scenario.days());
    assert_eq!(summary["steps"], (scenario.days() * 86_400.0) as u64);
}

#[test]
fn a_bad_argument_is_named_on_the_screen_without_the_whole_usage() {
    for (args, says) in [
        (
            &["run", "--frobnicate"][..],
            "unknown option `--frobnicate`",
        ),
        (&["run", "--days", "-1"], "`--days -1`"),
        (&["run", "--scenario", "nope"], "unknown scenario `nope`"),
        (&["fly"], "unknown command `fly`"),
        (
            &["run", "--packs", "9"],
            "`--packs 9`: expected 1 to 8 packs",
        ),
        (
            &["run", "--packs", "2", "--pack-soc-step", "41"],
            "`--pack-soc-step 41`: expected 0 to 40 SOC points",
        ),
        (
            &["run", "--pack-soc-step", "10"],
            "`--pack-soc-step 10` sets packs apart: it needs `--packs` 2 or more",
        ),
        (
            &["run", "--age", "21"],
            "`--age 21`: expected 0 to 20 years",
        ),
        (
            &["run", "--packs", "2", "--pack-age-step", "x"],
            "`--pack-age-step x`: expected 0 to 20 years",
        ),
        (
            &["run", "--pack-age-step", "5"],
            "`--pack-age-step 5` sets packs apart: it needs `--packs` 2 or more",
        ),
        (
            &["run", "--packs", "4", "--pack-age-step", "8"],
            "a pack 24 years in service is not supported: use 0 to 20 years",
        ),
        (
            &["run", "--packs", "2", "--csv", "x.csv"],
            "`--csv` writes one pack's time series",
        ),
        (
            &["wire", "--packs", "2", "--out", "x.bin"],
            "`--packs 2`: `wire` writes the stream of one pack's device",
        ),
        (
            &[
                "run",
                "--scenario",
                "fault-bus-disconnected",
                "--packs",
                "1",
            ],
            "scenario `fault-bus-disconnected` needs 2 or more packs in parallel, not 1",
        ),
        (
            &[
                "wire",
                "--scenario",
                "fault-bus-disconnected",
                "--out",
                "x.bin",
            ],
            "scenario `fault-bus-disconnected` is about packs in parallel: `wire` writes the \
             stream of one pack's device",
        ),
    ] {
        let out = emulator(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("error: {says}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("emulator --help"), "{args:?}: {err}");
        assert!(err.lines().count() <= 3, "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

#[test]
fn no_arguments_show_the_usage_and_help_shows_it_on_stdout() {
    let bare = emulator(&[]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(stderr(&bare).contains("emulator replay MEASUREMENTS.csv"));
    let help = emulator(&["--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("emulator scenarios"));
}

#[test]
fn replay_names_the_file_line_and_column_of_a_bad_value() {
    let scratch = Scratch::new("replay");
    let cell = scratch.write(
        "cell.json",
        r#"{"capacity_ah": 100, "ocv": [[0, 2.8], [50, 3.28], [100, 3.4]], "v_min": 2.5, "v_max": 3.65}"#,
    );
    let good = scratch.write(
        "good.csv",
        "time_s,current_a,cell1_v,cell2_v\n0,0,3.28,3.28\n1,-10,3.27,3.27\n2,-10,3.27,3.27\n",
    );
    let out = emulator(&["replay", &good, "--cell", &cell, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert!(summary.is_object(), "{summary}");

    let bad = scratch.write(
        "bad.csv",
        "time_s,current_a,cell1_v,cell2_v\n0,0,3.28,3.28\n1,-10,3.27,x\n",
    );
    let out = emulator(&["replay", &bad, "--cell", &cell]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 3, column 4 (`cell2_v`): `x` is not a number"),
        "{err}"
    );

    let out = emulator(&[
        "replay",
        &good,
        "--cell",
        &scratch.write("c.json", "{\n  \"capacity_ah\": -1\n}"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("c.json"), "{err}");
}

/// `--packs`: the bank's lines first (what it told the inverter, how the packs shared the
/// current), then each pack's own summary under its number and seed; `--json` gives the same
/// as one object.
#[test]
fn a_bank_of_packs_is_summed_up_then_each_pack_on_its_own() {
    let out = emulator(&["run", "--packs", "3", "--days", "0.25"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("scenario solar-day · seed 1 · 3 packs of 16s1p in parallel · 0.25 days"),
        "{text}"
    );
    let told = text
        .lines()
        .find(|l| l.starts_with("told at the end"))
        .unwrap_or_default();
    // Three packs of 140 A charge and 200 A discharge, all on the bus.
    assert!(
        told.contains("CCL 420 A, DCL 600 A")
            && told.ends_with("3 of 3 packs charging, 3 discharging"),
        "{text}"
    );
    assert!(text.contains("\nover own limits     none\n"), "{text}");
    // A quarter of a day from 06:00 charges nothing full.
    assert!(text.contains("\ncharge standby      none\n"), "{text}");
    for (k, seed) in [(1, 1), (2, 2), (3, 3)] {
        assert!(
            text.contains(&format!(
                "\n── pack {k} of 3 (seed {seed}) ──\ntrue cell voltage "
            )),
            "{text}"
        );
    }
    let out = emulator(&["run", "--packs", "2", "--days", "0.01", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bank: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(bank["packs"], 2);
    assert_eq!(bank["steps"], 864);
    assert_eq!(bank["pack_summaries"].as_array().map(Vec::len), Some(2));
    assert_eq!(bank["shares"][1]["pack"], 2);
    // Twice 140 A, less what the packs' slightly uneven sharing takes off.
    let ccl = bank["final_limits"]["charge_current_a"]
        .as_f64()
        .unwrap_or_default();
    assert!((279.0..=280.0).contains(&ccl), "{bank}");
}

/// A bank's scenario runs its own packs without `--packs`, and the summary says which pack
/// the bank left out, and for how long.
#[test]
fn the_bus_disconnected_scenario_runs_a_bank_and_names_the_pack_cut_off() {
    let out = emulator(&[
        "run",
        "--scenario",
        "fault-bus-disconnected",
        "--days",
        "0.2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("scenario fault-bus-disconnected · seed 1 · 3 packs of 16s1p"),
        "{text}"
    );
    // 0.2 days from 06:00 is 4.8 h: the breaker opens at 4 h, the bank leaves the pack out
    // a minute later, for the 47 minutes left.
    let line = text
        .lines()
        .find(|l| l.starts_with("cut off the bus"))
        .unwrap_or_default();
    assert!(line.contains("pack 1 47 min"), "{text}");
    let told = text
        .lines()
        .find(|l| l.starts_with("told at the end"))
        .unwrap_or_default();
    assert!(
        told.ends_with("2 of 3 packs charging, 2 discharging; 1 left out, cut off the bus"),
        "{text}"
    );
}

/// `--age`: a pack that has served years before the run says so in its summary, has less
/// capacity than a new one, and its BMS knows it from the start; `--pack-age-step` makes each
/// pack of a bank that much older than the one before.
#[test]
fn an_older_pack_says_its_years_and_its_bms_knows_its_capacity() {
    let out = emulator(&["run", "--age", "10", "--days", "0.5", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(summary["age_years"], 10);
    let truth = summary["true_capacity_ah"].as_f64().unwrap();
    assert!((220.0..235.0).contains(&truth), "{summary}");
    // Known from the start: half a day in, still within 2 % of the truth.
    let estimate = summary["capacity_estimate_ah"].as_f64().unwrap();
    assert!((estimate - truth).abs() / truth < 0.02, "{summary}");
    let new = emulator(&["run", "--days", "0.1", "--json"]);
    assert!(
        !stdout(&new).contains("age_years"),
        "a new pack's summary is as before"
    );
    let out = emulator(&[
        "run",
        "--packs",
        "3",
        "--pack-age-step",
        "4",
        "--days",
        "0.1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for header in [
        "── pack 1 of 3 (seed 1) ──",
        "── pack 2 of 3 (seed 2, 4 years in service) ──",
        "── pack 3 of 3 (seed 3, 8 years in service) ──",
    ] {
        assert!(text.contains(header), "{text}");
    }
}
