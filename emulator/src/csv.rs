//! The time-series CSV of `emulator run --csv`: what the sensors read (in the column layout
//! `emulator replay` reads back: `time_s,current_a,cell1_v,…,cellN_v,temp_c`), the truth
//! (`true_soc1_pct,…`, `true_cell1_v,…`, the coldest and hottest cell) and the BMS's
//! decisions (switches, limits, heater, fan, the cells it bleeds, trips).

use crate::Simulation;
use std::io::{self, Write};

/// Writes the header for a pack of `cells` cells.
pub fn write_header(out: &mut impl Write, cells: usize) -> io::Result<()> {
    write!(out, "time_s,current_a")?;
    for i in 1..=cells {
        write!(out, ",cell{i}_v")?;
    }
    write!(out, ",temp_c")?;
    for i in 1..=cells {
        write!(out, ",true_soc{i}_pct")?;
    }
    for i in 1..=cells {
        write!(out, ",true_cell{i}_v")?;
    }
    writeln!(
        out,
        ",true_pack_soc_pct,true_min_temp_c,true_max_temp_c,bms_soc_pct,charge_switch_on,\
         discharge_switch_on,cvl_v,ccl_a,dcl_a,heater_on,fan_on,bleeding_cells,trips"
    )
}

/// Writes one row for the simulation's present state.
pub fn write_row(out: &mut impl Write, sim: &Simulation) -> io::Result<()> {
    let m = sim.measurement();
    let o = sim.outputs();
    write!(
        out,
        "{},{:.3}",
        sim.time_s(),
        f64::from(m.current_ma) / 1000.0
    )?;
    for mv in &m.cell_voltages_mv {
        write!(out, ",{:.3}", f64::from(*mv) / 1000.0)?;
    }
    let temps: Vec<f64> = m
        .temperatures_deci_c
        .iter()
        .flatten()
        .map(|d| f64::from(*d) / 10.0)
        .collect();
    if temps.is_empty() {
        write!(out, ",")?;
    } else {
        write!(
            out,
            ",{:.1}",
            temps.iter().sum::<f64>() / temps.len() as f64
        )?;
    }
    let pack = sim.pack();
    for i in 0..pack.cells.len() {
        write!(out, ",{:.3}", pack.cell_soc(i).unwrap_or(0.0) * 100.0)?;
    }
    for i in 0..pack.cells.len() {
        write!(out, ",{:.4}", pack.cell_voltage_v(i).unwrap_or(0.0))?;
    }
    let (coldest, hottest) = pack.temperature_range_c();
    let trips: Vec<&str> = o.trips.iter().map(|f| f.name()).collect();
    // 1-based, as the dashboard and the events number cells.
    let bleeding: Vec<String> = (0..pack.cells.len().min(32))
        .filter(|i| o.balancing.mask & (1 << i) != 0)
        .map(|i| (i + 1).to_string())
        .collect();
    writeln!(
        out,
        ",{:.3},{:.2},{:.2},{:.1},{},{},{:.2},{:.1},{:.1},{},{},{},{}",
        pack.soc() * 100.0,
        coldest,
        hottest,
        f64::from(o.soc_permille) / 10.0,
        u8::from(o.charge_switch_on),
        u8::from(o.discharge_switch_on),
        f64::from(o.limits.charge_voltage_mv) / 1000.0,
        f64::from(o.limits.charge_current_ma) / 1000.0,
        f64::from(o.limits.discharge_current_ma) / 1000.0,
        u8::from(o.heater_on),
        u8::from(o.fan_on),
        bleeding.join(" "),
        trips.join(" ")
    )
}
