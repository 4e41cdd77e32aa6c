//! `emulator`: run the emulated pack and its BMS from the command line.

use emulator::{Scenario, Simulation, SimulationConfig};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
usage:
  emulator run [--scenario NAME] [--days N] [--seed S] [--cells N] [--parallel P]
               [--module-cells M] [--estimator model|baseline] [--current-offset A] [--json]
               [--csv FILE [--csv-interval SECS]] [--age Y]
               [--packs K [--pack-soc-step P] [--pack-age-step Y]]
      Simulate NAME (default solar-day) for N days (default: the scenario's own length, as
      `emulator scenarios` lists it; fractions allowed) with
      seed S (default 1) and N series groups (default 16) of P cells in parallel
      (default 1), M groups to a module (default: one module; each module has its own
      enclosure and temperature sensor), with the BMS's SOC estimator (default model:
      Kalman filters with bias and SOH; baseline: coulomb counting with OCV resets),
      optionally replacing the scenario's current-sensor offset by A amperes, the pack
      having served Y years (0 to 20, default 0) in a solar home before (its cells faded and
      their resistance grown; its BMS new to it), then print
      a summary (one JSON object with --json). --csv writes a time series every SECS (default 60)
      simulated seconds: what the sensors read, the truth, and the BMS's decisions.
      --packs K (2 to 8) runs K such packs in parallel on one bus, each with its own BMS,
      in a home K times the size: the inverter obeys the limits the packs tell it together
      (currents added over the packs that allow them, the lowest charge voltage), the packs
      share the current by their voltages and resistances, and the scenario's faults happen
      in pack 1. --pack-soc-step P (0 to 40) starts each pack P SOC points below the one
      before: brought together, the fuller packs charge the emptier ones through the bus.
      --pack-age-step Y makes each pack Y more years older than the one before (the oldest
      at most 20): an old bank with newer packs added.
      The summary gives the bank's figures, then each pack's.
  emulator wire [--scenario NAME] [--days N] [--seed S] [--cells N] [--parallel P]
                [--module-cells M] [--interval SECS] --out FILE
      Write the byte stream the emulated device sends over a serial link for N days
      (default 1): its greeting, then telemetry and new events every SECS (default 60)
      simulated seconds.
  emulator replay MEASUREMENTS.csv --cell CELL.json [--estimator model|baseline] [--json]
                 [--csv OUT.csv]
      Run the BMS engine on recorded measurements (columns time_s,current_a,cell1_v..cellN_v,
      optional temp_c and true_soc1_pct..true_socN_pct) for a cell described as
      {\"capacity_ah\": .., \"ocv\": [[soc_pct, volts], ..], \"v_min\": .., \"v_max\": ..}.
      --csv writes the engine's SOC (and the truth) per row.
  emulator scenarios
      List the scenarios with their length in days and their purpose.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            // The error alone, so that it stays on the screen; the usage is one command away.
            eprintln!("error: {message}\n(`emulator --help` lists the commands and their options)");
            ExitCode::from(2)
        }
    }
}

/// The scenarios with their lengths and purposes, the purposes in one column.
fn scenario_list() -> String {
    let width = Scenario::ALL
        .iter()
        .map(|s| s.name().len())
        .max()
        .unwrap_or(0);
    let days_width = Scenario::ALL
        .iter()
        .map(|s| s.days().to_string().len())
        .max()
        .unwrap_or(0);
    Scenario::ALL
        .iter()
        .map(|s| {
            format!(
                "{:<width$}  {:>days_width$} d  {}",
                s.name(),
                s.days(),
                s.purpose()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(args: &[String]) -> Result<String, String> {
    match args.split_first() {
        Some((cmd, rest)) if cmd == "run" => run_scenario(rest),
        Some((cmd, rest)) if cmd == "wire" => write_wire(rest),
        Some((cmd, rest)) if cmd == "replay" => replay(rest),
        Some((cmd, [])) if cmd == "scenarios" => Ok(scenario_list()),
        Some((cmd, _)) if cmd == "-h" || cmd == "--help" || cmd == "help" => Ok(USAGE.into()),
        Some((cmd, _)) => Err(format!("unknown command `{cmd}`")),
        None => Err("no command given".into()),
    }
}

struct RunArgs {
    scenario: Scenario,
    /// `--days`, when given (`run` defaults to the scenario's own length, `wire` to one day).
    days: Option<f64>,
    seed: u64,
    cells: usize,
    parallel: usize,
    module_cells: usize,
    estimator: bms_engine::estimation::EstimatorKind,
    current_offset_ma: Option<i32>,
    /// `--packs`: packs in parallel (1: a pack on its own); without it, as many as the
    /// scenario runs with.
    packs: usize,
    /// `--pack-soc-step`: SOC points between packs' starting SOCs.
    pack_soc_step_pct: u8,
    /// `--age`: years the pack (pack 1 of a bank) has served before the run.
    age_years: u8,
    /// `--pack-age-step`: years between packs' ages.
    pack_age_step_years: u8,
    json: bool,
    csv: Option<String>,
    interval_secs: u64,
    out: Option<String>,
}

/// A whole number from 1 to `max` for `flag`, or an error naming the flag, the value and the
/// range.
fn count(flag: &str, v: &str, max: usize, what: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("`{flag} {v}`: expected 1 to {max} {what}"))
}

/// `model` or `baseline`, for `--estimator`.
fn estimator_kind(v: &str) -> Result<bms_engine::estimation::EstimatorKind, String> {
    match v {
        "model" => Ok(bms_engine::estimation::EstimatorKind::Model),
        "baseline" => Ok(bms_engine::estimation::EstimatorKind::Baseline),
        _ => Err(format!("`--estimator {v}`: expected model or baseline")),
    }
}

fn parse_interval(flag: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|s| (1..=86_400).contains(s))
        .ok_or_else(|| format!("`{flag} {v}`: expected 1 to 86400 seconds"))
}

fn parse_run_args(args: &[String]) -> Result<RunArgs, String> {
    let mut parsed = RunArgs {
        scenario: Scenario::SolarDay,
        days: None,
        seed: 1,
        cells: 16,
        parallel: 1,
        module_cells: 0,
        estimator: bms_engine::estimation::EstimatorKind::Model,
        current_offset_ma: None,
        packs: 1,
        pack_soc_step_pct: 0,
        age_years: 0,
        pack_age_step_years: 0,
        json: false,
        csv: None,
        interval_secs: 60,
        out: None,
    };
    let mut packs = None;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .ok_or_else(|| format!("`{name}` needs a value"))
                .cloned()
        };
        match flag.as_str() {
            "--scenario" => {
                parsed.scenario =
                    Scenario::from_name(&value("--scenario")?).map_err(|e| e.to_string())?;
            }
            "--days" => {
                let v = value("--days")?;
                let days = v
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d > 0.0 && *d <= 3_650.0)
                    .ok_or_else(|| {
                        format!("`--days {v}`: expected a number of days above 0, at most 3650")
                    })?;
                parsed.days = Some(days);
            }
            "--seed" => {
                let v = value("--seed")?;
                parsed.seed = v
                    .parse()
                    .map_err(|_| format!("`--seed {v}`: expected a whole number 0..2^64"))?;
            }
            "--cells" => {
                parsed.cells = count(flag, &value(flag)?, bms_engine::MAX_CELLS, "series cells")?;
            }
            "--parallel" => {
                parsed.parallel = count(
                    flag,
                    &value(flag)?,
                    emulator::MAX_PARALLEL,
                    "cells in parallel",
                )?;
            }
            "--module-cells" => {
                parsed.module_cells = count(
                    flag,
                    &value(flag)?,
                    bms_engine::MAX_CELLS,
                    "series groups per module",
                )?;
            }
            "--estimator" => parsed.estimator = estimator_kind(&value(flag)?)?,
            "--current-offset" => {
                let v = value("--current-offset")?;
                let amps = v
                    .parse::<f64>()
                    .ok()
                    .filter(|a| a.is_finite() && a.abs() <= 100.0)
                    .ok_or_else(|| format!("`--current-offset {v}`: expected −100 to 100 A"))?;
                parsed.current_offset_ma = Some((amps * 1000.0).round() as i32);
            }
            "--packs" => {
                packs = Some(count(
                    flag,
                    &value(flag)?,
                    emulator::bank::MAX_PACKS,
                    "packs",
                )?);
            }
            "--pack-soc-step" => {
                let v = value(flag)?;
                parsed.pack_soc_step_pct = v
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= emulator::MAX_PACK_SOC_STEP_PCT)
                    .ok_or_else(|| {
                        format!(
                            "`--pack-soc-step {v}`: expected 0 to {} SOC points",
                            emulator::MAX_PACK_SOC_STEP_PCT
                        )
                    })?;
            }
            "--age" | "--pack-age-step" => {
                let v = value(flag)?;
                let years = v
                    .parse::<u8>()
                    .ok()
                    .filter(|y| *y <= emulator::MAX_AGE_YEARS)
                    .ok_or_else(|| {
                        format!(
                            "`{flag} {v}`: expected 0 to {} years",
                            emulator::MAX_AGE_YEARS
                        )
                    })?;
                if flag == "--age" {
                    parsed.age_years = years;
                } else {
                    parsed.pack_age_step_years = years;
                }
            }
            "--json" => parsed.json = true,
            "--csv" => parsed.csv = Some(value("--csv")?),
            "--out" => parsed.out = Some(value("--out")?),
            "--csv-interval" | "--interval" => {
                let v = value(flag)?;
                parsed.interval_secs = parse_interval(flag, &v)?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    parsed.packs = packs.unwrap_or(parsed.scenario.default_packs());
    if parsed.pack_soc_step_pct > 0 && parsed.packs < 2 {
        return Err(format!(
            "`--pack-soc-step {}` sets packs apart: it needs `--packs` 2 or more",
            parsed.pack_soc_step_pct
        ));
    }
    if parsed.pack_age_step_years > 0 && parsed.packs < 2 {
        return Err(format!(
            "`--pack-age-step {}` sets packs apart: it needs `--packs` 2 or more",
            parsed.pack_age_step_years
        ));
    }
    if parsed.module_cells > parsed.cells {
        return Err(format!(
            "`--module-cells {}`: a module cannot hold more than the {} series groups of the pack",
            parsed.module_cells, parsed.cells
        ));
    }
    Ok(parsed)
}

impl RunArgs {
    fn config(&self) -> SimulationConfig {
        SimulationConfig {
            parallel: self.parallel,
            module_cells: self.module_cells,
            estimator: self.estimator,
            current_offset_ma: self.current_offset_ma,
            packs: self.packs,
            pack_soc_step_pct: self.pack_soc_step_pct,
            age_years: self.age_years,
            pack_age_step_years: self.pack_age_step_years,
            ..SimulationConfig::new(self.scenario, self.seed, self.cells)
        }
    }
}

fn replay(args: &[String]) -> Result<String, String> {
    let (mut file, mut cell, mut json, mut csv) = (None, None, false, None);
    let mut estimator = bms_engine::estimation::EstimatorKind::Model;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--cell" => cell = Some(iter.next().ok_or("`--cell` needs a file")?.clone()),
            "--estimator" => {
                estimator = estimator_kind(iter.next().map_or("", String::as_str))?;
            }
            "--csv" => csv = Some(iter.next().ok_or("`--csv` needs a file")?.clone()),
            "--json" => json = true,
            other if other.starts_with("--") => {
                return Err(format!("unknown option `{other}` for `replay`"));
            }
            other if file.is_none() => file = Some(other.to_owned()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let file = file.ok_or("`replay` needs a measurement file")?;
    let cell = cell.ok_or("`replay` needs `--cell CELL.json`")?;
    let read = |path: &str| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))
    };
    let description = emulator::replay::CellDescription::from_json(&read(&cell)?)
        .map_err(|e| format!("{cell}: {e}"))?;
    let measurements = read(&file)?;
    let mut rows = String::from("time_s,bms_soc_pct,bms_soc_bound_pct,true_soc_pct,trips\n");
    let summary = emulator::replay::replay(&measurements, &description, estimator, |row| {
        if csv.is_some() {
            let truth = row
                .true_soc_pct
                .map_or(String::new(), |t| format!("{t:.3}"));
            let bound = row.bound_pct.map_or(String::new(), |b| format!("{b:.2}"));
            let names: Vec<&str> = row.trips.iter().map(|t| t.fault).collect();
            rows.push_str(&format!(
                "{},{:.2},{bound},{truth},{}\n",
                row.time_s,
                row.soc_pct,
                names.join(" ")
            ));
        }
    })
    .map_err(|e| format!("{file}: {e}"))?;
    if let Some(path) = &csv {
        std::fs::write(path, rows).map_err(|e| format!("cannot write `{path}`: {e}"))?;
    }
    if json {
        return serde_json::to_string(&summary).map_err(|e| e.to_string());
    }
    let trips = describe_trips(&summary.trips);
    let soc = match (summary.soc_rmse_pct, summary.soc_max_err_pct) {
        (Some(r), Some(m)) => format!(
            "RMSE {r:.2} %, max {m:.2} % (final BMS {:.1} %){}",
            summary.final_soc_pct,
            summary.soc_in_bound_pct.map_or(String::new(), |b| format!(
                ", truth inside 3σ {b:.1} % of rows"
            ))
        ),
        _ => format!(
            "final BMS {:.1} % (no truth columns to score against)",
            summary.final_soc_pct
        ),
    };
    Ok(format!(
        "replay · {} cells · {} rows over {:.2} days\n\
         measured cell voltage {:.3} V … {:.3} V\n\
         protection trips      {trips}\n\
         SOC                   {soc}\n\
         energy                in {:.2} kWh, out {:.2} kWh",
        summary.cells,
        summary.steps,
        summary.duration_s / 86_400.0,
        summary.min_cell_v,
        summary.max_cell_v,
        summary.energy_in_kwh,
        summary.energy_out_kwh,
    ))
}

fn write_wire(args: &[String]) -> Result<String, String> {
    let args = parse_run_args(args)?;
    if args.scenario.min_packs() > 1 {
        return Err(format!(
            "scenario `{}` is about packs in parallel: `wire` writes the stream of one pack's \
             device; pick another scenario",
            args.scenario.name()
        ));
    }
    if args.packs > 1 {
        return Err(format!(
            "`--packs {}`: `wire` writes the stream of one pack's device; leave `--packs` out",
            args.packs
        ));
    }
    let path = args
        .out
        .clone()
        .ok_or_else(|| "`wire` needs `--out FILE`".to_owned())?;
    let config = args.config();
    let mut device = emulator::EmulatedDevice::new(config).map_err(|e| e.to_string())?;
    let total_secs = (args.days.unwrap_or(1.0) * 86_400.0).round() as u64;
    let mut bytes = device.hello();
    let mut done = 0;
    let mut frames = 1;
    while done < total_secs {
        let chunk = args.interval_secs.min(total_secs - done);
        bytes.extend(device.advance(chunk));
        done += chunk;
        frames += 1;
    }
    std::fs::write(&path, &bytes).map_err(|e| format!("cannot write `{path}`: {e}"))?;
    Ok(format!(
        "wrote {} bytes to {path}: greeting + {} updates of scenario {} (seed {}, {}), each telemetry plus any new events",
        bytes.len(),
        frames - 1,
        args.scenario.name(),
        args.seed,
        config.topology()
    ))
}

fn run_scenario(args: &[String]) -> Result<String, String> {
    let args = parse_run_args(args)?;
    if args.packs > 1 {
        return run_bank(&args);
    }
    let started = Instant::now();
    let mut sim = Simulation::new(args.config()).map_err(|e| e.to_string())?;
    let days = args.days.unwrap_or(args.scenario.days());
    let total_secs = (days * 86_400.0).round() as u64;
    match &args.csv {
        None => sim.run_for(total_secs),
        Some(path) => {
            let file =
                std::fs::File::create(path).map_err(|e| format!("cannot create `{path}`: {e}"))?;
            let mut out = std::io::BufWriter::new(file);
            let write_err = |e: std::io::Error| format!("writing `{path}`: {e}");
            emulator::csv::write_header(&mut out, args.cells).map_err(write_err)?;
            emulator::csv::write_row(&mut out, &sim).map_err(write_err)?;
            let mut done = 0;
            while done < total_secs {
                let chunk = args.interval_secs.min(total_secs - done);
                sim.run_for(chunk);
                done += chunk;
                emulator::csv::write_row(&mut out, &sim).map_err(write_err)?;
            }
            std::io::Write::flush(&mut out).map_err(write_err)?;
        }
    }
    let mut summary = sim.summary();
    summary.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if args.json {
        return serde_json::to_string(&summary).map_err(|e| e.to_string());
    }
    Ok(format!(
        "scenario {} · seed {} · {}{} · {:.2} days ({} steps in {} ms)\n{}",
        summary.scenario,
        summary.seed,
        sim.config().topology(),
        in_service(summary.age_years, " · "),
        summary.days,
        summary.steps,
        summary.wall_ms,
        describe_pack(&summary)
    ))
}

/// `run --packs K`: the bank, then each pack.
fn run_bank(args: &RunArgs) -> Result<String, String> {
    if args.csv.is_some() {
        return Err(format!(
            "`--csv` writes one pack's time series; with `--packs {}` use `--json` for the bank's \
             figures, or run a pack on its own for its time series",
            args.packs
        ));
    }
    let started = Instant::now();
    let mut bank = emulator::Bank::new(args.config()).map_err(|e| e.to_string())?;
    let days = args.days.unwrap_or(args.scenario.days());
    bank.run_for((days * 86_400.0).round() as u64);
    let mut summary = bank.summary();
    summary.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if args.json {
        return serde_json::to_string(&summary).map_err(|e| e.to_string());
    }
    let l = &summary.final_limits;
    let shares: Vec<String> = summary
        .shares
        .iter()
        .map(|s| format!("pack {} {:.1} %", s.pack, s.throughput_share_pct))
        .collect();
    let peaks: Vec<String> = summary
        .shares
        .iter()
        .map(|s| {
            format!(
                "pack {} +{:.0}/−{:.0} A",
                s.pack, s.peak_charge_a, s.peak_discharge_a
            )
        })
        .collect();
    let over: Vec<String> = summary
        .shares
        .iter()
        .filter(|s| s.secs_over_charge_limit + s.secs_over_discharge_limit > 0)
        .map(|s| {
            let mut over = vec![];
            if s.secs_over_charge_limit > 0 {
                over.push(format!("its charge limit {} s", s.secs_over_charge_limit));
            }
            if s.secs_over_discharge_limit > 0 {
                over.push(format!(
                    "its discharge limit {} s",
                    s.secs_over_discharge_limit
                ));
            }
            format!(
                "pack {} above {} (by up to {:.1} A)",
                s.pack,
                over.join(" and "),
                s.worst_over_limit_a
            )
        })
        .collect();
    let standby: Vec<String> = summary
        .shares
        .iter()
        .filter(|s| s.charge_standbys > 0)
        .map(|s| {
            format!(
                "pack {} {} ({}×)",
                s.pack,
                duration(s.secs_charge_standby),
                s.charge_standbys
            )
        })
        .collect();
    let mut text = format!(
        "scenario {} · seed {} · {} packs of {} in parallel · {:.2} days ({} steps in {} ms)\n\
         bank SOC            told RMSE {:.2} %, max {:.2} % (final: told {:.1} %, true {:.1} %)\n\
         told at the end     CVL {:.1} V, CCL {:.0} A, DCL {:.0} A, DVL {:.1} V; {} of {} packs charging, {} discharging{}\n\
         sharing             {} of the charge through the packs\n\
         peak currents       {}\n\
         over own limits     {}\n\
         charge standby      {}\n\
         between packs       up to {:.1} A from one pack into another, {:.2} Ah in all\n\
         energy              in {:.2} kWh, out {:.2} kWh at the bus; unserved {:.2} kWh",
        summary.scenario,
        summary.seed,
        summary.packs,
        args.config().topology(),
        summary.days,
        summary.steps,
        summary.wall_ms,
        summary.soc_rmse_pct,
        summary.soc_max_err_pct,
        summary.final_soc_pct,
        summary.final_true_soc_pct,
        l.charge_voltage_v,
        l.charge_current_a,
        l.discharge_current_a,
        l.discharge_voltage_v,
        l.packs_charging,
        summary.packs,
        l.packs_discharging,
        match l.packs_cut_off {
            0 => String::new(),
            n => format!("; {n} left out, cut off the bus"),
        },
        shares.join(", "),
        peaks.join(", "),
        if over.is_empty() {
            "none".to_owned()
        } else {
            over.join("; ")
        },
        if standby.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{} (a full pack's charge switch open for the others)",
                standby.join(", ")
            )
        },
        summary.max_circulating_a,
        summary.circulating_ah,
        summary.energy_in_kwh,
        summary.energy_out_kwh,
        summary.unserved_kwh,
    );
    let left_out: Vec<String> = summary
        .shares
        .iter()
        .filter(|s| s.secs_left_out > 0)
        .map(|s| format!("pack {} {}", s.pack, duration(s.secs_left_out)))
        .collect();
    if !left_out.is_empty() {
        text.push_str(&format!(
            "\ncut off the bus     {} (carrying nothing beside busy packs though its switches let it: left out of the limits and the SOC told)",
            left_out.join(", ")
        ));
    }
    for (k, pack) in summary.pack_summaries.iter().enumerate() {
        text.push_str(&format!(
            "\n── pack {} of {} (seed {}{}) ──\n{}",
            k + 1,
            summary.packs,
            pack.seed,
            in_service(pack.age_years, ", "),
            describe_pack(pack)
        ));
    }
    Ok(text)
}

/// "5 years in service" after `separator` for a pack that had served before its run; nothing
/// for a new one.
fn in_service(years: u8, separator: &str) -> String {
    emulator::in_service_text(u32::from(years))
        .map_or_else(String::new, |t| separator.to_owned() + &t)
}

/// One pack's run, a line for each of its figures (below the line naming the run).
fn describe_pack(summary: &emulator::Summary) -> String {
    let trips = describe_trips(&summary.trips);
    let alerts = describe_alerts(&summary.alerts);
    let estimation = describe_estimation(summary);
    let balancing = format!(
        "balancing           {}; cell SOC spread {:.2} → {:.2} %",
        if summary.balancing_hours > 0.0 {
            format!(
                "{:.1} h, {:.2} Ah taken from high cells",
                summary.balancing_hours, summary.balanced_ah
            )
        } else {
            "none".to_owned()
        },
        summary.initial_soc_spread_pct,
        summary.final_soc_spread_pct
    );
    format!(
        "true cell voltage   {:.3} V … {:.3} V\n\
         true cell temp      {:.1} °C … {:.1} °C\n\
         protection trips    {trips}\n\
         warnings, derates   {alerts}\n\
         SOC error           RMSE {:.2} %, max {:.2} % (final: BMS {:.1} %, true {:.1} %)\n\
         {estimation}\n\
         thermal             heater {:.1} h, {:.2} kWh from the cells; fan {:.1} h\n\
         {balancing}\n\
         energy              in {:.2} kWh, out {:.2} kWh",
        summary.true_min_cell_v,
        summary.true_max_cell_v,
        summary.true_min_temp_c,
        summary.true_max_temp_c,
        summary.soc_rmse_pct,
        summary.soc_max_err_pct,
        summary.final_soc_pct,
        summary.final_true_soc_pct,
        summary.heater_hours,
        summary.heater_kwh,
        summary.fan_hours,
        summary.energy_in_kwh,
        summary.energy_out_kwh,
    )
}

/// The estimator's figures beyond the RMSE, one line each.
fn describe_estimation(s: &emulator::Summary) -> String {
    let mut lines = vec![format!(
        "estimator           {} · cell SOC RMSE {:.2} %",
        s.estimator, s.cell_soc_rmse_pct
    )];
    if let (Some(t), Some(max)) = (s.converged_after_s, s.soc_max_err_after_convergence_pct) {
        lines.push(format!(
            "converged           after {}; max error since {max:.2} %",
            duration(t)
        ));
    }
    if let (Some(pack), Some(cells)) = (s.soc_in_bound_pct, s.cell_soc_in_bound_pct) {
        lines.push(format!(
            "truth inside 3σ     pack {pack:.1} % of steps, cells {cells:.1} %"
        ));
    }
    if let Some(b) = s.bias_estimate_a {
        lines.push(format!(
            "current bias        estimated {b:+.3} A{}, true offset {:+.3} A",
            s.bias_sigma_a
                .map_or_else(String::new, |sigma| format!(" ± {sigma:.3} (1σ)")),
            s.true_bias_a
        ));
    }
    if let Some(q) = s.capacity_estimate_ah {
        // A cell without an estimate may be the weak one: say so rather than imply the
        // estimate covers the string.
        let of = if s.capacity_cells_estimated < s.cells {
            format!(
                " ({} of {} cells estimated)",
                s.capacity_cells_estimated, s.cells
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "capacity            estimated {q:.1} Ah{of}, true {:.1} Ah (weakest cell)",
            s.true_capacity_ah
        ));
    }
    if let Some(c) = s.lowest_capacity {
        lines.push(format!(
            "                    lowest cell {}: estimated {:.1} Ah, true {:.1} Ah",
            c.cell, c.estimate_ah, c.true_ah
        ));
    }
    if let Some(r) = s.r0_estimate_mohm {
        lines.push(format!(
            "R0 at 25 °C         estimated {r:.3} mΩ, true {:.3} mΩ (mean)",
            s.true_r0_mohm
        ));
    }
    if let Some(c) = s.highest_r0 {
        lines.push(format!(
            "                    highest cell {}: estimated {:.3} mΩ, true {:.3} mΩ",
            c.cell, c.estimate_mohm, c.true_mohm
        ));
    }
    lines.join("\n")
}

/// Protection trips in one line, as the summaries print them.
fn describe_trips(trips: &[emulator::Trip]) -> String {
    if trips.is_empty() {
        return "none".to_owned();
    }
    trips
        .iter()
        .map(|t| {
            // As the dashboard's events show it: "+2d 13:05:15".
            let at = bms_engine::event_log::Elapsed(t.time_s);
            match t.cell {
                Some(cell) => format!("{} on cell {cell} at {at}", t.fault),
                None => format!("{} at {at}", t.fault),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The warnings and derates, a line per fault in the order they first came: "cell-imbalance
/// on cell 8: warning 3×, derate 4×, from +0d 05:28:40".
fn describe_alerts(alerts: &[emulator::Alert]) -> String {
    let mut faults: Vec<&str> = Vec::new();
    for a in alerts {
        if !faults.contains(&a.fault) {
            faults.push(a.fault);
        }
    }
    if faults.is_empty() {
        return "none".to_owned();
    }
    faults
        .iter()
        .map(|&fault| {
            let of_fault: Vec<&emulator::Alert> =
                alerts.iter().filter(|a| a.fault == fault).collect();
            let mut cells: Vec<u8> = of_fault
                .iter()
                .flat_map(|a| a.cells.iter().copied())
                .collect();
            cells.sort_unstable();
            cells.dedup();
            let place = match cells.as_slice() {
                [] => String::new(),
                [cell] => format!(" on cell {cell}"),
                few if few.len() <= 4 => {
                    let list: Vec<String> = few.iter().map(u8::to_string).collect();
                    format!(" on cells {}", list.join(", "))
                }
                many => format!(" on {} cells", many.len()),
            };
            let levels: Vec<String> = of_fault
                .iter()
                .map(|a| format!("{} {}×", a.level, a.count))
                .collect();
            let first = of_fault.iter().map(|a| a.first_time_s).min().unwrap_or(0);
            format!(
                "{fault}{place}: {}, from {}",
                levels.join(", "),
                bms_engine::event_log::Elapsed(first)
            )
        })
        .collect::<Vec<_>>()
        .join("\n                    ")
}

/// A duration for people: "45 s", "12 min 20 s", "3 h 05 min".
fn duration(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..3_600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;
    use bms_engine::event_log::Elapsed;

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(740), "12 min 20 s");
        assert_eq!(duration(6_612), "1 h 50 min");
        assert_eq!(duration(11_385), "3 h 09 min");
        assert_eq!(Elapsed(5).to_string(), "+0d 00:00:05");
        assert_eq!(Elapsed(219_915).to_string(), "+2d 13:05:15");
    }
}
