//! The dashboard's data: frames in, a telemetry model out. Plain Rust with no browser types, so
//! it is tested natively; views read it through signals.

use crate::vendor::poll::Poller;
use crate::vendor::{Decoded, Protocol, Snapshot, VendorDecoder};
use bms_engine::protocol::{DeviceInfo, DeviceMessage, FrameDecoder, Telemetry};
use bms_engine::{Error, Event, EventKind, Fault, FaultSet, Level};
use std::collections::VecDeque;

/// Seconds without a frame after which the link counts as silent.
pub const SILENT_AFTER_MS: f64 = 5_000.0;

/// Events kept for display, newest last.
pub const EVENTS_KEPT: usize = 200;

/// The limits the battery tells its charger and inverter, in display units.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsView {
    /// Charge voltage limit, V.
    pub charge_voltage_v: f64,
    /// Charge current limit, A.
    pub charge_current_a: f64,
    /// Discharge current limit, A.
    pub discharge_current_a: f64,
    /// "absorption" or "float".
    pub phase: &'static str,
}

/// One decoded state report, in display units.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Device uptime, s.
    pub uptime_secs: f64,
    /// Pack voltage, V.
    pub pack_voltage_v: f64,
    /// Pack current, A (positive charges).
    pub current_a: f64,
    /// State of charge (mean of the cells), %.
    pub soc_pct: f64,
    /// Its 3σ bound, percentage points; `None` from an estimator without one.
    pub soc_bound_pct: Option<f64>,
    /// Usable state of charge of the series string, %, where the device tells it.
    pub usable_soc_pct: Option<f64>,
    /// Each cell's state of charge, %, cell 1 first.
    pub cell_soc_pct: Vec<f64>,
    /// State of health, %, once estimated.
    pub soh_pct: Option<f64>,
    /// Cell voltages, V, cell 1 first.
    pub cell_voltages_v: Vec<f64>,
    /// Each cell's ohmic resistance at 25 °C as the BMS has learnt it, mΩ, cell 1 first
    /// (`None`: not learnt yet); empty when the device does not say.
    pub cell_r0_mohm: Vec<Option<f64>>,
    /// Each cell's capacity as the BMS has learnt it, Ah, cell 1 first (`None`: not learnt
    /// yet); empty when the device does not say.
    pub cell_capacity_ah: Vec<Option<f64>>,
    /// The current sensor's offset (what it reads above the true current) as the BMS has
    /// learnt it, A, with its 1σ where the device says (protocol version 7 on); `None` when
    /// the device learns none.
    pub current_offset_a: Option<(f64, Option<f64>)>,
    /// Temperatures, °C, sensor 1 first; `None` where the sensor has no valid reading.
    pub temperatures_c: Vec<Option<f64>>,
    /// Whether current may flow into the pack (`None`: the device does not say).
    pub charge_switch_on: Option<bool>,
    /// Whether current may flow out of the pack (`None`: the device does not say).
    pub discharge_switch_on: Option<bool>,
    /// The contactor's state in words, for contactor hardware.
    pub contactor: Option<&'static str>,
    /// Whether a host holds every switch open (`None`: the device cannot be told to).
    pub switches_held_open: Option<bool>,
    /// Whether the charge switch stands open beside other packs on a shared bus, the pack
    /// wanting no charge (protocol version 8 on; `None`: the device does not say).
    pub charge_standby: Option<bool>,
    /// Whether the device reports its protections at all (the fault lists are empty when not).
    pub alarms_known: bool,
    /// Faults at trip level (switches open).
    pub faults: Vec<Fault>,
    /// Faults at warning or derate level (and not tripped).
    pub warnings: Vec<Fault>,
    /// Those of `warnings` at derate level (the current limits are reduced for them).
    pub derates: Vec<Fault>,
    /// Latched faults (need a reset).
    pub latched: Vec<Fault>,
    /// Cells being balanced, 0-based (`None`: the device does not say).
    pub balancing: Option<Vec<usize>>,
    /// An active balancer's transfer: from cell, to cell (0-based), current in A.
    pub transfer: Option<(usize, usize, f64)>,
    /// Limits told to the charger and inverter (`None`: the device does not say).
    pub limits: Option<LimitsView>,
    /// Heater on (`None`: the device has none it reports).
    pub heater_on: Option<bool>,
    /// Fan on (`None`: the device has none it reports).
    pub fan_on: Option<bool>,
    /// The protocol the reading came in.
    pub protocol: Protocol,
    /// Charge left and full capacity, Ah, where the device counts them itself.
    pub capacity_ah: Option<(f64, f64)>,
    /// Charge cycles the device has counted.
    pub cycles: Option<u32>,
    /// The CAN frames the device sends its inverter at this report, decoded.
    pub can_frames: Vec<CanRow>,
}

/// One inverter CAN frame: identifier, payload and what an inverter reads from it.
#[derive(Debug, Clone, PartialEq)]
pub struct CanRow {
    /// 11-bit identifier.
    pub id: u16,
    /// Payload bytes as hex, e.g. `28 02 …`.
    pub hex: String,
    /// The fields decoded from the bytes, in words and units.
    pub meaning: String,
}

/// Reads an inverter frame back from its bytes, as an inverter would (DOMAIN.md §4).
pub fn decode_can(frame: &bms_engine::can::CanFrame) -> CanRow {
    let d = frame.data;
    let u16_at = |i: usize| u16::from_le_bytes([d[i], d[i + 1]]);
    let i16_at = |i: usize| i16::from_le_bytes([d[i], d[i + 1]]);
    let bits = |byte: u8, names: &[(u8, &str)]| {
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| byte & (1 << bit) != 0)
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            "none".to_owned()
        } else {
            set.join(", ")
        }
    };
    const VT: [(u8, &str); 5] = [
        (1, "over-voltage"),
        (2, "under-voltage"),
        (3, "over-temperature"),
        (4, "under-temperature"),
        (7, "discharge over-current"),
    ];
    let meaning = match frame.id {
        0x351 => format!(
            "charge voltage limit {:.1} V · charge current limit {:.1} A · discharge current limit {:.1} A · discharge voltage limit {:.1} V",
            f64::from(u16_at(0)) / 10.0,
            f64::from(i16_at(2)) / 10.0,
            f64::from(i16_at(4)) / 10.0,
            f64::from(u16_at(6)) / 10.0
        ),
        0x355 => format!("SOC {} % · SOH {} %", u16_at(0), u16_at(2)),
        0x356 => format!(
            "voltage {:.2} V · current {:+.1} A · temperature {:.1} °C",
            f64::from(i16_at(0)) / 100.0,
            f64::from(i16_at(2)) / 10.0,
            f64::from(i16_at(4)) / 10.0
        ),
        0x359 => format!(
            "protection: {} · alarms: {} · {} module(s)",
            {
                let mut p = bits(d[0], &VT);
                let more = bits(d[1], &[(0, "charge over-current"), (3, "system error")]);
                if more != "none" {
                    p = if p == "none" {
                        more
                    } else {
                        format!("{p}, {more}")
                    };
                }
                p
            },
            {
                let mut a = bits(d[2], &VT);
                let more = bits(
                    d[3],
                    &[(0, "charge high current"), (3, "internal communication")],
                );
                if more != "none" {
                    a = if a == "none" {
                        more
                    } else {
                        format!("{a}, {more}")
                    };
                }
                a
            },
            d[4]
        ),
        0x35C => format!(
            "charge {} · discharge {}{}{}",
            if d[0] & 0x80 != 0 {
                "enabled"
            } else {
                "disabled"
            },
            if d[0] & 0x40 != 0 {
                "enabled"
            } else {
                "disabled"
            },
            if d[0] & 0x30 != 0 {
                " · force-charge requested"
            } else {
                ""
            },
            if d[0] & 0x08 != 0 {
                " · full charge requested"
            } else {
                ""
            }
        ),
        0x35E => format!(
            "manufacturer \"{}\"",
            String::from_utf8_lossy(&d).trim_end()
        ),
        _ => "unknown frame".to_owned(),
    };
    CanRow {
        id: frame.id,
        hex: d
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" "),
        meaning,
    }
}

impl Reading {
    pub(crate) fn from_telemetry(t: &Telemetry) -> Self {
        let trips = FaultSet::from_bits(t.trip_bits);
        let mild = FaultSet::from_bits((t.warning_bits | t.derate_bits) & !t.trip_bits);
        Reading {
            uptime_secs: t.uptime_ms as f64 / 1000.0,
            pack_voltage_v: f64::from(t.pack_voltage_mv) / 1000.0,
            current_a: f64::from(t.current_ma) / 1000.0,
            soc_pct: f64::from(t.soc_permille) / 10.0,
            soc_bound_pct: t.soc_bound_permille.map(|b| f64::from(b) / 10.0),
            usable_soc_pct: Some(f64::from(t.usable_soc_permille) / 10.0),
            cell_soc_pct: t
                .cell_soc_permille
                .iter()
                .map(|&p| f64::from(p) / 10.0)
                .collect(),
            soh_pct: t.soh_permille.map(|p| f64::from(p) / 10.0),
            cell_voltages_v: t
                .cell_voltages_mv
                .iter()
                .map(|&mv| f64::from(mv) / 1000.0)
                .collect(),
            cell_r0_mohm: t
                .cell_r0_micro_ohm
                .iter()
                .map(|&r| (r > 0).then(|| f64::from(r) / 1000.0))
                .collect(),
            cell_capacity_ah: t
                .cell_capacity_deci_ah
                .iter()
                .map(|&q| (q > 0).then(|| f64::from(q) / 10.0))
                .collect(),
            current_offset_a: current_offset_of(t),
            temperatures_c: t
                .temperatures_deci_c
                .iter()
                .map(|d| d.map(|d| f64::from(d) / 10.0))
                .collect(),
            charge_switch_on: Some(t.charge_switch_on),
            discharge_switch_on: Some(t.discharge_switch_on),
            contactor: t.contactor.map(|c| match c {
                bms_engine::switches::ContactorState::Open => "open",
                bms_engine::switches::ContactorState::Precharging { .. } => "pre-charging",
                bms_engine::switches::ContactorState::Closed => "closed",
                bms_engine::switches::ContactorState::Failed => "failed",
            }),
            switches_held_open: Some(t.switches_held_open),
            charge_standby: Some(t.charge_standby),
            alarms_known: true,
            faults: trips.iter().collect(),
            warnings: mild.iter().collect(),
            derates: FaultSet::from_bits(t.derate_bits & !t.trip_bits)
                .iter()
                .collect(),
            latched: FaultSet::from_bits(t.latched_bits).iter().collect(),
            balancing: Some((0..32).filter(|i| t.balance_mask & (1 << i) != 0).collect()),
            transfer: t.transfer.map(|x| {
                (
                    usize::from(x.from_cell),
                    usize::from(x.to_cell),
                    f64::from(x.current_ma) / 1000.0,
                )
            }),
            limits: Some(LimitsView {
                charge_voltage_v: f64::from(t.limits.charge_voltage_mv) / 1000.0,
                charge_current_a: f64::from(t.limits.charge_current_ma) / 1000.0,
                discharge_current_a: f64::from(t.limits.discharge_current_ma) / 1000.0,
                phase: match t.limits.phase {
                    bms_engine::limits::ChargePhase::Absorption => "absorption",
                    bms_engine::limits::ChargePhase::Float => "float",
                },
            }),
            heater_on: Some(t.heater_on),
            fan_on: Some(t.fan_on),
            protocol: Protocol::Cellsight,
            capacity_ah: None,
            cycles: None,
            can_frames: bms_engine::can::pylontech_frames(&t.inverter_report())
                .iter()
                .map(decode_can)
                .collect(),
        }
    }

    /// The reading a vendor BMS's snapshot makes at device time `time_s`: `None` until it has
    /// told voltage, current and SOC. What the protocol lacks stays unavailable.
    pub fn from_snapshot(s: &Snapshot, protocol: Protocol, time_s: f64) -> Option<Self> {
        let faults = s.faults.clone().unwrap_or_default();
        Some(Reading {
            uptime_secs: time_s,
            pack_voltage_v: s.pack_voltage_v?,
            current_a: s.current_a?,
            soc_pct: s.soc_pct?,
            soc_bound_pct: None,
            usable_soc_pct: None,
            cell_soc_pct: Vec::new(),
            soh_pct: s.soh_pct,
            cell_voltages_v: s.cell_voltages_v.clone(),
            cell_r0_mohm: Vec::new(),
            cell_capacity_ah: Vec::new(),
            current_offset_a: None,
            temperatures_c: s.temperatures_c.clone(),
            charge_switch_on: s.charge_switch_on,
            discharge_switch_on: s.discharge_switch_on,
            contactor: None,
            switches_held_open: None,
            charge_standby: None,
            alarms_known: s.faults.is_some(),
            faults,
            warnings: Vec::new(),
            derates: Vec::new(),
            latched: Vec::new(),
            balancing: s.balancing.clone(),
            transfer: None,
            limits: None,
            heater_on: None,
            fan_on: None,
            can_frames: Vec::new(),
            protocol,
            capacity_ah: s.remaining_ah.zip(s.full_ah),
            cycles: s.cycles,
        })
    }

    /// The point this reading makes in the history.
    pub fn history_point(&self) -> crate::history::HistoryPoint {
        let spread_v = match (self.min_cell(), self.max_cell()) {
            (Some((_, lo)), Some((_, hi))) => hi - lo,
            _ => 0.0,
        };
        let temperature_c =
            crate::history::temperature_range(self.temperatures_c.iter().flatten().copied());
        crate::history::HistoryPoint {
            time_s: self.uptime_secs,
            pack_voltage_v: self.pack_voltage_v,
            current_a: self.current_a,
            soc_pct: self.soc_pct,
            soc_bound_pct: self.soc_bound_pct,
            true_soc_pct: None,
            soh_pct: self.soh_pct,
            true_soh_pct: None,
            spread_mv: spread_v * 1000.0,
            temperature_c,
        }
    }

    /// Pack power, W (positive charges).
    pub fn power_w(&self) -> f64 {
        self.pack_voltage_v * self.current_a
    }

    /// Lowest cell: (cell number from 1, volts); on a tie, the first such cell.
    pub fn min_cell(&self) -> Option<(usize, f64)> {
        self.extreme(|candidate, best| candidate < best)
    }

    /// Highest cell: (cell number from 1, volts); on a tie, the first such cell.
    pub fn max_cell(&self) -> Option<(usize, f64)> {
        self.extreme(|candidate, best| candidate > best)
    }

    /// What the cells' learnt resistances say, once at least [`MIN_CELLS_FOR_R0`] cells are
    /// learnt; `None` before, or when the device does not say.
    pub fn resistances(&self) -> Option<Resistances> {
        let learnt = learnt_by_value(&self.cell_r0_mohm);
        if learnt.len() < MIN_CELLS_FOR_R0 {
            return None;
        }
        let n = learnt.len();
        let median_mohm = sorted_median(&learnt)?;
        let (lowest, highest) = (learnt[0], learnt[n - 1]);
        let stands_out = highest.1 >= OUTLIER_R0_FACTOR * median_mohm
            && highest.1 - median_mohm >= OUTLIER_R0_MIN_MOHM;
        Some(Resistances {
            cells: self.cell_r0_mohm.len(),
            learnt: n,
            lowest,
            highest,
            median_mohm,
            stands_out: stands_out.then_some(highest.0),
        })
    }

    /// What the BMS has learnt of its current sensor's offset, against the device's
    /// `rated_ah` where it is known; `None` when the device learns none.
    pub fn current_offset(&self, rated_ah: Option<f64>) -> Option<CurrentOffset> {
        self.current_offset_a
            .map(|(offset_a, sigma_a)| CurrentOffset {
                offset_a,
                sigma_a,
                rated_ah,
                moved: None,
                seen_learnt: false,
            })
    }

    /// What the cells' learnt capacities say, once any cell is learnt, against the device's
    /// `rated_ah` where it is known; `None` before, or when the device does not say.
    pub fn capacities(&self, rated_ah: Option<f64>) -> Option<Capacities> {
        let learnt = learnt_by_value(&self.cell_capacity_ah);
        let (&weakest, &strongest) = (learnt.first()?, learnt.last()?);
        let rated_ah = rated_ah.filter(|q| q.is_finite() && *q > 0.0);
        // The others: every learnt cell but the weakest.
        let others = &learnt[1..];
        let others_median_ah =
            sorted_median(others).filter(|_| others.len() >= MIN_OTHERS_FOR_CAPACITY);
        let weak = match (others_median_ah, rated_ah) {
            (Some(median), _) => weakest.1 < WEAK_CAPACITY_OF_OTHERS * median,
            (None, Some(rated)) => weakest.1 < WEAK_CAPACITY_OF_RATED * rated,
            (None, None) => false,
        };
        Some(Capacities {
            cells: self.cell_capacity_ah.len(),
            learnt: learnt.len(),
            weakest,
            strongest,
            others_median_ah,
            rated_ah,
            weak: weak.then_some(weakest.0),
        })
    }

    fn extreme(&self, better: fn(f64, f64) -> bool) -> Option<(usize, f64)> {
        let mut cells = self.cell_voltages_v.iter().copied().enumerate();
        let first = cells.next()?;
        let (i, v) = cells.fold(first, |best, c| if better(c.1, best.1) { c } else { best });
        Some((i + 1, v))
    }
}

/// The cells with a value learnt (finite and above 0: a device says 0 for "not yet"), as
/// (number from 1, value), smallest value first.
fn learnt_by_value(values: &[Option<f64>]) -> Vec<(usize, f64)> {
    let mut learnt: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite() && *v > 0.0).map(|v| (i + 1, v)))
        .collect();
    learnt.sort_by(|a, b| a.1.total_cmp(&b.1));
    learnt
}

/// The median value of `(cell, value)` pairs sorted by value; `None` for none.
fn sorted_median(sorted: &[(usize, f64)]) -> Option<f64> {
    let n = sorted.len();
    let upper = sorted.get(n / 2)?.1;
    // n ≥ 1 here, so an even n has a value below the middle.
    Some(if n.is_multiple_of(2) {
        (sorted[n / 2 - 1].1 + upper) / 2.0
    } else {
        upper
    })
}

/// Fewest learnt cells whose resistances are compared: with fewer, there is no "the others".
pub const MIN_CELLS_FOR_R0: usize = 3;
/// A cell's resistance stands out at this many times the cells' median …
pub const OUTLIER_R0_FACTOR: f64 = 2.0;
/// … and at least this far above it, mΩ: cells of one batch differ by a few percent, a loose
/// or corroded connection adds from tenths of a milliohm to several.
pub const OUTLIER_R0_MIN_MOHM: f64 = 0.2;

/// Fewest other learnt cells a cell's capacity is compared with; with fewer, it is compared
/// with the rated capacity.
pub const MIN_OTHERS_FOR_CAPACITY: usize = 2;
/// A cell is weak below this fraction of the other cells' median capacity (cells of one batch
/// are within a few percent; the estimate itself within about 2 %) …
pub const WEAK_CAPACITY_OF_OTHERS: f64 = 0.9;
/// … or, with too few others learnt, below this fraction of the rated capacity (the usual end
/// of a cell's life).
pub const WEAK_CAPACITY_OF_RATED: f64 = 0.8;

/// Above this 1σ, A, the current sensor's offset is not learnt yet: the estimator starts from
/// 1 A, and a sunny day's charge and evening rest bring it to about 0.35 A.
pub const OFFSET_LEARNT_SIGMA_A: f64 = 0.5;

/// An offset the owner should zero: left uncorrected it would miscount this fraction of the
/// rated capacity a day (0.35 A for 280 Ah). A BMS that has learnt it corrects it, but only
/// while its estimate keeps up, and nothing else that reads the sensor does.
const OFFSET_ZERO_OF_RATED_PER_DAY: f64 = 0.03;

/// The same without a rated capacity, A.
const OFFSET_ZERO_A: f64 = 0.5;

/// A learnt offset that moves this much within a day is a drifting sensor, A. Measured with
/// the emulator (scenarios but `aging-pack`, seeds 1–4, at least three days each): once learnt
/// the estimate moves at most 0.26 A in any 24 h, and at most 0.47 A while it settles on a
/// fixed offset of ±3 A; a sensor drifting 0.1 A an hour moves it 0.86–1.34 A.
pub const OFFSET_DRIFT_A: f64 = 0.6;

/// The window the learnt offset's movement is looked at over, s.
const OFFSET_DRIFT_WINDOW_S: f64 = 24.0 * 3600.0;

/// One kept estimate per this much device time, s (a day is then 144 of them).
const OFFSET_TRACK_EVERY_S: f64 = 600.0;

/// A report's learnt current-sensor offset and its σ, A.
fn current_offset_of(t: &Telemetry) -> Option<(f64, Option<f64>)> {
    let amps = |ma: f64| ma / 1000.0;
    t.current_bias_ma.map(|b| {
        (
            amps(f64::from(b)),
            t.current_bias_sigma_ma.map(|s| amps(f64::from(s))),
        )
    })
}

/// How far the learnt offset has moved lately (see [`OffsetTrack::moved`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffsetMove {
    /// Between the lowest and the highest estimate of the last day, A.
    pub amps: f64,
    /// Device time between those two estimates, h.
    pub hours: f64,
}

/// The learnt offset over the last day, to tell a drifting current sensor from one with a
/// fixed offset: the estimate of a fixed one settles, a drifting one's keeps walking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OffsetTrack {
    /// (device time, s; learnt offset, A), one every [`OFFSET_TRACK_EVERY_S`] at most, the
    /// last [`OFFSET_DRIFT_WINDOW_S`].
    kept: VecDeque<(f64, f64)>,
    /// The estimate has been learnt (its σ at most [`OFFSET_LEARNT_SIGMA_A`]) since the device
    /// last started: from then on its σ may grow again (a BMS that sees its sensor drift lets
    /// its estimate move faster, and less sure), but it is not being learnt from nothing.
    learnt: bool,
}

impl OffsetTrack {
    /// Notes a report's offset. Only one with its σ (protocol version 7 on) learnt since the
    /// device started counts: while it is first learnt it moves by design.
    pub fn note(&mut self, time_s: f64, offset: Option<(f64, Option<f64>)>) {
        let Some((offset_a, Some(sigma_a))) = offset else {
            return;
        };
        if self.kept.back().is_some_and(|&(t, _)| time_s < t) {
            // The device restarted: its clock and its estimate start again.
            self.kept.clear();
            self.learnt = false;
        }
        self.learnt |= sigma_a <= OFFSET_LEARNT_SIGMA_A;
        if !self.learnt {
            return;
        }
        match self.kept.back() {
            Some(&(t, _)) if time_s - t < OFFSET_TRACK_EVERY_S => return,
            _ => {}
        }
        self.kept.push_back((time_s, offset_a));
        while self
            .kept
            .front()
            .is_some_and(|&(t, _)| t <= time_s - OFFSET_DRIFT_WINDOW_S)
        {
            self.kept.pop_front();
        }
    }

    /// Whether the offset has been learnt since the device started.
    pub fn learnt(&self) -> bool {
        self.learnt
    }

    /// The largest move of the learnt offset within the last day; `None` before two
    /// estimates.
    pub fn moved(&self) -> Option<OffsetMove> {
        if self.kept.len() < 2 {
            return None;
        }
        let pick = |better: fn(f64, f64) -> bool| {
            self.kept
                .iter()
                .copied()
                .reduce(|held, x| if better(x.1, held.1) { x } else { held })
        };
        let (low_t, low) = pick(|x, held| x < held)?;
        let (high_t, high) = pick(|x, held| x > held)?;
        Some(OffsetMove {
            amps: high - low,
            hours: (high_t - low_t).abs() / 3600.0,
        })
    }
}

/// What the BMS has learnt of its current sensor's offset (see [`Reading::current_offset`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurrentOffset {
    /// What the sensor reads above the true current, A.
    pub offset_a: f64,
    /// The estimate's 1σ, A, where the device says.
    pub sigma_a: Option<f64>,
    /// The device's rated capacity, Ah, where it says.
    pub rated_ah: Option<f64>,
    /// How far the estimate has moved in the last day, where the session has seen it.
    pub moved: Option<OffsetMove>,
    /// The session has seen it learnt since the device started ([`OffsetTrack::learnt`]).
    pub seen_learnt: bool,
}

impl CurrentOffset {
    /// Whether the estimate has settled enough to be told as a number (or did so before in
    /// this session: a σ grown since is told beside it).
    pub fn learnt(&self) -> bool {
        self.seen_learnt || self.sigma_a.is_none_or(|s| s <= OFFSET_LEARNT_SIGMA_A)
    }

    /// Whether the offset is, beyond its uncertainty (3σ), big enough that the sensor's zero
    /// should be set.
    pub fn needs_zeroing(&self) -> bool {
        let size = self.offset_a.abs();
        // Without a σ (before protocol version 7) nothing is beyond doubt.
        let beyond_doubt = self.sigma_a.is_some_and(|s| size > 3.0 * s);
        let limit = self
            .rated_ah
            .map_or(OFFSET_ZERO_A, |q| q * OFFSET_ZERO_OF_RATED_PER_DAY / 24.0);
        self.learnt() && beyond_doubt && size >= limit
    }

    /// Whether the estimate keeps walking: the sensor's zero drifts.
    pub fn drifting(&self) -> bool {
        self.moved.is_some_and(|m| m.amps >= OFFSET_DRIFT_A)
    }

    /// Whether the owner should do something about the sensor.
    pub fn needs_attention(&self) -> bool {
        self.needs_zeroing() || self.drifting()
    }

    /// One line for the owner.
    pub fn summary(&self) -> String {
        let sigma = |s: f64| format!("±{s:.2} A, 1σ");
        if !self.learnt() {
            return format!(
                "Current sensor offset: not learnt yet ({}; the BMS learns it from how the \
                 cells' voltages follow the charge it counts: in a solar home, within about a \
                 day).",
                self.sigma_a.map_or_else(String::new, sigma)
            );
        }
        let size = self.offset_a.abs();
        let side = if self.offset_a > 0.0 { "high" } else { "low" };
        let Some(s) = self.sigma_a else {
            return format!(
                "Current sensor: the BMS estimates it reads {size:.2} A {side}; this device does \
                 not say how sure that is (its protocol is older than version 7)."
            );
        };
        let bounds = format!(" ({})", sigma(s));
        if size < 0.005 {
            return format!("Current sensor: no offset found{bounds}.");
        }
        let mut text = format!(
            "Current sensor: reads {size:.2} A {side}{bounds}, as the BMS has learnt; it takes \
             that off the reading before counting charge."
        );
        if self.needs_zeroing() {
            let per_day = size * 24.0;
            let share = self.rated_ah.map_or_else(String::new, |q| {
                format!(", {:.0} % of the rated {q:.0} Ah", per_day / q * 100.0)
            });
            text.push_str(&format!(
                " Uncorrected that is {per_day:.0} Ah a day{share}: set the sensor's zero \
                 (calibrate it with no current flowing)."
            ));
        }
        if let Some(m) = self.moved.filter(|_| self.drifting()) {
            text.push_str(&format!(
                " The estimate has moved {:.2} A in {:.0} h: the sensor's zero is drifting (a \
                 failing or heat-sensitive sensor does this). The BMS follows it, a day late and \
                 with wider bounds, so the SOC and the SOH are less sure than with a steady \
                 sensor: have the sensor checked.",
                m.amps, m.hours
            ));
        }
        text
    }
}

/// The cells' learnt capacities, in brief (see [`Reading::capacities`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacities {
    /// How many cells the device reports.
    pub cells: usize,
    /// How many of them are learnt.
    pub learnt: usize,
    /// The cell with the least capacity, the string's: (number from 1, Ah).
    pub weakest: (usize, f64),
    /// The cell with the most: (number from 1, Ah).
    pub strongest: (usize, f64),
    /// The median of the other learnt cells, Ah, once there are [`MIN_OTHERS_FOR_CAPACITY`].
    pub others_median_ah: Option<f64>,
    /// The device's rated capacity, Ah, where it says.
    pub rated_ah: Option<f64>,
    /// The weakest cell's number when it is weak: well below the others, or (with too few
    /// others learnt) below [`WEAK_CAPACITY_OF_RATED`] of the rated capacity.
    pub weak: Option<usize>,
}

impl Capacities {
    /// One line for the owner: the range, or the weak cell and what it means.
    pub fn summary(&self) -> String {
        let (lo_n, lo) = self.weakest;
        let (hi_n, hi) = self.strongest;
        let of_rated = |q: f64| {
            self.rated_ah.map_or_else(String::new, |rated| {
                format!("{:.0} % of the rated {rated:.0} Ah", q / rated * 100.0)
            })
        };
        let then = |prefix: &str, text: String| {
            if text.is_empty() {
                text
            } else {
                format!("{prefix}{text}")
            }
        };
        let learnt = if self.learnt < self.cells {
            format!(" ({} of {} cells learnt)", self.learnt, self.cells)
        } else {
            String::new()
        };
        match self.weak {
            Some(n) => format!(
                "Cell {n}: {lo:.1} Ah{}{}. The pack holds only what cell {n} holds, and \
                 balancing cannot give it back. A cell this far below the others is worn or \
                 faulty; one that also falls behind them at rest is losing charge inside (an \
                 internal short).",
                self.others_median_ah
                    .map_or_else(String::new, |m| format!(" (the others: {m:.1} Ah)")),
                then(", ", of_rated(lo)),
            ),
            None if self.learnt == 1 => format!(
                "Capacity: cell {lo_n} {lo:.1} Ah{}{learnt}.",
                then(", ", of_rated(lo))
            ),
            None => format!(
                "Capacity: {lo:.1} Ah (cell {lo_n}) to {hi:.1} Ah (cell {hi_n}){}{learnt}; none \
                 stands out.",
                then(", the lowest ", of_rated(lo))
            ),
        }
    }
}

/// The cells' learnt resistances at 25 °C, in brief (see [`Reading::resistances`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resistances {
    /// How many cells the device reports.
    pub cells: usize,
    /// How many of them are learnt.
    pub learnt: usize,
    /// The least resistive cell: (number from 1, mΩ).
    pub lowest: (usize, f64),
    /// The most resistive cell: (number from 1, mΩ).
    pub highest: (usize, f64),
    /// The median of the learnt cells, mΩ.
    pub median_mohm: f64,
    /// The most resistive cell's number when it stands out from the others (twice their median
    /// and [`OUTLIER_R0_MIN_MOHM`] above it): a connection or a cell to look at.
    pub stands_out: Option<usize>,
}

impl Resistances {
    /// One line for the owner: the spread, or the cell to look at and why.
    pub fn summary(&self) -> String {
        let (lo_n, lo) = self.lowest;
        let (hi_n, hi) = self.highest;
        match self.stands_out {
            Some(n) => format!(
                "Cell {n}: {hi:.2} mΩ, {:.0}× the cells' median ({:.2} mΩ). A loose or corroded \
                 connection looks like this: check cell {n}'s busbars and terminal screws.",
                hi / self.median_mohm,
                self.median_mohm
            ),
            None => format!(
                "Resistance at 25 °C: {lo:.2} mΩ (cell {lo_n}) to {hi:.2} mΩ (cell {hi_n}){}; \
                 none stands out.",
                if self.learnt < self.cells {
                    format!(", {} of {} cells learnt", self.learnt, self.cells)
                } else {
                    String::new()
                }
            ),
        }
    }
}

/// `value` with its sign and `decimals` places, and "+0.0" for anything that rounds to zero:
/// formatted as it is, −0.04 A to one place reads "-0.0", a current that seems to flow out.
pub fn signed(value: f64, decimals: usize) -> String {
    let text = format!("{value:+.decimals$}");
    if text.bytes().all(|b| matches!(b, b'+' | b'-' | b'0' | b'.')) {
        format!("{:+.decimals$}", 0.0)
    } else {
        text
    }
}

/// A duration for a person: "2 h 05 min", "45 min", or "more than 10 days".
pub fn duration_text(hours: f64) -> String {
    if !hours.is_finite() || hours > 240.0 {
        return "more than 10 days".to_owned();
    }
    let minutes = (hours.max(0.0) * 60.0).round() as u64;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

/// A stretch of device time for a person: "45 min", "26 h 05 min", "46 days 12 h" (from two
/// days up, where minutes no longer matter).
pub fn span_text(secs: f64) -> String {
    let minutes = (secs.max(0.0) / 60.0).round() as u64;
    if minutes < 48 * 60 {
        return duration_text(minutes as f64 / 60.0);
    }
    let hours = (minutes + 30) / 60;
    match (hours / 24, hours % 24) {
        (d, 0) => format!("{d} days"),
        (d, h) => format!("{d} days {h} h"),
    }
}

/// A fault's name as a person reads it.
pub fn fault_label(fault: Fault) -> &'static str {
    match fault {
        Fault::CellOverVoltage => "over-voltage",
        Fault::CellUnderVoltage => "under-voltage",
        Fault::PackOverVoltage => "pack over-voltage",
        Fault::PackUnderVoltage => "pack under-voltage",
        Fault::ChargeOverCurrent => "charge over-current",
        Fault::DischargeOverCurrent => "discharge over-current",
        Fault::ShortCircuit => "short circuit",
        Fault::ChargeOverTemperature => "too hot to charge",
        Fault::ChargeUnderTemperature => "too cold to charge",
        Fault::DischargeOverTemperature => "over-temperature",
        Fault::DischargeUnderTemperature => "too cold to discharge",
        Fault::CellImbalance => "cell imbalance",
        Fault::OpenWire => "open sense wire",
        Fault::SensorOutOfRange => "sensor reading out of range",
        Fault::StuckSensor => "stuck sensor",
        Fault::PackVoltageMismatch => "pack voltage mismatch",
        Fault::TemperatureDisagreement => "temperature sensors disagree",
        Fault::FrontEndLost => "front end not responding",
        Fault::MeasurementInvalid => "measurement invalid",
        Fault::PrechargeFailed => "pre-charge failed",
        Fault::CellSelfDischarge => "self-discharge",
    }
}

/// One line of the alarms card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmLine {
    /// The fault.
    pub fault: Fault,
    /// The fault's name: "too cold to charge".
    pub label: &'static str,
    /// Where, for a fault at a cell or a sensor, as its newest event says: "cell 5". The
    /// report carries only which faults are active; the events carry where.
    pub place: Option<String>,
    /// What the BMS does about it, where that is known: "charging stopped · reset needed",
    /// "current limits reduced", "warning". Empty for a vendor BMS's protection: its own
    /// firmware decides, and the switches card shows what it did.
    pub consequence: String,
    /// Trip level (red), else warning or derate (amber).
    pub trip: bool,
}

/// What the cards say of measurements the BMS could not renew.
pub const STALE_NOTE: &str = "last reading before the front end stopped answering";

impl Reading {
    /// Whether the measurements are old: the BMS reports that its analog front end stopped
    /// answering, so it (and this page) holds the last ones it had. A current "charging, full
    /// in 52 h" would be a claim about a pack whose switches are open.
    pub fn measurements_stale(&self) -> bool {
        self.faults.contains(&Fault::FrontEndLost)
    }

    /// The alarms card's lines, trips first.
    pub fn alarm_lines(&self) -> Vec<AlarmLine> {
        let ours = self.protocol == Protocol::Cellsight;
        let trips = self.faults.iter().map(|&f| {
            let (opens_charge, opens_discharge) = f.trip_opens();
            let action = match (opens_charge, opens_discharge) {
                (true, true) => "charging and discharging stopped",
                (true, false) => "charging stopped",
                (false, true) => "discharging stopped",
                (false, false) => "reported",
            };
            let mut consequence = if ours {
                action.to_owned()
            } else {
                String::new()
            };
            if self.latched.contains(&f) {
                if !consequence.is_empty() {
                    consequence.push_str(" · ");
                }
                consequence.push_str("reset needed");
            }
            AlarmLine {
                fault: f,
                label: fault_label(f),
                place: None,
                consequence,
                trip: true,
            }
        });
        let milder = self.warnings.iter().map(|&f| AlarmLine {
            fault: f,
            label: fault_label(f),
            place: None,
            consequence: match (ours, self.derates.contains(&f)) {
                (false, _) => String::new(),
                (true, true) => "current limits reduced".to_owned(),
                (true, false) => "warning".to_owned(),
            },
            trip: false,
        });
        trips.chain(milder).collect()
    }
}

/// The unit an event's value is in, and how to print it.
fn value_text(fault: Fault, value: i32) -> String {
    match fault {
        Fault::CellOverVoltage
        | Fault::CellUnderVoltage
        | Fault::PackOverVoltage
        | Fault::PackUnderVoltage
        | Fault::PackVoltageMismatch => format!("{:.3} V", f64::from(value) / 1000.0),
        Fault::CellImbalance => format!("{value} mV"),
        Fault::ChargeOverCurrent | Fault::DischargeOverCurrent => {
            format!("{:.1} A", f64::from(value) / 1000.0)
        }
        Fault::ChargeOverTemperature
        | Fault::ChargeUnderTemperature
        | Fault::DischargeOverTemperature
        | Fault::DischargeUnderTemperature => format!("{:.1} °C", f64::from(value) / 10.0),
        // The hottest and the coldest sensor's difference.
        Fault::TemperatureDisagreement => format!("{:.1} °C apart", f64::from(value) / 10.0),
        Fault::FrontEndLost => format!("{:.1} s", f64::from(value) / 1000.0),
        Fault::CellSelfDischarge => format!("{:.2} A", f64::from(value) / 1000.0),
        _ => value.to_string(),
    }
}

/// Where an event happened, numbered from 1 as a person counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Cell(u32),
    Sensor(u32),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Cell(n) => write!(f, "cell {n}"),
            Place::Sensor(n) => write!(f, "sensor {n}"),
        }
    }
}

/// The cell or temperature sensor an event is located at, if any (pack-level faults and a
/// host's commands have none).
fn place(event: &Event) -> Option<Place> {
    let n = u32::from(event.location?) + 1;
    if !event.kind.is_about_a_fault() {
        None
    } else if event.fault.located_at_cell() {
        Some(Place::Cell(n))
    } else if matches!(
        event.fault,
        Fault::ChargeOverTemperature
            | Fault::ChargeUnderTemperature
            | Fault::DischargeOverTemperature
            | Fault::DischargeUnderTemperature
            | Fault::TemperatureDisagreement
    ) {
        Some(Place::Sensor(n))
    } else {
        None
    }
}

/// Columns of [`Session::events_csv`].
pub const EVENTS_CSV_COLUMNS: [&str; 8] = [
    "sequence",
    "device_time_s",
    "time",
    "kind",
    "fault",
    "level",
    "where",
    "explanation",
];

/// One sentence explaining an event: "Cell 7 over-voltage tripped at 3.702 V (limit 3.650 V)
/// after 2.0 s."
pub fn explain(event: &Event) -> String {
    let subject = match place(event) {
        Some(Place::Cell(n)) => {
            // "Cell 5 imbalance", not "Cell 5 cell imbalance".
            let label = fault_label(event.fault);
            let label = label.strip_prefix("cell ").unwrap_or(label);
            format!("Cell {n} {label}")
        }
        // Located at the hottest sensor: "Sensor 2 temperature sensors disagree" said it badly.
        Some(Place::Sensor(n)) if event.fault == Fault::TemperatureDisagreement => {
            format!("Temperature-sensor disagreement (sensor {n} the hottest)")
        }
        Some(Place::Sensor(n)) => format!("Sensor {n} {}", fault_label(event.fault)),
        None => {
            let label = fault_label(event.fault);
            let mut c = label.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        }
    };
    let level = match event.level {
        Level::Warning => "warning",
        Level::Derate => "derating",
        Level::Trip => "protection",
    };
    let value = value_text(event.fault, event.value);
    let limit = value_text(event.fault, event.limit);
    // What the BMS did about it, from the protection table's switch columns.
    let (opens_charge, opens_discharge) = event.fault.trip_opens();
    let action = match (event.level, opens_charge, opens_discharge) {
        (Level::Trip, true, true) => "charging and discharging stopped",
        (Level::Trip, true, false) => "charging stopped; discharging still allowed",
        (Level::Trip, false, true) => "discharging stopped; charging still allowed",
        (Level::Trip, false, false) => "reported",
        (Level::Derate, _, _) => "current limits reduced",
        (Level::Warning, _, _) => "a warning; nothing switched",
    };
    let resumed = match (event.level, opens_charge, opens_discharge) {
        (Level::Trip, true, true) => "charging and discharging allowed again",
        (Level::Trip, true, false) => "charging allowed again",
        (Level::Trip, false, true) => "discharging allowed again",
        (Level::Derate, _, _) => "full current limits again",
        _ => "back to normal",
    };
    // Flags and counts have no value worth a number in a sentence, only how many channels.
    let measured = !matches!(
        event.fault,
        Fault::ShortCircuit
            | Fault::OpenWire
            | Fault::SensorOutOfRange
            | Fault::StuckSensor
            | Fault::MeasurementInvalid
            | Fault::PrechargeFailed
    );
    let delay = f64::from(event.delay_ms) / 1000.0;
    // A rule without a delay acts at once (its signal is itself a time, or a tracker timed it):
    // "after 0.0 s" would read as a glitch.
    let after = if event.delay_ms == 0 {
        String::new()
    } else {
        format!(" after {delay:.1} s")
    };
    match event.kind {
        // The check's value is a rate of charge lost, compared over days: say so.
        EventKind::Tripped if event.fault == Fault::CellSelfDischarge => format!(
            "{subject} {level}: it loses {value} more than the other cells (limit {limit}){}: \
             {action}.",
            if event.level == Level::Trip {
                "; an internal short is suspected"
            } else {
                ""
            }
        ),
        EventKind::Tripped if measured => {
            format!("{subject} {level} at {value} (limit {limit}){after}: {action}.")
        }
        EventKind::Tripped if event.value > 1 => format!(
            "{subject} {level} on {} channels{after}: {action}.",
            event.value
        ),
        EventKind::Tripped => format!("{subject} {level}{after}: {action}."),
        EventKind::Cleared if measured => {
            format!("{subject} {level} cleared at {value} (release {limit}): {resumed}.")
        }
        EventKind::Cleared => format!("{subject} {level} cleared: {resumed}."),
        EventKind::Latched => {
            format!("{subject} {level} latched: it tripped repeatedly; reset needed.")
        }
        EventKind::Reset => format!("{subject} reset by the user."),
        // A host's command names no fault: the subject and numbers above say nothing of it.
        EventKind::SwitchesHeldOpen => "Both switches held open by a host command: charging and \
                                        discharging stopped until they are given back to \
                                        protection."
            .to_owned(),
        EventKind::SwitchesGivenBack => {
            "Switches given back to protection by a host command: protection decides again."
                .to_owned()
        }
        // The contactor's sequence: its numbers are volts and the pre-charge time.
        EventKind::ContactorClosed => format!(
            "Pre-charge done in {delay:.1} s (DC bus {:.1} V, pack {:.1} V): main contactor \
             closed, the pack connected.",
            f64::from(event.value) / 1000.0,
            f64::from(event.limit) / 1000.0
        ),
        EventKind::ContactorOpened => format!(
            "Main contactor opened at {:.1} V: the pack disconnected, charging and discharging \
             stopped.",
            f64::from(event.value) / 1000.0
        ),
        // The charge switch's standby beside other packs: volts, or the current that closed it.
        EventKind::ChargeStandby => format!(
            "Charge switch opened at {:.2} V to stand by: the pack takes no more charge, and the \
             other packs on the bus charge on without it. It still discharges.",
            f64::from(event.value) / 1000.0
        ),
        EventKind::ChargeResumed if event.value < 0 => format!(
            "Charge switch closed again: the pack is giving {:.1} A to the bus.",
            -f64::from(event.value) / 1000.0
        ),
        EventKind::ChargeResumed => {
            "Charge switch given back to protection: the pack no longer stands by.".to_owned()
        }
    }
}

/// An event as kept by the session.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Sequence number on the device.
    pub sequence: u64,
    /// The event.
    pub event: Event,
}

/// What one batch of bytes held, for the recording's description (so the recorder need not
/// decode the same bytes again).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ingested {
    /// Telemetry reports decoded.
    pub reports: u64,
    /// Device time they moved on from the report before, s (a restart adds nothing).
    pub advanced_s: f64,
    /// Device time of the last of them, s.
    pub last_device_time_s: Option<f64>,
}

impl Ingested {
    /// This batch followed by `later`.
    pub fn then(self, later: Ingested) -> Ingested {
        Ingested {
            reports: self.reports + later.reports,
            advanced_s: self.advanced_s + later.advanced_s,
            last_device_time_s: later.last_device_time_s.or(self.last_device_time_s),
        }
    }
}

/// How the link to the device is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkState {
    /// Nothing received yet.
    Waiting,
    /// Frames are arriving.
    Live,
    /// Frames stopped arriving this many seconds ago.
    Silent {
        /// Seconds since the last good frame.
        secs: f64,
    },
}

/// Everything the dashboard knows about the connected device.
#[derive(Debug, Clone, Default)]
pub struct Session {
    decoder: FrameDecoder<DeviceMessage>,
    /// Identity, once the device has sent it.
    pub device: Option<DeviceInfo>,
    /// The latest state report.
    pub latest: Option<Reading>,
    /// The latest state report of a Cellsight device as it came (what it would tell its
    /// inverter is worked out from it); `None` from other BMSs.
    pub telemetry: Option<Telemetry>,
    /// Frames decoded.
    pub frames_ok: u64,
    /// Frames rejected (bad checksum, bad encoding, unknown version…).
    pub frames_rejected: u64,
    /// Why the last frame was rejected.
    pub last_error: Option<Error>,
    /// When the last good frame arrived, ms on the caller's clock.
    pub last_frame_at_ms: Option<f64>,
    /// Recent events, oldest first (at most [`EVENTS_KEPT`]).
    pub events: VecDeque<LoggedEvent>,
    /// A problem with the device itself worth telling the user (e.g. a protocol mismatch).
    pub device_problem: Option<String>,
    /// One point per state report, for the history charts.
    pub history: crate::history::History,
    /// Energy into and out of the pack since the session started, Wh (from the reports: the
    /// mean power of two reports times the device time between them).
    pub energy_wh: (f64, f64),
    /// Device time and power of the last report, for the energy count.
    last_power: Option<(f64, f64)>,
    /// How the bytes are read: Cellsight frames, a vendor protocol, or still finding out.
    reader: Reader,
    /// A vendor BMS's figures so far.
    snapshot: Snapshot,
    /// Requests to a BMS that only answers (vendor protocols, and probes while detecting).
    poller: Option<Poller>,
    /// When the first bytes of a vendor device arrived, ms (its reports carry no time).
    vendor_started_ms: Option<f64>,
    /// Why the last vendor frame was rejected.
    pub last_vendor_error: Option<String>,
    /// The configuration exchange with a Cellsight device.
    pub config: ConfigExchange,
    /// The current sensor's learnt offset over the last day.
    pub offset_track: OffsetTrack,
    /// How many events the device had recorded at its first report to this session: events
    /// numbered from here on happened while the page watched, those before are its backlog.
    events_at_connect: Option<u64>,
    /// With packs in parallel (the emulator's bank), every pack's latest report; the stream
    /// above is pack 1's.
    pub bank: crate::bank::BankView,
}

/// What the page tells when it has no reading.
pub const TAB_TITLE: &str = "Cellsight — battery dashboard";

/// A trip told as a browser notification (see [`Session::trip_notices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// "Battery trip: over-voltage".
    pub title: String,
    /// The event's sentence, as the event list tells it.
    pub body: String,
    /// One notification per fault: a repeat replaces the last one instead of piling up.
    pub tag: String,
}

impl Notice {
    /// Whose a notice is, as its title begins: the emulator's is never taken for a battery.
    pub fn whose(emulated: bool) -> &'static str {
        if emulated {
            "Emulated battery"
        } else {
            "Battery"
        }
    }
}

/// What a Cellsight device has said about its configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigExchange {
    /// Its configuration, as it last sent it.
    pub device: Option<bms_engine::PackConfig>,
    /// The request that configuration answered (0: sent unasked).
    pub answered: Option<u16>,
    /// The outcome of the last request it acknowledged: (request id, result).
    pub ack: Option<(u16, bms_engine::protocol::AckResult)>,
    /// The rules a rejected write broke, as the device reported them: (field, rule).
    pub violations: Vec<(String, String)>,
}

/// How a session reads its bytes.
#[derive(Debug, Clone, Default)]
enum Reader {
    /// Cellsight wire frames.
    #[default]
    Cellsight,
    /// A vendor protocol.
    Vendor(VendorDecoder),
    /// Trying every protocol on the same bytes until one reads a good frame.
    Detecting(Box<Detector>),
}

/// Every protocol's decoder on the same bytes, and the bytes so far (to replay to the winner).
#[derive(Debug, Clone)]
struct Detector {
    cellsight: FrameDecoder<DeviceMessage>,
    vendors: Vec<(VendorDecoder, Snapshot)>,
    seen: Vec<u8>,
}

/// The most bytes kept while detecting; older ones are not replayed.
const DETECT_KEEP: usize = 8 * 1024;

impl Detector {
    fn new() -> Self {
        Detector {
            cellsight: FrameDecoder::default(),
            vendors: Protocol::ALL
                .into_iter()
                .filter_map(VendorDecoder::new)
                .map(|d| (d, Snapshot::default()))
                .collect(),
            seen: Vec::new(),
        }
    }

    /// Feeds bytes to every decoder; the protocol of the first good frame, if any. The bytes
    /// are kept to be read again by the winner: all of this batch, and up to [`DETECT_KEEP`]
    /// from before it.
    fn feed(&mut self, bytes: &[u8]) -> Option<Protocol> {
        let excess = self.seen.len().saturating_sub(DETECT_KEEP);
        self.seen.drain(..excess);
        self.seen.extend_from_slice(bytes);
        let mut found = None;
        self.cellsight.feed(bytes, |r| {
            if r.is_ok() {
                found = Some(Protocol::Cellsight);
            }
        });
        for (decoder, snapshot) in &mut self.vendors {
            let protocol = decoder.protocol;
            decoder.feed(bytes, snapshot, |r| {
                if r.is_ok() && found.is_none() {
                    found = Some(protocol);
                }
            });
        }
        found
    }
}

/// The requests a protocol needs polled, and how.
fn poller_for(protocol: Protocol) -> Option<Poller> {
    use crate::vendor::{daly, jbd, jk, poll};
    match protocol {
        Protocol::Cellsight => None,
        Protocol::Jbd => Some(Poller::new(jbd::poll_requests(), poll::TIMING)),
        // JK streams once asked: ask again only every ten seconds.
        Protocol::Jk => Some(Poller::new(
            jk::poll_requests(),
            poll::Timing {
                round_ms: 10_000.0,
                ..poll::TIMING
            },
        )),
        // A BMS on RS485 answers the host address 0x40, on UART and Bluetooth 0x80: the
        // poller tries the other when one goes unanswered.
        Protocol::Daly => Some(
            Poller::new(daly::poll_requests(), poll::TIMING)
                .with_alternate(daly::poll_requests_from(daly::RS485_HOST_ADDRESS)),
        ),
        Protocol::DalyModbus => Some(Poller::new(daly::modbus_poll_requests(), poll::TIMING)),
    }
}

/// While detecting: one request of each answering protocol in turn, one try each.
fn probe_poller() -> Poller {
    use crate::vendor::{daly, jbd, poll};
    Poller::new(
        vec![
            jbd::read_request(jbd::BASIC),
            daly::request(0x90, [0; 8]),
            daly::modbus_read(0, daly::MODBUS_REGISTERS),
            daly::request_from(daly::RS485_HOST_ADDRESS, 0x90, [0; 8]),
        ],
        poll::Timing {
            timeout_ms: 700.0,
            round_ms: 0.0,
            tries: 1,
            ..poll::TIMING
        },
    )
}

impl Session {
    /// `lines` (the latest report's alarms) with where each is, from the newest event that
    /// raised it: at its level for a trip, at warning or derate for the milder ones.
    pub fn place_alarms(&self, mut lines: Vec<AlarmLine>) -> Vec<AlarmLine> {
        for line in &mut lines {
            line.place = self
                .events
                .iter()
                .rev()
                .find(|e| {
                    e.event.kind == EventKind::Tripped
                        && e.event.fault == line.fault
                        && (e.event.level == Level::Trip) == line.trip
                })
                .and_then(|e| place(&e.event))
                .map(|p| p.to_string());
        }
        lines
    }

    /// A session for a device speaking `protocol`, or, with `None`, one that finds out from
    /// the bytes (sending each answering protocol's request in turn meanwhile).
    pub fn for_protocol(protocol: Option<Protocol>) -> Self {
        let mut session = Session::default();
        session.set_protocol(protocol);
        session
    }

    fn set_protocol(&mut self, protocol: Option<Protocol>) {
        self.reader = match protocol {
            None => Reader::Detecting(Box::new(Detector::new())),
            Some(p) => VendorDecoder::new(p).map_or(Reader::Cellsight, Reader::Vendor),
        };
        self.poller = match protocol {
            None => Some(probe_poller()),
            Some(p) => poller_for(p),
        };
    }

    /// The protocol the bytes are read in; `None` while still finding out.
    pub fn protocol(&self) -> Option<Protocol> {
        match &self.reader {
            Reader::Cellsight => Some(Protocol::Cellsight),
            Reader::Vendor(d) => Some(d.protocol),
            Reader::Detecting(_) => None,
        }
    }

    /// What to send the device at `now_ms`, if anything (polling and probing).
    pub fn due_request(&mut self, now_ms: f64) -> Option<Vec<u8>> {
        self.poller.as_mut()?.due(now_ms)
    }

    /// Polling so far: requests sent again, requests never answered, and how many in a row
    /// are unanswered now; `None` for a device that streams.
    pub fn polling(&self) -> Option<(u64, u64, u64)> {
        self.poller
            .as_ref()
            .map(|p| (p.retries, p.missed, p.unanswered_in_a_row))
    }

    /// The link ended: a half-received frame is dropped, never shown.
    pub fn link_ended(&mut self) {
        self.decoder = FrameDecoder::default();
        if let Reader::Vendor(d) = &mut self.reader {
            d.reset();
        }
    }

    /// Hours until the pack is full (charging) or empty (discharging) at the present current,
    /// from the usable SOC and the device's capacity (scaled by SOH once known): `(hours,
    /// full)`; `None` when idle or before the device has said its capacity.
    pub fn time_to_full_or_empty(&self) -> Option<(f64, bool)> {
        let r = self.latest.as_ref()?;
        // Charge to go and charge left, Ah: the vendor BMS's own count, or the usable SOC of
        // the capacity a Cellsight device told (scaled by SOH once known).
        let (to_full_ah, left_ah) = match (r.capacity_ah, r.usable_soc_pct) {
            (Some((left, full)), _) => ((full - left).max(0.0), left),
            (None, Some(usable)) => {
                let capacity_ah = f64::from(self.device.as_ref()?.capacity_mah) / 1000.0
                    * r.soh_pct.map_or(1.0, |s| s / 100.0);
                (
                    (100.0 - usable) / 100.0 * capacity_ah,
                    usable / 100.0 * capacity_ah,
                )
            }
            (None, None) => return None,
        };
        if r.current_a > 0.5 {
            Some((to_full_ah / r.current_a, true))
        } else if r.current_a < -0.5 {
            Some((left_ah / -r.current_a, false))
        } else {
            None
        }
    }

    /// Feeds bytes received at `now_ms`; rejected frames are counted, never shown as data.
    pub fn ingest(&mut self, bytes: &[u8], now_ms: f64) -> Ingested {
        if let Some(p) = &mut self.poller {
            p.heard(now_ms);
        }
        match &mut self.reader {
            Reader::Cellsight => self.ingest_cellsight(bytes, now_ms),
            Reader::Vendor(_) => self.ingest_vendor(bytes, now_ms),
            Reader::Detecting(detector) => {
                let Some(found) = detector.feed(bytes) else {
                    return Ingested::default();
                };
                let seen = std::mem::take(&mut detector.seen);
                self.set_protocol(Some(found));
                self.ingest(&seen, now_ms)
            }
        }
    }

    fn ingest_vendor(&mut self, bytes: &[u8], now_ms: f64) -> Ingested {
        let Reader::Vendor(decoder) = &mut self.reader else {
            return Ingested::default();
        };
        let protocol = decoder.protocol;
        let (mut good, mut reports) = (0, 0);
        let (mut rejected, mut last_error) = (0, None);
        decoder.feed(bytes, &mut self.snapshot, |r| match r {
            Ok(decoded) => {
                good += 1;
                if decoded == Decoded::Report {
                    reports += 1;
                }
            }
            Err(e) => {
                rejected += 1;
                last_error = Some(e.to_string());
            }
        });
        self.frames_ok += good;
        self.frames_rejected += rejected;
        if last_error.is_some() {
            self.last_vendor_error = last_error;
        }
        let mut ingested = Ingested::default();
        if good == 0 {
            return ingested;
        }
        self.last_frame_at_ms = Some(now_ms);
        if let Some(p) = &mut self.poller {
            p.answered(now_ms);
        }
        let started = *self.vendor_started_ms.get_or_insert(now_ms);
        let time_s = (now_ms - started) / 1000.0;
        if reports == 0 {
            // Details (cells, temperatures…) update the reading on screen straight away.
            if let Some(r) = Reading::from_snapshot(&self.snapshot, protocol, time_s) {
                self.latest = Some(r);
            }
            return ingested;
        }
        let Some(reading) = Reading::from_snapshot(&self.snapshot, protocol, time_s) else {
            return ingested;
        };
        let point = reading.history_point();
        ingested.reports = 1;
        ingested.last_device_time_s = Some(time_s);
        self.count_energy(&point, &mut ingested);
        self.history.push(point);
        self.latest = Some(reading);
        ingested
    }

    /// Adds the energy moved since the last report (mean power × device time between them).
    fn count_energy(&mut self, point: &crate::history::HistoryPoint, ingested: &mut Ingested) {
        let power_w = point.pack_voltage_v * point.current_a;
        if let Some((time_s, previous_w)) = self.last_power {
            ingested.advanced_s += (point.time_s - time_s).max(0.0);
            let hours = (point.time_s - time_s) / 3600.0;
            if hours > 0.0 {
                let wh = (power_w + previous_w) / 2.0 * hours;
                if wh > 0.0 {
                    self.energy_wh.0 += wh;
                } else {
                    self.energy_wh.1 -= wh;
                }
            }
        }
        self.last_power = Some((point.time_s, power_w));
    }

    fn ingest_cellsight(&mut self, bytes: &[u8], now_ms: f64) -> Ingested {
        let mut decoder = std::mem::take(&mut self.decoder);
        let mut newest = None;
        let mut ingested = Ingested::default();
        decoder.feed(bytes, |result| match result {
            Ok(message) => {
                self.frames_ok += 1;
                self.last_frame_at_ms = Some(now_ms);
                match message {
                    DeviceMessage::DeviceInfo(info) => self.device = Some(info),
                    DeviceMessage::Telemetry(t) => {
                        // Every report feeds the history and the energy count; only the last
                        // of a batch becomes the reading on screen (at 3600× a batch holds
                        // thousands of one-second reports).
                        let point = crate::history::HistoryPoint::of_telemetry(&t);
                        ingested.reports += 1;
                        ingested.last_device_time_s = Some(point.time_s);
                        self.count_energy(&point, &mut ingested);
                        self.offset_track.note(point.time_s, current_offset_of(&t));
                        self.events_at_connect.get_or_insert(t.events_recorded);
                        self.history.push(point);
                        newest = Some(t);
                    }
                    DeviceMessage::Event { sequence, event } => {
                        let known = self.events.back().is_some_and(|e| e.sequence >= sequence);
                        if !known {
                            if self.events.len() == EVENTS_KEPT {
                                self.events.pop_front();
                            }
                            self.events.push_back(LoggedEvent { sequence, event });
                        }
                    }
                    DeviceMessage::VersionMismatch {
                        device_version,
                        host_version,
                    } => {
                        self.device_problem = Some(format!(
                            "The device speaks protocol version {device_version}, this dashboard \
                             version {host_version}: update the one that is older."
                        ));
                    }
                    DeviceMessage::Config { request_id, config } => {
                        self.config.device = Some(config);
                        self.config.answered = Some(request_id);
                    }
                    DeviceMessage::Ack { request_id, result } => {
                        self.config.ack = Some((request_id, result));
                        self.config.violations.clear();
                    }
                    DeviceMessage::ConfigViolation { violation, .. } => {
                        self.config.violations.push((
                            violation.field.as_str().to_owned(),
                            violation.rule.as_str().to_owned(),
                        ));
                    }
                }
            }
            Err(error) => {
                self.frames_rejected += 1;
                if let Error::UnsupportedVersion { found } = error {
                    self.device_problem = Some(format!(
                        "The device sends protocol version {found}, this dashboard reads \
                         version {}: update the one that is older.",
                        bms_engine::protocol::PROTOCOL_VERSION
                    ));
                }
                self.last_error = Some(error);
            }
        });
        self.decoder = decoder;
        if let Some(t) = newest {
            self.latest = Some(Reading::from_telemetry(&t));
            self.telemetry = Some(t);
        }
        ingested
    }

    /// The number the device's next event will have, as far as this session knows.
    pub fn next_event_sequence(&self) -> u64 {
        self.events
            .back()
            .map_or(self.events_at_connect.unwrap_or(0), |e| {
                e.sequence.saturating_add(1)
            })
    }

    /// Trips that happened while the page watched, numbered `from` on, as notifications
    /// (`emulated`: the emulator's pack, and the title says so). A device's backlog, sent
    /// when the page connects, is history, not news: it is never told.
    pub fn trip_notices(&self, from: u64, emulated: bool) -> Vec<Notice> {
        let Some(live_from) = self.events_at_connect else {
            return Vec::new();
        };
        let whose = Notice::whose(emulated);
        self.events
            .iter()
            .filter(|e| e.sequence >= from.max(live_from))
            .filter(|e| e.event.kind == EventKind::Tripped && e.event.level == Level::Trip)
            .map(|e| Notice {
                title: format!("{whose} trip: {}", fault_label(e.event.fault)),
                body: explain(&e.event),
                tag: format!("cellsight-{}", e.event.fault.name()),
            })
            .collect()
    }

    /// The browser tab's title: what an owner sees of the battery with the tab in the
    /// background — the SOC and the current, or the trip that has opened a switch, or that
    /// no data comes; ending in what it comes from when that is not a battery live
    /// (`replaying` a recording, or the emulator), so a demo's trip is never taken for one.
    pub fn tab_title(&self, now_ms: f64, replaying: bool) -> String {
        let Some(r) = &self.latest else {
            return TAB_TITLE.to_owned();
        };
        let from = if replaying {
            "Cellsight replay"
        } else if self.device.as_ref().is_some_and(|d| d.emulated) {
            "Cellsight emulator"
        } else {
            "Cellsight"
        };
        let soc = format!("{:.0} %", r.soc_pct);
        if let LinkState::Silent { .. } = self.link_state(now_ms) {
            return format!("No data (last {soc}) — {from}");
        }
        let lines = self.place_alarms(r.alarm_lines());
        let mut trips = lines.iter().filter(|l| l.trip);
        match trips.next() {
            Some(first) => {
                let place = first
                    .place
                    .as_ref()
                    .map_or_else(String::new, |p| format!(", {p}"));
                let more = trips.count();
                let more = if more > 0 {
                    format!(" (+{more})")
                } else {
                    String::new()
                };
                format!("⚠ Trip: {}{place}{more} · {soc} — {from}", first.label)
            }
            None => format!("{soc} · {} A — {from}", signed(r.current_a, 1)),
        }
    }

    /// What the BMS has learnt of its current sensor, with how far that has moved in the last
    /// day of this session's reports; against the device's `rated_ah` where known.
    pub fn current_offset(&self, rated_ah: Option<f64>) -> Option<CurrentOffset> {
        let offset = self.latest.as_ref()?.current_offset(rated_ah)?;
        Some(CurrentOffset {
            moved: self.offset_track.moved(),
            seen_learnt: self.offset_track.learnt(),
            ..offset
        })
    }

    /// Why the last frame was rejected, in words, whichever protocol the device speaks.
    pub fn last_rejection(&self) -> Option<String> {
        self.last_vendor_error
            .clone()
            .or_else(|| self.last_error.map(|e| e.to_string()))
    }

    /// The events kept, oldest first, as CSV ([`EVENTS_CSV_COLUMNS`]): the sequence number,
    /// device time, the time as `when` tells it (the emulated clock, or device time), the kind,
    /// fault and level by name (empty for a host's switch command), the cell or sensor, and the
    /// sentence the event list shows.
    pub fn events_csv(&self, when: impl Fn(u64) -> String) -> String {
        use crate::recording::quoted;
        let mut csv = EVENTS_CSV_COLUMNS.join(",");
        csv.push('\n');
        for e in &self.events {
            let event = &e.event;
            let (fault, level) = if event.kind.is_about_a_fault() {
                (event.fault.name(), event.level.name())
            } else {
                ("", "")
            };
            let row = [
                e.sequence.to_string(),
                format!("{:.3}", event.time_ms as f64 / 1000.0),
                quoted(&when(event.time_ms)),
                event.kind.name().to_owned(),
                fault.to_owned(),
                level.to_owned(),
                place(event).map_or_else(String::new, |p| p.to_string()),
                quoted(&explain(event)),
            ];
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        csv
    }

    /// The link's state at `now_ms`.
    pub fn link_state(&self, now_ms: f64) -> LinkState {
        match self.last_frame_at_ms {
            None => LinkState::Waiting,
            Some(at) if now_ms - at > SILENT_AFTER_MS => LinkState::Silent {
                secs: (now_ms - at) / 1000.0,
            },
            Some(_) => LinkState::Live,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator::{EmulatedDevice, Scenario, SimulationConfig};

    fn device() -> EmulatedDevice {
        EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 1, 16)).unwrap()
    }

    /// The first report of the 16-cell `solar-day` pack, to vary field by field.
    fn solar_day_telemetry() -> Telemetry {
        emulator::Simulation::new(SimulationConfig::new(Scenario::SolarDay, 1, 16))
            .unwrap()
            .telemetry()
    }

    /// A 16-cell reading whose cells' resistances are `r0` (mΩ, `None`: not learnt).
    fn with_resistances(r0: &[Option<f64>]) -> Reading {
        let t = solar_day_telemetry();
        Reading {
            cell_r0_mohm: r0.to_vec(),
            ..Reading::from_telemetry(&t)
        }
    }

    #[test]
    fn a_cell_behind_a_bad_connection_stands_out_and_a_batchs_spread_does_not() {
        let mut r0 = vec![Some(0.30); 16];
        r0[1] = Some(0.29);
        r0[9] = Some(0.33);
        let even = with_resistances(&r0).resistances().unwrap();
        assert_eq!(even.stands_out, None);
        assert_eq!((even.lowest, even.highest), ((2, 0.29), (10, 0.33)));
        assert_eq!(
            even.summary(),
            "Resistance at 25 °C: 0.29 mΩ (cell 2) to 0.33 mΩ (cell 10); none stands out."
        );
        r0[2] = Some(5.3);
        r0[5] = None;
        let bad = with_resistances(&r0).resistances().unwrap();
        assert_eq!(bad.stands_out, Some(3));
        assert_eq!(bad.learnt, 15);
        assert_eq!(
            bad.summary(),
            "Cell 3: 5.30 mΩ, 18× the cells' median (0.30 mΩ). A loose or corroded connection \
             looks like this: check cell 3's busbars and terminal screws."
        );
        // Twice the median but a tiny resistance: a small spread on tiny values, not a fault.
        let tiny = with_resistances(&[Some(0.05), Some(0.05), Some(0.05), Some(0.12)]);
        assert_eq!(tiny.resistances().unwrap().stands_out, None);
        // Not twice the median: a high cell, not a bad connection.
        let high = with_resistances(&[Some(0.8), Some(0.8), Some(0.8), Some(1.5)]);
        assert_eq!(high.resistances().unwrap().stands_out, None);
        let doubled = with_resistances(&[Some(0.8), Some(0.8), Some(0.8), Some(1.6)]);
        assert_eq!(doubled.resistances().unwrap().stands_out, Some(4));
    }

    /// A 16-cell reading whose cells' capacities are `q` (Ah, `None`: not learnt).
    fn with_capacities(q: &[Option<f64>]) -> Reading {
        Reading {
            cell_capacity_ah: q.to_vec(),
            ..with_resistances(&[])
        }
    }

    /// The offset as a device of protocol 7 reports it (mA, σ in mA).
    fn offset(bias_ma: i32, sigma_ma: Option<u16>, rated: Option<f64>) -> CurrentOffset {
        let mut t = solar_day_telemetry();
        t.current_bias_ma = Some(bias_ma);
        t.current_bias_sigma_ma = sigma_ma;
        Reading::from_telemetry(&t).current_offset(rated).unwrap()
    }

    #[test]
    fn the_current_sensors_offset_is_told_once_learnt_and_a_big_one_asks_for_zeroing() {
        let start = offset(0, Some(1_000), Some(280.0));
        assert!(!start.learnt() && !start.needs_zeroing());
        assert!(
            start
                .summary()
                .starts_with("Current sensor offset: not learnt yet (±1.00 A, 1σ;")
        );
        // solar-30's +0.1 A after ten days: told, and small beside the capacity.
        let small = offset(98, Some(138), Some(280.0));
        assert!(small.learnt() && !small.needs_zeroing());
        assert_eq!(
            small.summary(),
            "Current sensor: reads 0.10 A high (±0.14 A, 1σ), as the BMS has learnt; it takes \
             that off the reading before counting charge."
        );
        assert_eq!(
            offset(-3, Some(120), None).summary(),
            "Current sensor: no offset found (±0.12 A, 1σ)."
        );
        // 1.46 A low, surely: 35 Ah a day uncounted.
        let big = offset(-1_461, Some(210), Some(280.0));
        assert!(big.needs_zeroing());
        assert!(
            big.summary().ends_with(
                "reads 1.46 A low (±0.21 A, 1σ), as the BMS has learnt; it takes that off the \
                 reading before counting charge. Uncorrected that is 35 Ah a day, 13 % of the \
                 rated 280 Ah: set the sensor's zero (calibrate it with no current flowing)."
            ),
            "{}",
            big.summary()
        );
        // The same size inside its 3σ is not beyond doubt; a small pack's limit is lower.
        assert!(!offset(-1_461, Some(500), Some(280.0)).needs_zeroing());
        assert!(!offset(300, Some(50), Some(280.0)).needs_zeroing());
        assert!(offset(300, Some(50), Some(100.0)).needs_zeroing());
        assert!(offset(600, Some(50), None).needs_zeroing());
        // A version 6 device says no σ: the estimate is told as it is, never as beyond doubt.
        let v6 = offset(-850, None, Some(280.0));
        assert!(v6.learnt() && !v6.needs_zeroing());
        assert_eq!(
            v6.summary(),
            "Current sensor: the BMS estimates it reads 0.85 A low; this device does not say \
             how sure that is (its protocol is older than version 7)."
        );
        // A coulomb counter learns none; nor does a vendor BMS.
        let mut t = solar_day_telemetry();
        t.current_bias_ma = None;
        t.current_bias_sigma_ma = None;
        assert_eq!(
            Reading::from_telemetry(&t).current_offset(Some(280.0)),
            None
        );
    }

    #[test]
    fn a_drifting_sensor_is_told_from_a_fixed_offset_by_how_its_estimate_walks() {
        // Reports every minute for two days: a fixed offset's estimate wanders by a few tens
        // of mA; a drifting one's follows a third of a 0.1 A/h ramp.
        let feed = |estimate: &dyn Fn(f64) -> f64, sigma: Option<f64>| {
            let mut track = OffsetTrack::default();
            for minute in 0..2 * 24 * 60 {
                let t = f64::from(minute) * 60.0;
                track.note(t, Some((estimate(t / 3600.0), sigma)));
            }
            track
        };
        let fixed = feed(&|h| 1.46 + 0.05 * (h / 5.0).sin(), Some(0.2));
        let moved = fixed.moved().unwrap();
        assert!(moved.amps < 0.11 && moved.amps > 0.09, "{moved:?}");
        // One estimate per 10 minutes, the last day: 144.
        assert_eq!(fixed.kept.len(), 144);
        let drifting = feed(&|h| 0.035 * h, Some(0.35));
        let moved = drifting.moved().unwrap();
        assert!((moved.amps - 0.035 * 23.83).abs() < 0.01, "{moved:?}");
        assert!((moved.hours - 23.83).abs() < 0.01, "{moved:?}");
        // While it is being learnt, or from a device that gives no σ, nothing is kept.
        assert_eq!(feed(&|h| 0.035 * h, Some(0.8)).moved(), None);
        assert_eq!(feed(&|h| 0.035 * h, None).moved(), None);
        // Once learnt, a σ grown again (the BMS letting its estimate follow a drift) is still
        // the learnt estimate, kept and told as a number.
        let mut widened = drifting.clone();
        for minute in 0..60 {
            let t = 2.0 * 86_400.0 + f64::from(minute) * 60.0;
            widened.note(t, Some((1.7 + 0.02 * f64::from(minute), Some(0.9))));
        }
        assert!(widened.learnt());
        assert!(widened.moved().unwrap().amps > 1.0, "{:?}", widened.moved());
        // A restarted device's clock starts again, and so does the track.
        let mut restarted = drifting.clone();
        restarted.note(60.0, Some((0.0, Some(0.3))));
        assert_eq!(restarted.moved(), None);

        let mut session = Session::default();
        let mut t = solar_day_telemetry();
        t.current_bias_ma = Some(830);
        t.current_bias_sigma_ma = Some(360);
        session.latest = Some(Reading::from_telemetry(&t));
        session.offset_track = drifting;
        let told = session.current_offset(Some(280.0)).unwrap();
        // 0.83 A inside its 3σ: no zeroing asked for, but the walk is a drift.
        assert!(!told.needs_zeroing() && told.drifting() && told.needs_attention());
        assert!(
            told.summary().ends_with(
                "The estimate has moved 0.83 A in 24 h: the sensor's zero is drifting (a failing \
                 or heat-sensitive sensor does this). The BMS follows it, a day late and with \
                 wider bounds, so the SOC and the SOH are less sure than with a steady sensor: \
                 have the sensor checked."
            ),
            "{}",
            told.summary()
        );
        session.offset_track = widened;
        t.current_bias_ma = Some(2_880);
        t.current_bias_sigma_ma = Some(900);
        session.latest = Some(Reading::from_telemetry(&t));
        let told = session.current_offset(Some(280.0)).unwrap();
        assert!(told.learnt() && told.drifting());
        assert!(
            told.summary().starts_with(
                "Current sensor: reads 2.88 A high (±0.90 A, 1σ), as the BMS has learnt;"
            ),
            "{}",
            told.summary()
        );
        // The same report in a session that never saw it learnt: not learnt yet.
        assert!(
            !Reading::from_telemetry(&t)
                .current_offset(Some(280.0))
                .unwrap()
                .learnt()
        );
        session.offset_track = fixed;
        t.current_bias_ma = Some(830);
        t.current_bias_sigma_ma = Some(360);
        session.latest = Some(Reading::from_telemetry(&t));
        assert!(
            !session
                .current_offset(Some(280.0))
                .unwrap()
                .needs_attention()
        );
    }

    #[test]
    fn a_weak_cell_stands_out_from_the_others_and_a_batchs_spread_does_not() {
        let mut q = vec![Some(279.0); 16];
        q[3] = Some(276.5);
        q[8] = Some(280.1);
        let even = with_capacities(&q).capacities(Some(280.0)).unwrap();
        assert_eq!(even.weak, None);
        assert_eq!(
            even.summary(),
            "Capacity: 276.5 Ah (cell 4) to 280.1 Ah (cell 9), the lowest 99 % of the rated \
             280 Ah; none stands out."
        );
        q[7] = Some(196.7);
        q[12] = None;
        let weak = with_capacities(&q).capacities(Some(280.0)).unwrap();
        assert_eq!((weak.weak, weak.learnt), (Some(8), 15));
        assert_eq!(
            weak.summary(),
            "Cell 8: 196.7 Ah (the others: 279.0 Ah), 70 % of the rated 280 Ah. The pack holds \
             only what cell 8 holds, and balancing cannot give it back. A cell this far below the \
             others is worn or faulty; one that also falls behind them at rest is losing charge \
             inside (an internal short)."
        );
        // A whole pack aged alike has no weak cell, however far from new.
        let aged = with_capacities(&[Some(210.0), Some(212.0), Some(209.0), Some(211.0)]);
        let aged = aged.capacities(Some(280.0)).unwrap();
        assert_eq!(aged.weak, None);
        assert!(
            aged.summary()
                .contains("the lowest 75 % of the rated 280 Ah")
        );
        // 10 % below the others is weak, 9 % is a spread.
        let spread = with_capacities(&[Some(254.0), Some(280.0), Some(280.0)]);
        assert_eq!(spread.capacities(None).unwrap().weak, None);
        let below = with_capacities(&[Some(251.0), Some(280.0), Some(280.0)]);
        assert_eq!(below.capacities(None).unwrap().weak, Some(1));
    }

    #[test]
    fn a_cell_learnt_before_the_others_is_compared_with_the_rated_capacity() {
        assert_eq!(with_capacities(&[]).capacities(Some(280.0)), None);
        assert_eq!(with_capacities(&[None, None]).capacities(Some(280.0)), None);
        let mut q = vec![None; 16];
        q[7] = Some(196.7);
        let one = with_capacities(&q);
        let weak = one.capacities(Some(280.0)).unwrap();
        assert_eq!((weak.weak, weak.learnt, weak.cells), (Some(8), 1, 16));
        assert!(
            weak.summary()
                .starts_with("Cell 8: 196.7 Ah, 70 % of the rated 280 Ah. "),
            "{}",
            weak.summary()
        );
        // Without a rated capacity to compare with, one cell says nothing about weakness.
        assert_eq!(one.capacities(None).unwrap().weak, None);
        q[7] = Some(278.0);
        let fine = with_capacities(&q).capacities(Some(280.0)).unwrap();
        assert_eq!(fine.weak, None);
        assert_eq!(
            fine.summary(),
            "Capacity: cell 8 278.0 Ah, 99 % of the rated 280 Ah (1 of 16 cells learnt)."
        );
        // Two learnt: one other is not "the others"; the rated capacity decides.
        q[2] = Some(279.0);
        q[7] = Some(230.0);
        let two = with_capacities(&q).capacities(Some(280.0)).unwrap();
        assert_eq!((two.weak, two.others_median_ah), (None, None));
    }

    #[test]
    fn resistances_are_compared_only_once_three_cells_are_learnt() {
        assert_eq!(with_resistances(&[]).resistances(), None);
        let two = with_resistances(&[Some(0.3), None, Some(3.0), None]);
        assert_eq!(two.resistances(), None);
        let three = with_resistances(&[Some(0.3), None, Some(3.0), Some(0.31)]);
        let r = three.resistances().unwrap();
        assert_eq!((r.learnt, r.cells, r.stands_out), (3, 4, Some(3)));
        let partial = with_resistances(&[Some(0.3), None, Some(0.32), Some(0.31)]);
        assert!(
            partial
                .resistances()
                .unwrap()
                .summary()
                .contains(", 3 of 4 cells learnt;"),
            "{:?}",
            partial.resistances()
        );
    }

    #[test]
    fn signed_numbers_never_read_minus_zero() {
        assert_eq!(signed(-0.04, 1), "+0.0");
        assert_eq!(signed(-0.0, 0), "+0");
        assert_eq!(signed(-0.004, 2), "+0.00");
        assert_eq!(signed(-0.06, 1), "-0.1");
        assert_eq!(signed(0.04, 1), "+0.0");
        assert_eq!(signed(68.126, 2), "+68.13");
        assert_eq!(signed(-3694.4, 0), "-3694");
    }

    #[test]
    fn each_alarm_says_what_the_bms_does_about_it() {
        let bits = |faults: &[Fault]| {
            let mut set = FaultSet::default();
            for &f in faults {
                set.set(f, true);
            }
            set.bits()
        };
        let mut t = solar_day_telemetry();
        t.trip_bits = bits(&[Fault::CellOverVoltage, Fault::OpenWire]);
        t.latched_bits = bits(&[Fault::OpenWire]);
        t.derate_bits = bits(&[Fault::ChargeUnderTemperature, Fault::CellOverVoltage]);
        t.warning_bits = bits(&[Fault::CellImbalance, Fault::ChargeUnderTemperature]);
        let lines: Vec<(&str, String, bool)> = Reading::from_telemetry(&t)
            .alarm_lines()
            .into_iter()
            .map(|l| (l.label, l.consequence, l.trip))
            .collect();
        let line = |label, consequence: &str, trip| (label, consequence.to_owned(), trip);
        assert_eq!(
            lines,
            [
                line("over-voltage", "charging stopped", true),
                line(
                    "open sense wire",
                    "charging and discharging stopped · reset needed",
                    true
                ),
                line("too cold to charge", "current limits reduced", false),
                line("cell imbalance", "warning", false),
            ]
        );
        // Where each is, from the newest event that raised it at its level.
        let mut session = Session::default();
        let tripped = |fault, level, location, time_ms| LoggedEvent {
            sequence: time_ms,
            event: Event {
                time_ms,
                kind: EventKind::Tripped,
                fault,
                level,
                location,
                value: 0,
                limit: 0,
                delay_ms: 0,
            },
        };
        session.events.extend([
            tripped(Fault::CellOverVoltage, Level::Warning, Some(2), 1),
            tripped(Fault::CellOverVoltage, Level::Trip, Some(12), 2),
            tripped(Fault::CellImbalance, Level::Warning, Some(4), 3),
            tripped(Fault::CellImbalance, Level::Warning, Some(6), 4),
            tripped(Fault::ChargeUnderTemperature, Level::Derate, Some(1), 5),
        ]);
        let placed: Vec<Option<String>> = session
            .place_alarms(Reading::from_telemetry(&t).alarm_lines())
            .into_iter()
            .map(|l| l.place)
            .collect();
        let at = |p: &str| Some(p.to_owned());
        assert_eq!(
            placed,
            [at("cell 13"), None, at("sensor 2"), at("cell 7")],
            "the trip's cell, not the warning's; no event, no place; the newest"
        );
        // A vendor BMS's protection: its firmware decides what it stops, not this table.
        let vendor = Reading {
            protocol: Protocol::Jbd,
            ..Reading::from_telemetry(&t)
        };
        let said: Vec<String> = vendor
            .alarm_lines()
            .into_iter()
            .map(|l| l.consequence)
            .collect();
        assert_eq!(said, ["", "reset needed", "", ""]);
    }

    #[test]
    fn measurements_are_marked_old_while_the_front_end_is_lost() {
        let mut t = solar_day_telemetry();
        assert!(!Reading::from_telemetry(&t).measurements_stale());
        let mut lost = FaultSet::default();
        lost.set(Fault::FrontEndLost, true);
        t.trip_bits = lost.bits();
        assert!(Reading::from_telemetry(&t).measurements_stale());
        // Only a trip says so: a warning that the front end is slow leaves the numbers current.
        t.trip_bits = 0;
        t.warning_bits = lost.bits();
        assert!(!Reading::from_telemetry(&t).measurements_stale());
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(duration_text(0.75), "45 min");
        assert_eq!(duration_text(2.0833), "2 h 05 min");
        assert_eq!(duration_text(500.0), "more than 10 days");
        assert_eq!(duration_text(f64::INFINITY), "more than 10 days");
        assert_eq!(span_text(45.0 * 60.0), "45 min");
        assert_eq!(span_text(26.0 * 3600.0 + 300.0), "26 h 05 min");
        assert_eq!(
            span_text(46.0 * 86_400.0 + 12.0 * 3600.0 + 600.0),
            "46 days 12 h"
        );
        assert_eq!(span_text(365.0 * 86_400.0), "365 days");
    }

    #[test]
    fn energy_and_time_to_empty_follow_the_reports() {
        let mut dev =
            EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 1, 16)).unwrap();
        let mut session = Session::default();
        session.ingest(&dev.hello(), 0.0);
        // 06:00 to 18:00: PV charges by day, the house draws in the evening.
        for i in 0..12 * 60 {
            session.ingest(&dev.advance(60), f64::from(i));
        }
        let (into, out) = session.energy_wh;
        let truth = dev.simulation().summary();
        assert!(
            (into / 1000.0 - truth.energy_in_kwh).abs() < 0.1 * truth.energy_in_kwh,
            "{into} Wh vs {} kWh",
            truth.energy_in_kwh
        );
        assert!(out > 0.0);
        let r = session.latest.clone().unwrap();
        match session.time_to_full_or_empty() {
            Some((hours, full)) => {
                assert_eq!(full, r.current_a > 0.0);
                assert!(hours > 0.0 && hours < 1_000.0, "{hours}");
            }
            None => assert!(r.current_a.abs() <= 0.5),
        }
    }

    #[test]
    fn can_frames_read_back_what_the_inverter_is_told() {
        let report = bms_engine::can::InverterReport {
            charge_voltage_mv: 55_200,
            charge_current_ma: 140_000,
            discharge_current_ma: 200_000,
            discharge_voltage_mv: 46_400,
            soc_permille: 873,
            soh_permille: 968,
            pack_voltage_mv: 52_310,
            current_ma: -12_340,
            mean_temperature_deci_c: Some(251),
            trips: FaultSet::from_bits(0),
            alarms: {
                let mut set = FaultSet::EMPTY;
                set.set(Fault::CellOverVoltage, true);
                set
            },
            charge_enabled: true,
            discharge_enabled: false,
            force_charge_1: false,
            force_charge_2: false,
            full_charge_requested: true,
            module_count: 1,
        };
        let rows: Vec<CanRow> = bms_engine::can::pylontech_frames(&report)
            .iter()
            .map(decode_can)
            .collect();
        let ids: Vec<u16> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E]);
        assert_eq!(rows[0].hex, "28 02 78 05 D0 07 D0 01");
        assert!(
            rows[0]
                .meaning
                .starts_with("charge voltage limit 55.2 V · charge current limit 140.0 A")
        );
        assert_eq!(rows[1].meaning, "SOC 87 % · SOH 97 %");
        assert_eq!(
            rows[2].meaning,
            "voltage 52.31 V · current -12.3 A · temperature 25.1 °C"
        );
        assert_eq!(
            rows[3].meaning,
            "protection: none · alarms: over-voltage · 1 module(s)"
        );
        assert_eq!(
            rows[4].meaning,
            "charge enabled · discharge disabled · full charge requested"
        );
        assert_eq!(rows[5].meaning, "manufacturer \"PYLON\"");
    }

    #[test]
    fn frames_from_the_emulated_device_become_readings() {
        let mut dev = device();
        let mut session = Session::default();
        assert_eq!(session.link_state(0.0), LinkState::Waiting);
        session.ingest(&dev.hello(), 0.0);
        session.ingest(&dev.advance(60), 500.0);
        assert_eq!(session.frames_ok, 2);
        assert_eq!(session.device.as_ref().unwrap().cell_count, 16);
        let r = session.latest.as_ref().unwrap();
        assert_eq!(r.cell_voltages_v.len(), 16);
        assert!((r.uptime_secs - 60.0).abs() < 1e-9);
        let sum: f64 = r.cell_voltages_v.iter().sum();
        assert!((sum - r.pack_voltage_v).abs() < 1e-6);
        assert_eq!(
            (r.charge_switch_on, r.discharge_switch_on),
            (Some(true), Some(true))
        );
        assert_eq!(session.link_state(1_000.0), LinkState::Live);
        assert_eq!(session.link_state(7_500.0), LinkState::Silent { secs: 7.0 });
    }

    #[test]
    fn corrupt_frames_are_counted_and_never_shown() {
        let mut dev = device();
        let mut session = Session::default();
        session.ingest(&dev.advance(1), 0.0);
        let good = session.latest.clone();
        let mut bad = dev.advance(1);
        bad[3] ^= 0x40;
        session.ingest(&bad, 100.0);
        assert_eq!(session.frames_rejected, 1);
        assert!(session.last_error.is_some());
        assert_eq!(
            session.latest, good,
            "a rejected frame must not change the view"
        );
        assert_eq!(session.last_frame_at_ms, Some(0.0));
    }

    #[test]
    fn events_are_explained_in_one_sentence() {
        let e = Event {
            time_ms: 0,
            kind: EventKind::Tripped,
            fault: Fault::CellOverVoltage,
            level: Level::Trip,
            location: Some(6),
            value: 3_702,
            limit: 3_650,
            delay_ms: 2_000,
        };
        assert_eq!(
            explain(&e),
            "Cell 7 over-voltage protection at 3.702 V (limit 3.650 V) after 2.0 s: charging stopped; discharging still allowed."
        );
        let cleared = Event {
            kind: EventKind::Cleared,
            value: 3_399,
            limit: 3_400,
            ..e
        };
        assert_eq!(
            explain(&cleared),
            "Cell 7 over-voltage protection cleared at 3.399 V (release 3.400 V): charging allowed again."
        );
        let cold = Event {
            fault: Fault::ChargeUnderTemperature,
            level: Level::Warning,
            location: Some(1),
            value: 42,
            limit: 50,
            delay_ms: 1_000,
            ..e
        };
        assert_eq!(
            explain(&cold),
            "Sensor 2 too cold to charge warning at 4.2 °C (limit 5.0 °C) after 1.0 s: a warning; nothing switched."
        );
        let leak = Event {
            fault: Fault::CellSelfDischarge,
            level: Level::Warning,
            location: Some(4),
            value: 184,
            limit: 100,
            delay_ms: 0,
            ..e
        };
        assert_eq!(
            explain(&leak),
            "Cell 5 self-discharge warning: it loses 0.18 A more than the other cells (limit \
             0.10 A): a warning; nothing switched."
        );
        let short = Event {
            level: Level::Trip,
            value: 724,
            limit: 500,
            ..leak
        };
        assert_eq!(
            explain(&short),
            "Cell 5 self-discharge protection: it loses 0.72 A more than the other cells (limit \
             0.50 A); an internal short is suspected: charging stopped; discharging still allowed."
        );
        let closed = Event::contactor(60_000, EventKind::ContactorClosed, 52_140, 52_210, 1_200);
        assert_eq!(
            explain(&closed),
            "Pre-charge done in 1.2 s (DC bus 52.1 V, pack 52.2 V): main contactor closed, the \
             pack connected."
        );
        let opened = Event::contactor(90_000, EventKind::ContactorOpened, 51_960, 0, 0);
        assert_eq!(
            explain(&opened),
            "Main contactor opened at 52.0 V: the pack disconnected, charging and discharging \
             stopped."
        );
        let apart = Event {
            fault: Fault::TemperatureDisagreement,
            level: Level::Trip,
            location: Some(1),
            value: 152,
            limit: 150,
            delay_ms: 10_000,
            ..e
        };
        assert_eq!(
            explain(&apart),
            "Temperature-sensor disagreement (sensor 2 the hottest) protection at 15.2 °C apart \
             (limit 15.0 °C apart) after 10.0 s: charging and discharging stopped."
        );
        let lost = Event {
            fault: Fault::FrontEndLost,
            location: None,
            value: 2_100,
            limit: 2_000,
            delay_ms: 0,
            ..e
        };
        assert_eq!(
            explain(&lost),
            "Front end not responding protection at 2.1 s (limit 2.0 s): charging and discharging stopped."
        );
        let wire = Event {
            fault: Fault::OpenWire,
            location: Some(7),
            value: 1,
            limit: 0,
            delay_ms: 500,
            ..e
        };
        assert_eq!(
            explain(&wire),
            "Cell 8 open sense wire protection after 0.5 s: charging and discharging stopped."
        );
        assert_eq!(
            explain(&Event {
                kind: EventKind::Cleared,
                ..wire
            }),
            "Cell 8 open sense wire protection cleared: charging and discharging allowed again."
        );
        let imbalance = Event {
            fault: Fault::CellImbalance,
            location: Some(4),
            value: 422,
            limit: 400,
            delay_ms: 60_000,
            ..e
        };
        assert_eq!(
            explain(&imbalance),
            "Cell 5 imbalance protection at 422 mV (limit 400 mV) after 60.0 s: charging stopped; discharging still allowed."
        );
    }

    /// A host holding the switches open, and giving them back, reaches the event list as the
    /// device logged it, in words: an owner who opens the dashboard hours later sees why the
    /// battery was off and since when.
    #[test]
    fn held_switches_are_told_in_the_events() {
        let mut dev = device();
        let mut session = Session::default();
        session.ingest(&dev.hello(), 0.0);
        session.ingest(&dev.advance(60), 1.0);
        let before = session.events.len();
        let command = |id, command| crate::config_edit::command_request(id, command);
        dev.receive(&command(1, bms_engine::protocol::Command::ForceSwitchesOff));
        session.ingest(&dev.advance(600), 2.0);
        dev.receive(&command(2, bms_engine::protocol::Command::ReleaseSwitches));
        session.ingest(&dev.advance(1), 3.0);
        let told: Vec<(u64, String)> = session
            .events
            .iter()
            .skip(before)
            .map(|e| (e.event.time_ms, explain(&e.event)))
            .collect();
        assert_eq!(
            told,
            [
                (
                    60_000,
                    "Both switches held open by a host command: charging and discharging \
                     stopped until they are given back to protection."
                        .to_owned()
                ),
                (
                    660_000,
                    "Switches given back to protection by a host command: protection decides \
                     again."
                        .to_owned()
                )
            ]
        );
        assert_eq!(
            session.latest.as_ref().and_then(|r| r.switches_held_open),
            Some(false)
        );
    }

    /// The event log as a file: a row per kept event with its names, place and sentence, a
    /// host's command with no fault or level, and fields with commas quoted.
    #[test]
    fn the_events_export_as_csv() {
        let mut dev =
            EmulatedDevice::new(SimulationConfig::new(Scenario::Overcharge, 2, 16)).unwrap();
        let mut session = Session::default();
        for i in 0..20 {
            session.ingest(&dev.advance(60), f64::from(i));
        }
        dev.receive(&crate::config_edit::command_request(
            1,
            bms_engine::protocol::Command::ForceSwitchesOff,
        ));
        session.ingest(&dev.advance(1), 21.0);
        let csv = session.events_csv(|ms| format!("at {}, s", ms / 1000));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], EVENTS_CSV_COLUMNS.join(","));
        assert_eq!(lines.len(), session.events.len() + 1, "{csv}");
        let trip = session
            .events
            .iter()
            .find(|e| e.event.kind == EventKind::Tripped && e.event.level == Level::Trip)
            .expect("the over-voltage trip");
        let cell = u32::from(trip.event.location.unwrap()) + 1;
        let row = format!(
            "{},{:.3},\"at {}, s\",tripped,cell-over-voltage,trip,cell {cell},\"{}\"",
            trip.sequence,
            trip.event.time_ms as f64 / 1000.0,
            trip.event.time_ms / 1000,
            explain(&trip.event)
        );
        assert!(lines.contains(&row.as_str()), "{row}\nnot in\n{csv}");
        let held = lines.last().unwrap();
        assert!(
            held.contains(",switches-held-open,,,,Both switches held open"),
            "{held}"
        );
    }

    /// A trip the page saw happen is told once as a notification, and the tab's title names it;
    /// a page that connects after it gets it as backlog and tells nothing.
    #[test]
    fn trips_seen_live_are_told_once_and_a_backlog_never() {
        let config = SimulationConfig::new(Scenario::Overcharge, 2, 16);
        let mut dev = EmulatedDevice::new(config).unwrap();
        let mut session = Session::default();
        assert_eq!(session.tab_title(0.0, false), TAB_TITLE);
        session.ingest(&dev.advance(60), 0.0);
        let r = session.latest.clone().unwrap();
        assert_eq!(
            session.tab_title(0.0, false),
            format!(
                "{:.0} % · {} A — Cellsight",
                r.soc_pct,
                signed(r.current_a, 1)
            )
        );
        let from = session.next_event_sequence();
        for i in 1..20 {
            session.ingest(&dev.advance(60), f64::from(i));
        }
        let notices = session.trip_notices(from, true);
        let trip = session
            .events
            .iter()
            .find(|e| e.event.kind == EventKind::Tripped && e.event.level == Level::Trip)
            .cloned()
            .unwrap();
        assert_eq!(
            notices,
            [Notice {
                title: "Emulated battery trip: over-voltage".to_owned(),
                body: explain(&trip.event),
                tag: "cellsight-cell-over-voltage".to_owned(),
            }]
        );
        assert_eq!(session.trip_notices(trip.sequence + 1, false), []);
        assert_eq!(
            session.trip_notices(from, false)[0].title,
            "Battery trip: over-voltage"
        );
        let cell = trip.event.location.unwrap() + 1;
        let soc = session.latest.as_ref().unwrap().soc_pct;
        assert_eq!(
            session.tab_title(19.0, false),
            format!("⚠ Trip: over-voltage, cell {cell} · {soc:.0} % — Cellsight")
        );
        assert_eq!(
            session.tab_title(19.0 + SILENT_AFTER_MS + 1.0, false),
            format!("No data (last {soc:.0} %) — Cellsight")
        );
        // Never a demo's or a recording's trip taken for the battery's.
        assert!(
            session
                .tab_title(19.0, true)
                .ends_with(" % — Cellsight replay")
        );
        session.ingest(&dev.hello(), 19.5);
        assert!(
            session
                .tab_title(19.0, false)
                .ends_with(" % — Cellsight emulator")
        );

        // The same pack watched only from after its trip: the trip is in the log, not news.
        let mut dev = EmulatedDevice::new(config).unwrap();
        let backlog = dev.advance(20 * 60);
        let mut late = Session::default();
        late.ingest(&backlog, 0.0);
        assert!(late.events.iter().any(|e| e.sequence == trip.sequence));
        assert_eq!(late.trip_notices(0, true), []);
    }

    #[test]
    fn pushed_events_are_kept_once_in_order() {
        let mut dev =
            EmulatedDevice::new(SimulationConfig::new(Scenario::Overcharge, 2, 16)).unwrap();
        let mut session = Session::default();
        for i in 0..20 {
            let bytes = dev.advance(60);
            session.ingest(&bytes, f64::from(i));
            session.ingest(&bytes, f64::from(i)); // a duplicate delivery changes nothing
        }
        assert!(!session.events.is_empty());
        let seq: Vec<u64> = session.events.iter().map(|e| e.sequence).collect();
        let expected: Vec<u64> = (0..seq.len() as u64).collect();
        assert_eq!(seq, expected);
        let r = session.latest.as_ref().unwrap();
        assert!(r.faults.contains(&Fault::CellOverVoltage));
        assert_eq!(r.charge_switch_on, Some(false));
    }

    #[test]
    fn extremes_are_numbered_from_one() {
        let r = Reading::from_snapshot(
            &Snapshot {
                pack_voltage_v: Some(9.9),
                current_a: Some(-2.0),
                soc_pct: Some(50.0),
                cell_voltages_v: vec![3.3, 3.2, 3.4],
                ..Snapshot::default()
            },
            Protocol::Jbd,
            0.0,
        )
        .unwrap();
        assert_eq!(r.min_cell(), Some((2, 3.2)));
        assert_eq!(r.max_cell(), Some((3, 3.4)));
        let ties = Reading {
            cell_voltages_v: vec![3.3, 3.4, 3.2, 3.4, 3.2],
            ..r.clone()
        };
        // The same cell the chart highlights: the first of equal extremes.
        assert_eq!(ties.max_cell(), Some((2, 3.4)));
        assert_eq!(ties.min_cell(), Some((3, 3.2)));
        assert!((r.power_w() + 19.8).abs() < 1e-9);
    }

    /// Register 0x03 of a 4-cell JBD: 13.20 V, −5.00 A, 61 %, charge FET off.
    fn jbd_basic() -> Vec<u8> {
        let mut d = vec![0u8; 27];
        d[0..2].copy_from_slice(&1320u16.to_be_bytes());
        d[2..4].copy_from_slice(&(-500i16).to_be_bytes());
        d[4..6].copy_from_slice(&6100u16.to_be_bytes());
        d[6..8].copy_from_slice(&10000u16.to_be_bytes());
        d[19] = 61;
        d[20] = 0b10;
        d[21] = 4;
        d[22] = 2;
        d[23..25].copy_from_slice(&2981u16.to_be_bytes());
        d[25..27].copy_from_slice(&2931u16.to_be_bytes());
        crate::vendor::jbd::tests::answer(0x03, &d)
    }

    #[test]
    fn a_polled_jbd_reads_like_any_device_and_lacks_what_it_lacks() {
        let mut session = Session::for_protocol(Some(Protocol::Jbd));
        assert_eq!(
            session.due_request(0.0),
            Some(vec![0xDD, 0xA5, 0x03, 0x00, 0xFF, 0xFD, 0x77])
        );
        let held = session.ingest(&jbd_basic(), 80.0);
        assert_eq!(held.reports, 1);
        let r = session.latest.clone().unwrap();
        assert_eq!(
            (r.pack_voltage_v, r.current_a, r.soc_pct),
            (13.2, -5.0, 61.0)
        );
        assert_eq!(
            (r.charge_switch_on, r.discharge_switch_on),
            (Some(false), Some(true))
        );
        assert_eq!(r.temperatures_c, vec![Some(25.0), Some(20.0)]);
        // What JBD does not say is unavailable, not zero.
        assert_eq!(
            (r.limits.clone(), r.heater_on, r.usable_soc_pct),
            (None, None, None)
        );
        assert!(r.can_frames.is_empty() && r.cell_soc_pct.is_empty());
        assert_eq!(r.capacity_ah, Some((61.0, 100.0)));
        // 61 Ah left at 5 A: a little over 12 hours.
        let (hours, full) = session.time_to_full_or_empty().unwrap();
        assert!(!full && (hours - 12.2).abs() < 1e-9, "{hours}");
        // The next request waits for a quiet line, then asks for the cells.
        assert_eq!(session.due_request(100.0), None);
        assert_eq!(
            session.due_request(200.0),
            Some(vec![0xDD, 0xA5, 0x04, 0x00, 0xFF, 0xFC, 0x77])
        );
        let cells: Vec<u8> = [3301u16, 3302, 3299, 3300]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let held = session.ingest(&crate::vendor::jbd::tests::answer(0x04, &cells), 260.0);
        assert_eq!(held.reports, 0);
        let r = session.latest.clone().unwrap();
        assert_eq!(r.cell_voltages_v, vec![3.301, 3.302, 3.299, 3.3]);
        assert_eq!(r.min_cell(), Some((3, 3.299)));
        assert_eq!(session.history.len(), 1);
        assert_eq!((session.frames_ok, session.frames_rejected), (2, 0));
    }

    #[test]
    fn a_silent_vendor_device_is_asked_again_then_counted_as_missing() {
        let mut session = Session::for_protocol(Some(Protocol::Daly));
        let first = session.due_request(0.0).unwrap();
        assert_eq!(first[2], 0x90);
        assert_eq!(session.due_request(1_000.0), Some(first.clone()));
        assert_eq!(session.due_request(2_000.0), Some(first));
        assert_eq!(session.due_request(3_000.0).map(|r| r[2]), Some(0x93));
        assert_eq!(session.polling(), Some((2, 1, 1)));
        assert_eq!(session.link_state(9_000.0), LinkState::Waiting);
    }

    #[test]
    fn the_protocol_is_found_from_the_bytes() {
        // A Daly answers the second probe.
        let mut session = Session::for_protocol(None);
        assert_eq!(session.protocol(), None);
        assert_eq!(session.due_request(0.0).map(|r| r[0]), Some(0xDD));
        assert_eq!(session.due_request(800.0).map(|r| r[0]), Some(0xA5));
        let mut answer = vec![
            0xA5, 0x01, 0x90, 0x08, 0x02, 0x10, 0, 0, 0x75, 0x44, 0x02, 0xA3,
        ];
        answer.push(answer.iter().fold(0u8, |s, &b| s.wrapping_add(b)));
        // Split in two: the first half decides nothing.
        session.ingest(&answer[..6], 850.0);
        assert_eq!(session.protocol(), None);
        session.ingest(&answer[6..], 860.0);
        assert_eq!(session.protocol(), Some(Protocol::Daly));
        let r = session.latest.clone().unwrap();
        assert_eq!(
            (r.pack_voltage_v, r.current_a, r.soc_pct),
            (52.8, 2.0, 67.5)
        );
        // From now on it is polled as a Daly.
        assert_eq!(session.due_request(2_000.0).map(|r| r[2]), Some(0x90));

        // A Cellsight device just streams: found from its first frame, probes stop.
        let mut dev = device();
        let mut session = Session::for_protocol(None);
        session.ingest(&dev.hello(), 0.0);
        session.ingest(&dev.advance(5), 10.0);
        assert_eq!(session.protocol(), Some(Protocol::Cellsight));
        assert_eq!(session.due_request(5_000.0), None);
        // A first batch far larger than what detection keeps is still read whole.
        let mut dev = device();
        let mut bytes = dev.hello();
        bytes.extend(dev.advance_reporting_each_second(600));
        assert!(bytes.len() > 4 * DETECT_KEEP);
        let mut session = Session::for_protocol(None);
        let held = session.ingest(&bytes, 0.0);
        assert_eq!((held.reports, session.frames_rejected), (600, 0));
        assert!(session.latest.is_some() && session.device.is_some());
    }
}
