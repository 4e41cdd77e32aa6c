//! Several packs in parallel on one DC bus, each with its own engine, told to the inverter as
//! one battery (DESIGN.md "Scale": one engine a module, a level above combining them).
//!
//! Each pack's [`InverterReport`] is what it would tell an inverter on its own; [`combine`]
//! makes the one report of the bank:
//!
//! - **Current limits** add up over the packs that allow that direction: a pack that has
//!   opened its charge switch, or asks for no charge current, takes none of the bank's charge,
//!   so its share is left out of the charge limit (the same for discharge).
//!
//!   But packs share current by their voltages and resistances, not by their limits: one that
//!   has derated (a cell near full, a hot pack) still takes its part of whatever flows, and
//!   packs at different charge levels carry a current between them besides. So the sum is also
//!   held to what brings the most loaded pack just to its own limit. Of any change in the
//!   bank's current, each pack whose switch lets current through that way is reckoned to take
//!   a part inverse to its resistance (an even part until every such pack's BMS has learnt
//!   its resistance): the bank's limit is no more than `total + (limit − its current) ÷ its
//!   part` for any of them. So:
//!   - with like packs sharing evenly it is `n ×` the lowest limit;
//!   - a pack with a bad connection takes less of a change, so the bank may go further before
//!     that pack reaches its limit, and must come back further when its limit falls;
//!   - a pack asking for no charge with its charge switch still on (full, or too cold, but not
//!     tripped) stops the bank's charge: the bus cannot charge the others without it;
//!   - a pack the others are charging at rest lowers the limit by what it already takes.
//!
//!   The parts are a model, and three things keep its misses from pushing a pack over: a
//!   controller that reads its packs together measures each one's part of its recent
//!   changes ([`PartTracker`], [`track_parts`]), and the limit takes the more careful of the
//!   measured and the model's part, pack by pack (the larger of a rise, the smaller of a
//!   fall); while the bank carries current that way, a rise short of the sum is taken only
//!   in part (`damped_rise`; a fall at once); and a pack carrying nothing with its voltage
//!   more than [`DIODE_DROP_MV`] from the bus is held off it by a switch's diode and given
//!   no part.
//! - **Charge voltage**: the lowest of the packs that take charge, so that no pack is pushed
//!   past its own limit (a full pack holding its float voltage holds the bank there). Its
//!   phase goes with it.
//! - **Discharge voltage**: the highest of the packs that give charge, for the same reason.
//! - **SOC and SOH**: weighted by each pack's capacity, so that the SOC is the share of the
//!   bank's charge that is left and the SOH the share of its nominal capacity still there.
//! - **Voltage**: the mean of the packs on the bus; **current**: the sum over the packs with a
//!   switch on (one with both open carries nothing, whatever it last read); **temperature**:
//!   the mean of the packs that know theirs.
//! - **Faults**: every pack's trips and alarms, so that the inverter (and the owner watching
//!   it) hears of a pack that has opened while the others carry on; a fault that is a trip in
//!   one pack and an alarm in another is told as the trip.
//! - **Requests** (force charge, full charge): any pack's.
//! - **Modules**: the packs' modules added up.
//!
//! **A pack cut off the bus** (its breaker or fuse open, a cable off) looks to its own BMS like
//! a pack at rest with its switches on, so it still tells its full limits, and the bank's
//! sums count current that cannot flow: the packs still on the bus are pushed past their own
//! limits. No BMS can see this alone; the packs side by side can. [`watch_bus`] takes a pack
//! carrying under [`IDLE_MA`] with its switch for the way the others carry on, asking for
//! current that way, while they carry at least [`BUSY_MA`] each on average, its voltage
//! [`FAR_SIDE_MV`] on the far side of theirs (and [`DIODE_DROP_MV`] further with its other
//! switch open, the current's path then through that switch's diode), for
//! [`CUT_OFF_AFTER_MS`], as cut off, and keeps it so until it carries current again or opens
//! both switches. [`combine`] then leaves it out as if its switches were open, and out of the
//! SOC and the requests too (its charge cannot be reached); its SOH, faults, temperature and
//! modules still count.

use crate::FaultSet;
use crate::can::InverterReport;
use crate::limits::ChargePhase;

/// How far below the packs' sum a limit must be held for the pack holding it to be named, mA.
pub const HELD_MIN_MA: u32 = 1_000;

/// A pack carrying less than this either way carries nothing, mA (a current sensor's offset
/// and noise).
pub const IDLE_MA: u32 = 1_000;

/// The others must carry at least this each on average, mA, for a pack carrying nothing
/// beside them to look cut off.
pub const BUSY_MA: u32 = 10_000;

/// How far a pack's voltage must be on the far side of the others', mV, for it to look cut
/// off: below the lowest of theirs while they charge, above the highest while they discharge.
/// A pack on the bus carrying nothing sits at the bus voltage, which is above the voltage of
/// packs taking charge (by their links' drop) and below that of packs giving it; a pack cut
/// off sits at its own rest voltage, which their current has taken them away from.
pub const FAR_SIDE_MV: u32 = 50;

/// How much further on the far side a pack must be when the current would pass one of its
/// switches' diodes (the other switch open), mV: a MOSFET body diode's forward drop is 0.5 to
/// 0.9 V, so a pack on the bus can rest that far from it without a diode conducting. A pack
/// whose discharge switch a trip has opened is still charged through that diode, so it must
/// still be watched the way it can be charged (a pack cut off beside others charging 20 SOC
/// points emptier, its discharge switch opened by the inrush, was never named otherwise).
pub const DIODE_DROP_MV: u32 = 1_000;

/// How long a pack must look cut off to be taken for it, ms. A pack on the bus passes through
/// 0 A as the currents shift (ARCHITECTURE.md, "The bus watch's conditions, measured").
pub const CUT_OFF_AFTER_MS: u64 = 60_000;

/// What the bus watch needs of one pack at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusLook {
    /// Its current, mA (charging positive).
    pub current_ma: i32,
    /// Its voltage, mV.
    pub voltage_mv: u32,
    /// Its charge switch conducts and it is not standing by.
    pub charge_on: bool,
    /// Its discharge switch conducts.
    pub discharge_on: bool,
    /// At least one of its switches conducts: its current is real (a pack with both open
    /// carries nothing, whatever a BMS that lost its sensors last read).
    pub on_bus: bool,
    /// It asks for charge current: a limit of [`IDLE_MA`] or more.
    pub asks_charge: bool,
    /// It asks for discharge current.
    pub asks_discharge: bool,
}

impl BusLook {
    /// How a pack's report looks to the watch.
    pub fn of(pack: &PackReport) -> Self {
        let r = &pack.report;
        BusLook {
            current_ma: r.current_ma,
            voltage_mv: r.pack_voltage_mv,
            charge_on: pack.charge_switch_on,
            discharge_on: pack.discharge_switch_on,
            on_bus: pack.on_bus(),
            asks_charge: r.charge_enabled && r.charge_current_ma >= IDLE_MA,
            asks_discharge: r.discharge_enabled && r.discharge_current_ma >= IDLE_MA,
        }
    }
}

/// What the packs beside one pack do, of those on the bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Others {
    /// Their mean current, mA (0 with none).
    pub mean_ma: i32,
    /// The lowest voltage of those taking charge ([`IDLE_MA`] or more), mV: a pack on the bus
    /// carrying nothing sits above it, at the bus voltage (a pack resting with a switch open
    /// may sit anywhere, so those carrying nothing are not counted).
    pub lowest_taking_mv: Option<u32>,
    /// The highest voltage of those giving charge, mV.
    pub highest_giving_mv: Option<u32>,
}

impl Others {
    /// The packs other than the `k`-th of `looks` (`None`: no report from it), those on the
    /// bus only.
    pub fn of(looks: impl Iterator<Item = Option<BusLook>>, k: usize) -> Self {
        let (mut sum, mut n) = (0_i64, 0_i64);
        let (mut lowest_taking_mv, mut highest_giving_mv) = (None::<u32>, None::<u32>);
        for look in looks
            .enumerate()
            .filter(|&(j, _)| j != k)
            .filter_map(|(_, look)| look)
            .filter(|look| look.on_bus)
        {
            sum += i64::from(look.current_ma);
            n += 1;
            let v = look.voltage_mv;
            if look.current_ma >= IDLE_MA.cast_signed() {
                lowest_taking_mv = Some(lowest_taking_mv.map_or(v, |low| low.min(v)));
            } else if look.current_ma <= -IDLE_MA.cast_signed() {
                highest_giving_mv = Some(highest_giving_mv.map_or(v, |high| high.max(v)));
            }
        }
        Others {
            mean_ma: i32::try_from(sum / n.max(1)).unwrap_or(0),
            lowest_taking_mv,
            highest_giving_mv,
        }
    }

    /// Whether `own`, beside these, looks cut off the bus at this moment.
    pub fn show_cut_off(&self, own: &BusLook) -> bool {
        let charging = self.mean_ma > 0;
        // The switch the current would pass, whether it asks for current that way, whether
        // the other switch is open (the current then through its diode), and how far on the
        // far side of those carrying that way it is, mV.
        let (passes, asked, through_diode, far_mv) = if charging {
            (
                own.charge_on,
                own.asks_charge,
                !own.discharge_on,
                self.lowest_taking_mv
                    .map(|low| i64::from(low) - i64::from(own.voltage_mv)),
            )
        } else {
            (
                own.discharge_on,
                own.asks_discharge,
                !own.charge_on,
                self.highest_giving_mv
                    .map(|high| i64::from(own.voltage_mv) - i64::from(high)),
            )
        };
        let needed_mv = FAR_SIDE_MV + if through_diode { DIODE_DROP_MV } else { 0 };
        passes
            && own.current_ma.unsigned_abs() < IDLE_MA
            && self.mean_ma.unsigned_abs() >= BUSY_MA
            && asked
            && far_mv.is_some_and(|far| far >= i64::from(needed_mv))
    }
}

/// Watches one pack of a bank for being cut off the bus (the rule in the module's words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutOffTimer {
    /// Since when it has looked cut off, ms (the caller's clock).
    since_ms: Option<u64>,
    /// Taken for cut off.
    cut_off: bool,
}

impl CutOffTimer {
    /// Takes the pack's look at `now_ms` (`None`: no report from it) beside the others'; whether
    /// it is taken for cut off now. It stays so while the others rest or turn the other way
    /// (nothing tells otherwise) and ends as soon as it carries current, opens both switches
    /// or stops reporting.
    pub fn update(&mut self, own: Option<BusLook>, others: &Others, now_ms: u64) -> bool {
        let carries_or_open =
            own.is_none_or(|own| own.current_ma.unsigned_abs() >= IDLE_MA || !own.on_bus);
        if carries_or_open {
            *self = CutOffTimer::default();
            return false;
        }
        if own.is_some_and(|own| others.show_cut_off(&own)) {
            let since = *self.since_ms.get_or_insert(now_ms);
            if now_ms.saturating_sub(since) >= CUT_OFF_AFTER_MS {
                self.cut_off = true;
            }
        } else if !self.cut_off {
            self.since_ms = None;
        }
        self.cut_off
    }

    /// Whether the pack is taken for cut off.
    pub fn is_cut_off(&self) -> bool {
        self.cut_off
    }
}

/// Watches every pack of a bank with its own timer (`timers[k]` for `packs[k]`; packs without
/// one are not watched) at `now_ms`, and marks those taken for cut off
/// ([`PackReport::cut_off`]) for [`combine`] to leave out.
pub fn watch_bus(packs: &mut [(PackReport, ChargePhase)], timers: &mut [CutOffTimer], now_ms: u64) {
    for (k, timer) in timers.iter_mut().enumerate().take(packs.len()) {
        let others = Others::of(packs.iter().map(|(p, _)| Some(BusLook::of(p))), k);
        if let Some((pack, _)) = packs.get_mut(k) {
            pack.cut_off = timer.update(Some(BusLook::of(pack)), &others, now_ms);
        }
    }
}

/// A measured part within this fraction of the model's is taken for the model's.
const PART_SCATTER: f64 = 0.1;
/// The least part of a change a pack is reckoned to take once measured, per mille.
const MIN_PART_PERMILLE: u16 = 20;
/// A change in the bank's current of at least this, mA, shows how the packs share it.
pub const PART_STEP_MA: u32 = 1_000;
/// Each change taken in weighs this much more than the one before (50 changes remembered).
const PART_FORGET: f32 = 0.98;
/// Every step, what was measured weighs this much less (by half in 23 minutes at 1 s): a
/// part measured hours ago, at another charge level, is not today's.
const PART_AGEING: f32 = 0.9995;
/// Changes (effective) before a measured part is told.
const PART_MIN_CHANGES: f32 = 10.0;

/// Weighted sums of a pack's change times the bank's, and of the bank's squared, A², and the
/// effective count of changes.
type PartSums = (f32, f32, f32);

/// Measures one pack's part of the changes in the bank's current, charging and discharging
/// apart: of each change of at least [`PART_STEP_MA`] between two of the bank's steps, the
/// bank carrying [`IDLE_MA`] or more that way at both, with no switch in the bank turned
/// between them, the share that went to this pack, averaged with the change's square as
/// weight (a least-squares slope of the pack's changes on the bank's) over the last fifty or
/// so, and forgotten within the hour when no more come. This is what the packs' voltage curves
/// make of a change, whatever their resistances, their charge levels and their temperatures:
/// a pack behind a bad connection takes under a quarter of each change where even parts give
/// it a third, and reckoned with those it was over its own taper limit for 1 264 s of two
/// days, 1 252 of them before its BMS had learnt its resistances, 29 hours in
/// (`fault-resistance-step`, three packs). The packs' currents
/// must be read at the same moment, as a bank's controller reads them together; readings at
/// each pack's own pace are not for this.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PartTracker {
    /// At the last step: the pack's current, the bank's, mA, and the bank's switches.
    last: Option<(i32, i32, u32)>,
    /// Charging, and discharging.
    sums: [PartSums; 2],
}

impl PartTracker {
    /// Takes the step's currents, mA: the pack's and the bank's (`total_ma`, charging
    /// positive), with `switches`, a mark of every switch of the bank (a change there is not a
    /// change of the current alone).
    pub fn update(&mut self, current_ma: i32, total_ma: i32, switches: u32) {
        for (xy, xx, n) in &mut self.sums {
            *xy *= PART_AGEING;
            *xx *= PART_AGEING;
            *n *= PART_AGEING;
        }
        if let Some((pack_before, total_before, switches_before)) = self.last {
            let change = total_ma.saturating_sub(total_before);
            let idle = IDLE_MA.cast_signed();
            let way = if total_ma.min(total_before) >= idle {
                self.sums.get_mut(0)
            } else if total_ma.max(total_before) <= -idle {
                self.sums.get_mut(1)
            } else {
                None
            };
            if let (Some((xy, xx, n)), true, true) = (
                way,
                switches == switches_before,
                change.unsigned_abs() >= PART_STEP_MA,
            ) {
                let dt = change as f32 / 1000.0;
                let dk = current_ma.saturating_sub(pack_before) as f32 / 1000.0;
                *xy = PART_FORGET * *xy + dk * dt;
                *xx = PART_FORGET * *xx + dt * dt;
                *n = PART_FORGET * *n + 1.0;
            }
        }
        self.last = Some((current_ma, total_ma, switches));
    }

    /// The pack's part of a change of the bank's charge (`charge`) or discharge, 0 … 1, once
    /// enough changes were seen lately.
    pub fn part(&self, charge: bool) -> Option<f32> {
        let &(xy, xx, n) = self.sums.get(usize::from(!charge))?;
        (n >= PART_MIN_CHANGES && xx > 0.0).then(|| (xy / xx).clamp(0.0, 1.0))
    }
}

/// Measures every pack's part of the bank's changes with its own tracker (`trackers[k]` for
/// `packs[k]`) from the currents they report, read together, and tells it in each report
/// ([`PackReport::part_permille`]) for [`combine`].
pub fn track_parts(packs: &mut [(PackReport, ChargePhase)], trackers: &mut [PartTracker]) {
    let total_ma = bus_current_ma(packs);
    let switches = packs.iter().enumerate().fold(0_u32, |s, (k, (p, _))| {
        let on = u32::from(p.charge_switch_on) | u32::from(p.discharge_switch_on) << 1;
        s | on.checked_shl(2 * k as u32).unwrap_or(0)
    });
    let permille = |p: f32| libm::roundf(p * 1000.0) as u16;
    for ((pack, _), tracker) in packs.iter_mut().zip(trackers) {
        tracker.update(pack.report.current_ma, total_ma, switches);
        pack.part_permille = (
            tracker.part(true).map(permille),
            tracker.part(false).map(permille),
        );
    }
}

/// One pack of the bank: what it would tell an inverter on its own, its capacity, and which
/// of its switches conduct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackReport {
    /// The pack's own report.
    pub report: InverterReport,
    /// The pack's nominal capacity, mAh (the SOC's and SOH's weight).
    pub capacity_mah: u32,
    /// Its charge switch conducts: it takes its part of the bank's charge whatever its limit
    /// (a limit of 0 with the switch on still takes current from the bus).
    pub charge_switch_on: bool,
    /// Its discharge switch conducts.
    pub discharge_switch_on: bool,
    /// Its cells' resistances added up, as its BMS has learnt them, µΩ (`None` until every
    /// cell's is learnt): a pack takes a part of any change in the bank's current inverse to
    /// its resistance.
    pub resistance_micro_ohm: Option<u32>,
    /// Taken for cut off the bus ([`watch_bus`]): left out of the limits and the SOC.
    pub cut_off: bool,
    /// Its part of the changes in the bank's charge and discharge current as measured lately
    /// ([`track_parts`]), per mille (`None` while not): the bank's limit takes it in place of
    /// the part its resistance or an even split gives where it is the more careful.
    pub part_permille: (Option<u16>, Option<u16>),
}

impl PackReport {
    /// At least one of its switches conducts: what it reads it carries.
    pub fn on_bus(&self) -> bool {
        self.charge_switch_on || self.discharge_switch_on
    }
}

/// What the bank tells the inverter, and the phase of the charge voltage it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankReport {
    /// The combined report (see the module's rules).
    pub report: InverterReport,
    /// The phase of the pack whose charge voltage the bank asks for.
    pub phase: ChargePhase,
    /// Packs that take charge.
    pub packs_charging: u8,
    /// Packs that give charge.
    pub packs_discharging: u8,
    /// The pack (0-based) whose own charge limit holds the bank's below the sum of the packs'
    /// limits (by [`HELD_MIN_MA`] or more), if one does.
    pub charge_held_by: Option<u8>,
    /// The same for discharge.
    pub discharge_held_by: Option<u8>,
    /// The charge limits of the packs that take charge, added up, mA: what the bank would
    /// tell were no pack holding it lower.
    pub charge_sum_ma: u32,
    /// The same for discharge.
    pub discharge_sum_ma: u32,
    /// Packs taken for cut off the bus, and left out.
    pub packs_cut_off: u8,
}

/// The bank's report from its packs' (with each pack's charge phase beside it); `None` for
/// no packs. Never fails: sums saturate.
pub fn combine(packs: &[(PackReport, ChargePhase)]) -> Option<BankReport> {
    let (first, _) = packs.first()?;
    let mut out = first.report;
    let (mut charge_ma, mut discharge_ma) = (0_u32, 0_u32);
    let (mut cvl, mut dvl): (Option<(u32, ChargePhase)>, Option<u32>) = (None, None);
    let (mut lowest_cvl, mut highest_dvl) = ((u32::MAX, ChargePhase::Absorption), 0_u32);
    let (mut soc_weighted, mut soh_weighted, mut capacity) = (0_u64, 0_u64, 0_u64);
    let (mut voltage_sum, mut on_bus) = (0_u64, 0_u64);
    let mut all_voltage_sum = 0_u64;
    let (mut temperature_sum, mut temperatures) = (0_i32, 0_i32);
    let (mut trips, mut alarms) = (FaultSet::EMPTY, FaultSet::EMPTY);
    let (mut charging, mut discharging) = (0_u8, 0_u8);
    let mut modules = 0_u8;
    let (mut reached, mut cut_off, mut soc_all) = (0_u64, 0_u8, 0_u64);
    for (pack, phase) in packs {
        let r = &pack.report;
        let weight = u64::from(pack.capacity_mah.max(1));
        capacity += weight;
        soh_weighted += u64::from(r.soh_permille) * weight;
        soc_all += u64::from(r.soc_permille) * weight;
        modules = modules.saturating_add(r.module_count);
        trips = FaultSet::from_bits(trips.bits() | r.trips.bits());
        alarms = FaultSet::from_bits(alarms.bits() | r.alarms.bits());
        all_voltage_sum += u64::from(r.pack_voltage_mv);
        if r.charge_voltage_mv < lowest_cvl.0 {
            lowest_cvl = (r.charge_voltage_mv, *phase);
        }
        highest_dvl = highest_dvl.max(r.discharge_voltage_mv);
        if let Some(t) = r.mean_temperature_deci_c {
            temperature_sum += i32::from(t);
            temperatures += 1;
        }
        if pack.cut_off {
            cut_off = cut_off.saturating_add(1);
            continue;
        }
        reached += weight;
        soc_weighted += u64::from(r.soc_permille) * weight;
        if r.charge_enabled {
            charging = charging.saturating_add(1);
            charge_ma = charge_ma.saturating_add(r.charge_current_ma);
            if cvl.is_none_or(|(v, _)| r.charge_voltage_mv < v) {
                cvl = Some((r.charge_voltage_mv, *phase));
            }
        }
        if r.discharge_enabled {
            discharging = discharging.saturating_add(1);
            discharge_ma = discharge_ma.saturating_add(r.discharge_current_ma);
            dvl = Some(dvl.map_or(r.discharge_voltage_mv, |v| v.max(r.discharge_voltage_mv)));
        }
        if r.charge_enabled || r.discharge_enabled {
            voltage_sum += u64::from(r.pack_voltage_mv);
            on_bus += 1;
        }
        out.force_charge_1 |= r.force_charge_1;
        out.force_charge_2 |= r.force_charge_2;
        out.full_charge_requested |= r.full_charge_requested;
    }
    // The sum, unless the pack that would reach its own limit first holds it lower (named
    // when that is by more than uneven sharing's fraction of an ampere).
    let held = |sum: u32, (bound, pack): (u32, Option<u8>)| {
        if bound >= sum {
            (sum, None)
        } else if bound.saturating_add(HELD_MIN_MA) <= sum {
            (bound, pack)
        } else {
            (bound, None)
        }
    };
    let (charge_sum_ma, discharge_sum_ma) = (charge_ma, discharge_ma);
    let bus = Bus {
        total_ma: bus_current_ma(packs),
        span_mv: bus_span_mv(packs),
    };
    let (charge_ma, charge_held_by) = held(charge_ma, shared_limit(packs, &bus, true, charge_ma));
    let (discharge_ma, discharge_held_by) =
        held(discharge_ma, shared_limit(packs, &bus, false, discharge_ma));
    let (charge_voltage_mv, phase) = cvl.unwrap_or(lowest_cvl);
    let mean = |sum: u64, n: u64| u32::try_from(sum / n.max(1)).unwrap_or(u32::MAX);
    let permille = |sum: u64, of: u64| u16::try_from(sum / of.max(1)).unwrap_or(u16::MAX);
    out.charge_voltage_mv = charge_voltage_mv;
    out.charge_current_ma = charge_ma;
    out.discharge_current_ma = discharge_ma;
    out.discharge_voltage_mv = dvl.unwrap_or(highest_dvl);
    // Every pack's, were every one cut off (the watch never takes them all).
    out.soc_permille = if reached > 0 {
        permille(soc_weighted, reached)
    } else {
        permille(soc_all, capacity)
    };
    out.soh_permille = permille(soh_weighted, capacity);
    out.pack_voltage_mv = if on_bus > 0 {
        mean(voltage_sum, on_bus)
    } else {
        mean(all_voltage_sum, packs.len() as u64)
    };
    out.current_ma = bus.total_ma;
    out.mean_temperature_deci_c =
        (temperatures > 0).then(|| i16::try_from(temperature_sum / temperatures).unwrap_or(0));
    out.trips = trips;
    out.alarms = FaultSet::from_bits(alarms.bits() & !trips.bits());
    out.charge_enabled = charging > 0 && charge_ma > 0;
    out.discharge_enabled = discharging > 0 && discharge_ma > 0;
    out.module_count = modules;
    Some(BankReport {
        report: out,
        phase,
        packs_charging: charging,
        packs_discharging: discharging,
        charge_held_by,
        discharge_held_by,
        charge_sum_ma,
        discharge_sum_ma,
        packs_cut_off: cut_off,
    })
}

/// The bank's net current and where its bus sits, for both directions' limits.
struct Bus {
    /// The current over the packs on the bus, mA (charging positive).
    total_ma: i32,
    /// The lowest and highest voltages of the packs at the bus ([`bus_span_mv`]), mV.
    span_mv: Option<(u32, u32)>,
}

/// The bank's current, mA (charging positive): over the packs with a switch on. A pack with
/// both switches open carries nothing, whatever it reads (a BMS that lost its front end still
/// reads its last current); counted, it would throw the sharing arithmetic off by that much.
fn bus_current_ma(packs: &[(PackReport, ChargePhase)]) -> i32 {
    packs
        .iter()
        .filter(|(p, _)| p.on_bus())
        .fold(0_i32, |t, (p, _)| t.saturating_add(p.report.current_ma))
}

/// The lowest and the highest of `voltages_mv` (`None` for none).
fn span_mv(voltages_mv: impl Iterator<Item = u32>) -> Option<(u32, u32)> {
    voltages_mv.fold(None, |span, v| {
        Some(span.map_or((v, v), |(lo, hi): (u32, u32)| (lo.min(v), hi.max(v))))
    })
}

/// The bus voltage, as the voltages of the packs at it, mV: those on the bus carrying current
/// either way, or with none carrying, those with both switches on (nothing holds them off it).
fn bus_span_mv(packs: &[(PackReport, ChargePhase)]) -> Option<(u32, u32)> {
    let reports = || packs.iter().map(|(p, _)| p).filter(|p| !p.cut_off);
    span_mv(
        reports()
            .filter(|p| p.on_bus() && p.report.current_ma.unsigned_abs() >= IDLE_MA)
            .map(|p| p.report.pack_voltage_mv),
    )
    .or_else(|| {
        span_mv(
            reports()
                .filter(|p| p.charge_switch_on && p.discharge_switch_on)
                .map(|p| p.report.pack_voltage_mv),
        )
    })
}

/// The largest bank limit in one direction (charging when `charge`) that keeps every pack
/// within its own, if each pack whose switch conducts that way takes a part of any change from
/// the bank's net current inverse to its resistance (even, unless every one of them has a
/// learnt resistance), or the part measured ([`PackReport::part_permille`], once every one of
/// them has one) where that is the larger of a rise or the smaller of a fall: the least of
/// `total + (limit − its current) ÷ its part` over them, and
/// that pack (`u32::MAX` and none when none conducts). A pack held off the bus by a switch's
/// diode takes no part; while the bank carries current that way ([`IDLE_MA`] or more), a
/// rise above the current is taken in part ([`damped_rise`]) below `sum_ma`, the packs'
/// limits added up.
fn shared_limit(
    packs: &[(PackReport, ChargePhase)],
    bus: &Bus,
    charge: bool,
    sum_ma: u32,
) -> (u32, Option<u8>) {
    let sign = if charge { 1.0 } else { -1.0 };
    // The pack's switch, its own limit and its measured part, that way.
    let way = |pack: &PackReport| {
        if charge {
            (
                pack.charge_switch_on,
                pack.report.charge_current_ma,
                pack.part_permille.0,
            )
        } else {
            (
                pack.discharge_switch_on,
                pack.report.discharge_current_ma,
                pack.part_permille.1,
            )
        }
    };
    let total = f64::from(bus.total_ma) * sign;
    let flowing = total >= f64::from(IDLE_MA);
    // A pack carrying nothing with its voltage more than a diode's drop from the bus is held
    // off it by a switch's diode (an empty pack with its charge switch open, a full one with
    // its discharge switch open): it takes no part of a change until the bus comes to it, and
    // counted, it would hold the bank where it is (an empty pack with its discharge switch
    // on and no discharge limit held three packs' discharge near 0 A, the house served from
    // the grid with a full pack beside it). A pack at the bus carrying nothing (a full one at
    // the top of charge) counts.
    let held_off = |p: &PackReport| {
        let v = p.report.pack_voltage_mv;
        p.report.current_ma.unsigned_abs() < IDLE_MA
            && bus.span_mv.is_some_and(|(lo, hi)| {
                v.saturating_add(DIODE_DROP_MV) < lo || v > hi.saturating_add(DIODE_DROP_MV)
            })
    };
    let conducting = packs
        .iter()
        .map(|(p, _)| p)
        .enumerate()
        .filter(|(_, p)| way(p).0 && !p.cut_off && !held_off(p));
    // Each pack's part of a change: the model's (below), or the measured one where that is
    // the more careful, once every such pack's is measured.
    let measured = conducting.clone().all(|(_, p)| way(p).2.is_some());
    let learnt = conducting
        .clone()
        .all(|(_, p)| p.resistance_micro_ohm.is_some_and(|r| r > 0));
    // The model's parts: conductances once every resistance is learnt, else even.
    let weight = |p: &PackReport| match p.resistance_micro_ohm {
        Some(r) if learnt => 1.0 / f64::from(r),
        _ => 1.0,
    };
    let all: f64 = conducting.clone().map(|(_, p)| weight(p)).sum();
    // The measured parts, once every such pack's is, over the same packs.
    let measured_all: f64 = conducting
        .clone()
        .filter_map(|(_, p)| way(p).2)
        .map(|m| f64::from(m.max(MIN_PART_PERMILLE)))
        .sum();
    let (bound, pack) = conducting
        .map(|(k, p)| {
            let model = weight(p) / all;
            let room = f64::from(way(p).1) - f64::from(p.report.current_ma) * sign;
            // Trusted no further than the model and the measure agree: of a rise, the
            // larger part (the pack reaches its limit sooner), of a fall the smaller (it
            // must come back further). A measure within its scatter of the model's part is
            // the model's: like packs measure a few hundredths apart, and the larger of
            // those would keep the bank a few amperes short of their sum.
            let part = match way(p).2 {
                Some(m) if measured && measured_all > 0.0 => {
                    let m = f64::from(m.max(MIN_PART_PERMILLE)) / measured_all;
                    let more_careful = if room >= 0.0 {
                        m > model * (1.0 + PART_SCATTER)
                    } else {
                        m < model * (1.0 - PART_SCATTER)
                    };
                    if more_careful { m } else { model }
                }
                _ => model,
            };
            (total + room / part, k)
        })
        .fold((f64::INFINITY, None), |(best, at), (b, k)| {
            if b < best { (b, Some(k)) } else { (best, at) }
        });
    let bound = if flowing && bound > total {
        total + damped_rise(bound - total, f64::from(sum_ma) - total)
    } else {
        bound
    };
    if bound.is_finite() {
        // Whole milliamperes, never below 0 and never beyond what the report can hold.
        let ma = bound.clamp(0.0, f64::from(u32::MAX)) as u32;
        (ma, pack.and_then(|k| u8::try_from(k).ok()))
    } else {
        (u32::MAX, None)
    }
}

/// How much of a rise `rise` (mA) in the bank's limit to take while current flows that way,
/// `room` (mA) short of the packs' limits added up: half of a small rise, more of a larger,
/// all of one going nine tenths of the way to the sum or further (so that the limit runs on
/// into the sum without a step, and like packs, whose parts are exact but for their spread,
/// get the sum at once). The parts are a model: near empty a pack's voltage moves with its
/// current many times as much as its resistance says (100 to 245 mΩ beside 6 mΩ in
/// `fault-weak-cell` with packs 3 years apart), so a new pack takes 70 % of a change where
/// its resistance gives it a third. Taken whole, such a rise
/// puts the bank's limit in a cycle, every other second one that pushes that pack past its
/// own (44 A and 86 A in turn, the pack 6 A over its 32 A). Taken in part, the limit comes
/// up to the pack's own from below and stays there. A fall is taken whole, at once.
fn damped_rise(rise: f64, room: f64) -> f64 {
    if room <= 0.0 {
        return rise;
    }
    rise * (0.5 + rise / (1.8 * room)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fault;

    /// A 280 Ah pack at `soc` ‰ that allows charge and discharge with 140 A and 200 A.
    fn pack(soc: u16) -> PackReport {
        PackReport {
            report: InverterReport {
                charge_voltage_mv: 56_800,
                charge_current_ma: 140_000,
                discharge_current_ma: 200_000,
                discharge_voltage_mv: 44_800,
                soc_permille: soc,
                soh_permille: 1000,
                pack_voltage_mv: 53_000,
                current_ma: 20_000,
                mean_temperature_deci_c: Some(250),
                trips: FaultSet::EMPTY,
                alarms: FaultSet::EMPTY,
                charge_enabled: true,
                discharge_enabled: true,
                force_charge_1: false,
                force_charge_2: false,
                full_charge_requested: false,
                module_count: 1,
            },
            capacity_mah: 280_000,
            charge_switch_on: true,
            discharge_switch_on: true,
            resistance_micro_ohm: None,
            cut_off: false,
            part_permille: (None, None),
        }
    }

    /// The bank of up to three `packs`, each charging towards absorption.
    fn bank_of(packs: &[PackReport]) -> BankReport {
        let list: heapless::Vec<_, 3> = packs
            .iter()
            .map(|&p| (p, ChargePhase::Absorption))
            .collect();
        combine(&list).unwrap()
    }

    fn faults(list: &[Fault]) -> FaultSet {
        let mut set = FaultSet::EMPTY;
        for &f in list {
            set.set(f, true);
        }
        set
    }

    #[test]
    fn no_packs_tell_nothing() {
        assert_eq!(combine(&[]), None);
    }

    #[test]
    fn one_pack_is_told_as_it_is() {
        let p = pack(500);
        let bank = combine(&[(p, ChargePhase::Absorption)]).unwrap();
        assert_eq!(bank.report, p.report);
        assert_eq!((bank.packs_charging, bank.packs_discharging), (1, 1));
    }

    #[test]
    fn current_limits_add_up_over_the_packs_that_allow_the_direction() {
        let mut tripped = pack(990);
        // Over-voltage: the charge switch is open, discharge still allowed.
        tripped.report.charge_enabled = false;
        tripped.charge_switch_on = false;
        tripped.report.charge_current_ma = 0;
        tripped.report.current_ma = 0;
        tripped.report.trips = faults(&[Fault::CellOverVoltage]);
        tripped.report.charge_voltage_mv = 54_000;
        let mut derated = pack(600);
        derated.report.charge_current_ma = 70_000;
        derated.report.alarms = faults(&[Fault::ChargeOverTemperature, Fault::CellOverVoltage]);
        let bank = combine(&[
            (pack(600), ChargePhase::Absorption),
            (tripped, ChargePhase::Absorption),
            (derated, ChargePhase::Absorption),
        ])
        .unwrap();
        let r = bank.report;
        // 140 A + 70 A with the tripped pack left out; but sharing evenly, the derated pack
        // reaches its 70 A when the two take 140 A. That is 100 A above the 40 A flowing,
        // 170 A short of the sum: a rise taken as 100 × (½ + 100 ÷ (1.8 × 170)) = 82.7 A.
        assert_eq!(r.charge_current_ma, 122_679);
        // 3 × 200 A, less the 40 A the two charging packs would first have to stop taking
        // before the resting one gives its 200 A.
        assert_eq!(r.discharge_current_ma, 560_000);
        assert_eq!(
            r.charge_voltage_mv, 56_800,
            "the open pack's lower CVL does not hold the others back"
        );
        assert_eq!((bank.packs_charging, bank.packs_discharging), (2, 3));
        assert_eq!(r.trips, faults(&[Fault::CellOverVoltage]));
        assert_eq!(
            r.alarms,
            faults(&[Fault::ChargeOverTemperature]),
            "a fault tripped in one pack is told as the trip, not also as an alarm"
        );
        assert!(r.charge_enabled && r.discharge_enabled);
        assert_eq!(r.module_count, 3);
        assert_eq!(r.current_ma, 40_000);
    }

    #[test]
    fn a_derated_pack_holds_the_bank_to_what_brings_it_to_its_own_limit() {
        // Three packs share 90 A of charge evenly; the third has derated to 20 A.
        let mut derated = pack(960);
        derated.report.charge_current_ma = 20_000;
        let mut packs = [pack(950), pack(950), derated];
        for p in &mut packs {
            p.report.current_ma = 30_000;
        }
        let with = |packs: &[PackReport]| bank_of(packs).report;
        let bank = bank_of(&packs);
        assert_eq!(
            (bank.charge_held_by, bank.discharge_held_by),
            (Some(2), None)
        );
        let r = with(&packs);
        // 140 + 140 + 20 = 300 A in all, but at a third each the derated pack reaches its
        // 20 A at 60 A: the bank asks for no more. Nothing flows out: the discharge limit is
        // three times the lowest, all 200 A.
        assert_eq!(r.charge_current_ma, 60_000);
        assert_eq!(r.discharge_current_ma, 600_000);
        // The derated pack at its limit holds the bank where it is.
        packs[0].report.current_ma = 45_000;
        packs[1].report.current_ma = 25_000;
        packs[2].report.current_ma = 20_000;
        assert_eq!(
            with(&packs).charge_current_ma,
            90_000,
            "90 A + 3 × (20 − 20) A"
        );
        // Discharging, the same for the discharge limit.
        for p in &mut packs {
            p.report.current_ma = -50_000;
        }
        packs[1].report.discharge_current_ma = 100_000;
        let r = with(&packs);
        assert_eq!(
            r.discharge_current_ma, 260_714,
            "150 A + 3 × (100 − 50) A = 300 A; the 150 A rise, 350 A short of the sum, taken as 150 × (½ + 150 ÷ (1.8 × 350)) A"
        );
        assert_eq!(
            r.charge_current_ma, 60_000,
            "no charge flowing: even shares, three times the derated pack's 20 A"
        );
        // At rest, with pack 2 evening out into pack 1: three times the derated pack's 20 A
        // (it takes nothing yet), and for discharge the 100 A pack already gives 2.5 A.
        packs[0].report.current_ma = 3_000;
        packs[1].report.current_ma = -2_500;
        packs[2].report.current_ma = 0;
        let r = with(&packs);
        assert_eq!(r.charge_current_ma, 60_500, "0.5 A + 3 × 20 A");
        assert_eq!(
            r.discharge_current_ma, 292_000,
            "−0.5 A + 3 × (100 − 2.5) A"
        );
        // A pack the others charge at rest, 20 A below its even part whatever flows: the bank
        // can take 3 × 20 A more than it would with even sharing before the pack is full.
        packs[2].report.charge_current_ma = 20_000;
        packs[0].report.current_ma = 40_000;
        packs[1].report.current_ma = 40_000;
        packs[2].report.current_ma = 10_000;
        assert_eq!(
            with(&packs).charge_current_ma,
            107_380,
            "90 A + 3 × (20 − 10) A = 120 A; the 30 A rise taken as 30 × (½ + 30 ÷ (1.8 × 210)) A"
        );
        // A full pack asking for no charge with its switch still on takes its part all the
        // same: the bank can take no charge without pushing it into that pack.
        for p in &mut packs {
            p.report.current_ma = 10_000;
        }
        packs[2].report.charge_current_ma = 0;
        packs[2].report.charge_enabled = false;
        let r = with(&packs);
        assert_eq!(r.charge_current_ma, 0);
        assert!(
            !r.charge_enabled,
            "with no charge current, no charge: as one pack tells it"
        );
        // Once it opens its switch, the others share the charge again.
        packs[2].charge_switch_on = false;
        packs[2].report.current_ma = 0;
        assert_eq!(with(&packs).charge_current_ma, 280_000);
    }

    #[test]
    fn a_pack_with_both_switches_open_carries_nothing_whatever_it_last_read() {
        // Pack 1's BMS lost its front end: it opened both switches and still reads the −24 A
        // it last measured. The other two give 30 and 90 A; each allows 200 A.
        let mut lost = pack(500);
        lost.charge_switch_on = false;
        lost.discharge_switch_on = false;
        lost.report.charge_enabled = false;
        lost.report.discharge_enabled = false;
        lost.report.current_ma = -24_000;
        let mut packs = [lost, pack(500), pack(500)];
        packs[1].report.current_ma = -30_000;
        packs[2].report.current_ma = -90_000;
        let bank = bank_of(&packs);
        assert_eq!(bank.report.current_ma, -120_000);
        // 120 A + 2 × (200 − 90) A = 340 A, when pack 3 reaches its own 200 A (the 220 A rise
        // taken as 220 × (½ + 220 ÷ (1.8 × 280)) A). Counting the 24 A pack 1 does not carry, the two
        // would be told 364 A (before the rise is taken in part) and pack 3 pushed 12 A past
        // its limit.
        assert_eq!(bank.report.discharge_current_ma, 326_031);
        assert_eq!(bank.discharge_held_by, Some(2));
    }

    #[test]
    fn a_pack_taking_more_of_a_change_than_its_part_is_brought_to_its_limit_from_below() {
        // As in `fault-weak-cell` with packs 3 years apart near empty: the new pack takes 70 %
        // of any change in the bank's discharge (its voltage curve, not its resistance, sets
        // that), where the even parts (its resistance not yet learnt) give it a third. The
        // house asks for 72 A; pack 1 allows 32 A, and reaches it at 64 A.
        let currents = |bank_a: f64| {
            let first = 18.0 + 0.7 * (bank_a - 44.0);
            let rest = (bank_a - first) / 2.0;
            [first, rest, rest]
        };
        let mut packs = [pack(50), pack(50), pack(50)];
        packs[0].report.discharge_current_ma = 32_000;
        for p in &mut packs[1..] {
            p.report.discharge_current_ma = 168_000;
        }
        let (mut told_a, mut over_s, mut last_over_s) = (44.0_f64, 0, 0);
        for second in 1..=30 {
            let c = currents(told_a.min(72.0));
            for (p, a) in packs.iter_mut().zip(c) {
                p.report.current_ma = -(a * 1000.0).round() as i32;
            }
            if c[0] > 32.5 {
                over_s += 1;
                last_over_s = second;
            }
            told_a = f64::from(bank_of(&packs).report.discharge_current_ma) / 1000.0;
        }
        // Taken whole, the model's rise from 44 A is to 86 A: the house then takes its 72 A,
        // pack 1 37.6 A, the limit falls back to 44 A, and so on every other second. Taken in
        // part, it overshoots once (67.7 A: pack 1 at 34.6 A) and settles.
        assert_eq!(
            over_s, 1,
            "pack 1 over its limit {over_s} s, last at {last_over_s} s"
        );
        assert!((63.5..64.5).contains(&told_a), "{told_a} A");
        assert!(currents(told_a)[0] <= 32.5);
    }

    #[test]
    fn a_pack_resting_far_from_the_bus_takes_no_part_and_holds_nothing() {
        // Packs 1 and 2 give the house 10 A each at 53 V. Pack 3 is empty: its charge switch
        // tripped open, its discharge switch still on with no discharge limit, resting at
        // 45.3 V. The bus would have to fall 7.7 V before it gave anything.
        let mut packs = [pack(600), pack(600), pack(2)];
        for p in &mut packs[..2] {
            p.report.current_ma = -10_000;
        }
        let empty = &mut packs[2];
        empty.report.current_ma = 0;
        empty.report.pack_voltage_mv = 45_300;
        empty.report.discharge_current_ma = 0;
        empty.report.discharge_enabled = false;
        empty.report.charge_current_ma = 0;
        empty.report.charge_enabled = false;
        empty.charge_switch_on = false;
        // The two share any more between them: 20 A + 2 × 190 A, the whole 400 A. Counted,
        // it held the bank at the 20 A flowing (20 A + 3 × (0 − 0) A).
        let bank = bank_of(&packs);
        assert_eq!(bank.report.discharge_current_ma, 400_000);
        assert_eq!(bank.discharge_held_by, None);
        // At rest, the bus is where the packs with both switches on sit: the same.
        let mut resting = packs;
        for p in &mut resting[..2] {
            p.report.current_ma = 300;
        }
        let bank = bank_of(&resting);
        assert_eq!(bank.report.discharge_current_ma, 400_000);
        assert_eq!(bank.discharge_held_by, None);
        // A volt from them, a pack on the bus could rest there (a link's drop, a diode's):
        // it counts, and holds.
        packs[2].report.pack_voltage_mv = 52_000;
        let bank = bank_of(&packs);
        assert_eq!(bank.report.discharge_current_ma, 20_000);
        assert_eq!(bank.discharge_held_by, Some(2));
    }

    #[test]
    fn a_pack_with_more_resistance_takes_less_of_a_change() {
        // Three packs at 30 A of charge; the first has twice the others' resistance (a bad
        // connection), so it takes a fifth of any change and they two fifths each.
        let mut packs = [pack(500), pack(500), pack(500)];
        for (p, r) in packs.iter_mut().zip([9_600, 4_800, 4_800]) {
            p.report.current_ma = 30_000;
            p.resistance_micro_ohm = Some(r);
        }
        packs[0].report.charge_current_ma = 40_000;
        // It reaches its 40 A when the bank has taken 5 × 10 A more: 140 A (the 50 A rise,
        // 230 A short of the sum, taken as 50 × (½ + 50 ÷ (1.8 × 230)) = 31.0 A).
        assert_eq!(bank_of(&packs).report.charge_current_ma, 121_038);
        // While one resistance is unknown, the parts are taken as even: 90 + 3 × 10 A (the
        // 30 A rise taken as 17.2 A).
        packs[2].resistance_micro_ohm = None;
        assert_eq!(bank_of(&packs).report.charge_current_ma, 107_173);
    }

    #[test]
    fn a_packs_part_of_the_banks_changes_is_measured_each_way_apart() {
        let switches = 0b11_1111;
        let mut t = PartTracker::default();
        // The bank charging at about 60 A in steps of 5 A and 3 A, the pack taking a fifth of
        // each (a bad connection).
        let (mut total, mut own) = (60_000, 12_000);
        for i in 0..30 {
            let step = if i % 2 == 0 { 5_000 } else { -3_000 };
            total += step;
            own += step / 5;
            t.update(own, total, switches);
            if i < 9 {
                assert_eq!(t.part(true), None, "after {} changes", i + 1);
            }
        }
        let part = t.part(true).unwrap();
        assert!((part - 0.2).abs() < 1e-3, "{part}");
        assert_eq!(t.part(false), None);
        // A switch turned between two steps: what changed then is not the current alone.
        t.update(own + 50_000, total + 10_000, switches & !0b100);
        assert!(t.part(true).is_some_and(|p| (p - part).abs() < 1e-4));
        // Below a step, and from charge into discharge: not counted either.
        t.update(own + 50_000 + 900, total + 10_900, switches & !0b100);
        t.update(own - 20_000, -20_000, switches & !0b100);
        assert!(t.part(true).is_some_and(|p| (p - part).abs() < 1e-4));
        assert_eq!(t.part(false), None);
        // An hour with no change: forgotten (another charge level, another part).
        for _ in 0..3_600 {
            t.update(own - 20_000, -20_000, switches & !0b100);
        }
        assert_eq!(t.part(true), None);
    }

    /// Three packs at 105 A of charge; the first, 5 A over its 40 A, is measured to take a
    /// fifth of each change where even parts give it a third: the bank comes back by 25 A, not
    /// 15 A, to bring it to its limit.
    #[test]
    fn a_measured_part_smaller_than_the_models_sets_a_fall() {
        let mut packs = [pack(500), pack(500), pack(500)];
        for (p, (current, part)) in
            packs
                .iter_mut()
                .zip([(45_000, 200), (30_000, 400), (30_000, 400)])
        {
            p.report.current_ma = current;
            p.part_permille = (Some(part), Some(333));
        }
        packs[0].report.charge_current_ma = 40_000;
        let told = bank_of(&packs).report.charge_current_ma;
        assert!(told.abs_diff(80_000) <= 1, "{told}");
        // Without the measure (one pack's is missing), even parts.
        packs[2].part_permille.0 = None;
        let told = bank_of(&packs).report.charge_current_ma;
        assert!(told.abs_diff(90_000) <= 1, "{told}");
    }

    /// Three packs at 90 A of charge, the first with 10 A left to its 40 A. Measured to take
    /// three fifths of each change (near empty, its voltage curve steep), it reaches its limit
    /// after a rise of 16.7 A, not 30 A (each rise then damped, 230 A short of the sum: 9.0 A
    /// instead of 17.2 A). Measured to take less than its even part, or a little more, the
    /// rise is the even part's: a measure never lets the bank go further than the model
    /// would, nor keeps like packs short of their sum.
    #[test]
    fn a_rise_takes_the_larger_of_the_measured_and_the_models_part() {
        let mut packs = [pack(500), pack(500), pack(500)];
        for (p, part) in packs.iter_mut().zip([600, 200, 200]) {
            p.report.current_ma = 30_000;
            p.part_permille = (Some(part), None);
        }
        packs[0].report.charge_current_ma = 40_000;
        assert_eq!(bank_of(&packs).report.charge_current_ma, 99_004);
        for (p, part) in packs.iter_mut().zip([200, 400, 400]) {
            p.part_permille = (Some(part), None);
        }
        assert_eq!(bank_of(&packs).report.charge_current_ma, 107_173);
        // Within a tenth of the model's part, the measure is the scatter of like packs.
        for (p, part) in packs.iter_mut().zip([360, 320, 320]) {
            p.part_permille = (Some(part), None);
        }
        assert_eq!(bank_of(&packs).report.charge_current_ma, 107_173);
    }

    #[test]
    fn the_lowest_charge_voltage_and_the_highest_discharge_voltage_win() {
        let mut full = pack(1000);
        full.report.charge_voltage_mv = 54_400;
        let mut cold = pack(400);
        cold.report.discharge_voltage_mv = 46_000;
        let bank = combine(&[
            (pack(500), ChargePhase::Absorption),
            (full, ChargePhase::Float),
            (cold, ChargePhase::Absorption),
        ])
        .unwrap();
        assert_eq!(bank.report.charge_voltage_mv, 54_400);
        assert_eq!(bank.phase, ChargePhase::Float);
        assert_eq!(bank.report.discharge_voltage_mv, 46_000);
    }

    #[test]
    fn soc_and_soh_are_weighted_by_capacity() {
        let mut small = pack(200);
        small.capacity_mah = 100_000;
        small.report.soh_permille = 800;
        let bank = combine(&[
            (pack(800), ChargePhase::Absorption),
            (small, ChargePhase::Absorption),
        ])
        .unwrap();
        // (800 × 280 + 200 × 100) / 380 = 642; (1000 × 280 + 800 × 100) / 380 = 947.
        assert_eq!(bank.report.soc_permille, 642);
        assert_eq!(bank.report.soh_permille, 947);
    }

    #[test]
    fn a_bank_with_every_pack_open_allows_nothing_and_still_says_its_limits() {
        let mut a = pack(50);
        a.report.discharge_enabled = false;
        a.report.charge_enabled = false;
        a.report.force_charge_1 = true;
        a.report.pack_voltage_mv = 44_000;
        a.report.mean_temperature_deci_c = None;
        let mut b = a;
        b.report.charge_voltage_mv = 55_000;
        b.report.discharge_voltage_mv = 46_000;
        b.report.pack_voltage_mv = 45_000;
        b.report.mean_temperature_deci_c = Some(-52);
        let bank = combine(&[(a, ChargePhase::Absorption), (b, ChargePhase::Float)]).unwrap();
        let r = bank.report;
        assert!(!r.charge_enabled && !r.discharge_enabled);
        assert_eq!((r.charge_current_ma, r.discharge_current_ma), (0, 0));
        assert_eq!(
            (r.charge_voltage_mv, r.discharge_voltage_mv),
            (55_000, 46_000)
        );
        assert_eq!(bank.phase, ChargePhase::Float);
        assert!(r.force_charge_1, "any pack's request is the bank's");
        assert_eq!(
            r.pack_voltage_mv, 44_500,
            "the mean of all when none is on the bus"
        );
        assert_eq!(
            r.mean_temperature_deci_c,
            Some(-52),
            "of those that know it"
        );
    }

    #[test]
    fn a_pack_carrying_nothing_beside_busy_ones_for_a_minute_is_taken_for_cut_off() {
        // Cut off, it rests at 52.8 V; the others, discharging at 40 A, have sagged below it.
        let idle = BusLook {
            current_ma: 300,
            voltage_mv: 52_800,
            charge_on: true,
            discharge_on: true,
            on_bus: true,
            asks_charge: true,
            asks_discharge: true,
        };
        // The others' voltages: the lowest and highest of those carrying the way they go.
        let others = |mean_ma: i32, (lowest, highest): (u32, u32)| Others {
            mean_ma,
            lowest_taking_mv: (mean_ma > 0).then_some(lowest),
            highest_giving_mv: (mean_ma < 0).then_some(highest),
        };
        let discharging = others(-40_000, (52_500, 52_600));
        let mut timer = CutOffTimer::default();
        // A moment at 0 A is a pack passing through it as the currents shift.
        assert!(!timer.update(Some(idle), &discharging, 100_000));
        assert!(!timer.update(Some(idle), &discharging, 159_999));
        assert!(timer.update(Some(idle), &discharging, 160_000));
        // The others resting tell nothing either way: it stays cut off.
        let resting = others(200, (52_790, 52_800));
        assert!(timer.update(Some(idle), &resting, 200_000));
        // Carrying again (its breaker closed), it is back at once, and the count starts
        // afresh.
        let carrying = BusLook {
            current_ma: -20_000,
            ..idle
        };
        assert!(!timer.update(Some(carrying), &discharging, 201_000));
        assert!(!timer.update(Some(idle), &discharging, 202_000));
        assert!(!timer.update(Some(idle), &discharging, 261_000));
        assert!(timer.update(Some(idle), &discharging, 262_000));
        // A pack that stops reporting is no longer taken for anything.
        assert!(!timer.update(None, &discharging, 263_000));
        assert!(!timer.is_cut_off());

        // Never taken: the others resting too, its own switch open (or standing by), asking
        // for no current that way (a full pack while the others charge), or at the bus
        // voltage, where a pack on the bus carrying nothing sits.
        let taken = |own: BusLook, others: Others| {
            let mut timer = CutOffTimer::default();
            (0..=60).any(|s| timer.update(Some(own), &others, s * 1_000))
        };
        assert!(taken(idle, discharging));
        assert!(
            taken(idle, others(-10_000, (52_700, 52_750))),
            "10 A each is busy"
        );
        assert!(!taken(idle, others(-9_999, (52_700, 52_750))));
        assert!(!taken(idle, resting));
        let open = BusLook {
            charge_on: false,
            discharge_on: false,
            on_bus: false,
            ..idle
        };
        assert!(!taken(open, discharging));
        let charging = others(40_000, (53_000, 53_100));
        assert!(taken(idle, charging));
        // With one switch open: never while the others go the way it refuses (charge standby
        // or a charge trip while they charge); the way it passes only a diode's drop further
        // out (a discharge trip, charged through that switch's diode).
        let standing_by = BusLook {
            charge_on: false,
            ..idle
        };
        assert!(!taken(standing_by, charging));
        assert!(!taken(
            BusLook {
                voltage_mv: 50_000,
                ..standing_by
            },
            charging
        ));
        let discharge_open = BusLook {
            discharge_on: false,
            ..idle
        };
        assert!(!taken(discharge_open, discharging));
        assert!(
            !taken(discharge_open, charging),
            "200 mV below them: their bus may not be a diode's drop above it"
        );
        assert!(!taken(
            BusLook {
                voltage_mv: 51_951,
                ..discharge_open
            },
            charging
        ));
        assert!(
            taken(
                BusLook {
                    voltage_mv: 51_950,
                    ..discharge_open
                },
                charging
            ),
            "1.05 V below them: on the bus its diode would conduct"
        );
        assert!(taken(
            BusLook {
                voltage_mv: 53_650,
                ..standing_by
            },
            discharging
        ));
        assert!(!taken(
            BusLook {
                voltage_mv: 53_649,
                ..standing_by
            },
            discharging
        ));
        let full = BusLook {
            asks_charge: false,
            ..idle
        };
        assert!(!taken(full, charging));
        assert!(
            taken(full, discharging),
            "it still gives nothing when asked to"
        );
        let at_the_bus = BusLook {
            voltage_mv: 52_640,
            ..idle
        };
        assert!(!taken(at_the_bus, discharging), "40 mV above them, not 50");
        assert!(taken(
            BusLook {
                voltage_mv: 52_650,
                ..idle
            },
            discharging
        ));
        assert!(!taken(
            BusLook {
                voltage_mv: 52_960,
                ..idle
            },
            charging
        ));
        // The minute must be unbroken: a moment of rest among the others starts it afresh.
        let mut timer = CutOffTimer::default();
        assert!(!timer.update(Some(idle), &discharging, 0));
        assert!(!timer.update(Some(idle), &resting, 30_000));
        assert!(!timer.update(Some(idle), &discharging, 31_000));
        assert!(!timer.update(Some(idle), &discharging, 90_000));
        assert!(timer.update(Some(idle), &discharging, 91_000));
        // Named, it stays so when one switch opens (nothing flows either way still), not when
        // both do: then it carries nothing whatever the bus, and nothing is left to tell.
        let one_open = BusLook {
            charge_on: false,
            ..idle
        };
        assert!(timer.update(Some(one_open), &discharging, 92_000));
        assert!(!timer.update(Some(open), &discharging, 93_000));
        assert!(!timer.update(Some(idle), &discharging, 94_000));
    }

    #[test]
    fn the_others_are_the_packs_on_the_bus_that_reported() {
        let look = |current_ma: i32, voltage_mv: u32, on_bus: bool| BusLook {
            current_ma,
            voltage_mv,
            charge_on: on_bus,
            discharge_on: on_bus,
            on_bus,
            asks_charge: true,
            asks_discharge: true,
        };
        // Pack 2 is watched; pack 1 has opened both switches (its BMS lost its front end and
        // still reads −24 A), pack 3 has not reported, packs 4 and 5 discharge, pack 6 rests
        // far below the bus (its charge switch open: it counts in the mean, but its voltage
        // says nothing of the bus), pack 7 takes some of their charge.
        let looks = [
            Some(look(-24_000, 50_000, false)),
            Some(look(0, 52_800, true)),
            None,
            Some(look(-30_000, 52_400, true)),
            Some(look(-50_000, 52_300, true)),
            Some(look(500, 45_000, true)),
            Some(look(20_000, 52_600, true)),
        ];
        let others = Others::of(looks.into_iter(), 1);
        assert_eq!(others.mean_ma, -14_875);
        assert_eq!(
            (others.lowest_taking_mv, others.highest_giving_mv),
            (Some(52_600), Some(52_400))
        );
        let (before_six, _) = looks.split_at(5);
        let four_and_five = Others::of(before_six.iter().copied(), 1);
        assert_eq!(four_and_five.mean_ma, -40_000);
        assert_eq!(
            (
                four_and_five.lowest_taking_mv,
                four_and_five.highest_giving_mv
            ),
            (None, Some(52_400))
        );
        assert_eq!(Others::of(looks.into_iter().take(2), 1).mean_ma, 0);
    }

    #[test]
    fn a_pack_cut_off_the_bus_is_left_out_of_the_bank_limits_and_soc() {
        // Three packs discharging; pack 2's breaker is open: it carries nothing, its BMS sees
        // a pack at rest and tells its full limits.
        let mut packs: heapless::Vec<_, 3> = [pack(400), pack(700), pack(400)]
            .into_iter()
            .map(|p| (p, ChargePhase::Absorption))
            .collect();
        for (p, _) in packs.iter_mut() {
            p.report.current_ma = -60_000;
            p.report.discharge_current_ma = 100_000;
        }
        // At rest it shows its own voltage, above the others' as they give 60 A.
        packs[1].0.report.current_ma = 200;
        packs[1].0.report.pack_voltage_mv = 53_300;
        let mut timers = [CutOffTimer::default(); 3];
        let before = combine(&packs).unwrap();
        // Counted, it takes a third of any more: the others reach their 100 A at 119.8 A +
        // 3 × 40 A (the 120 A rise, 180.2 A short of the sum, taken as 104.4 A). With it cut
        // off, they would take half each: 120 A at that limit.
        assert_eq!(before.report.discharge_current_ma, 224_195);
        for second in 0..60 {
            watch_bus(&mut packs, &mut timers, second * 1_000);
        }
        assert!(!packs[1].0.cut_off, "not before a minute");
        watch_bus(&mut packs, &mut timers, 60_000);
        let flags: heapless::Vec<bool, 3> = packs.iter().map(|(p, _)| p.cut_off).collect();
        assert_eq!(flags.as_slice(), [false, true, false]);
        let bank = combine(&packs).unwrap();
        let r = bank.report;
        // The two on the bus reach their 100 A when they give 2 × 40 A more.
        assert_eq!(
            r.discharge_current_ma, 199_800,
            "119.8 A + 2 × 40 A, all of a rise that goes nearly all the way to the sum"
        );
        assert_eq!(bank.discharge_sum_ma, 200_000);
        assert_eq!(r.charge_current_ma, 280_000, "2 × 140 A");
        assert_eq!((bank.packs_discharging, bank.packs_cut_off), (2, 1));
        assert_eq!(r.soc_permille, 400, "the charge that can be reached");
        assert_eq!(r.soh_permille, 1000);
        assert_eq!(r.module_count, 3);
        assert_eq!(r.current_ma, -119_800);
        // Its breaker closed again, it carries current and counts again at once.
        packs[1].0.report.current_ma = -30_000;
        watch_bus(&mut packs, &mut timers, 61_000);
        assert!(!packs[1].0.cut_off);
        assert_eq!(combine(&packs).unwrap().packs_cut_off, 0);
        // A pack alone has no others to be compared with.
        let mut alone: heapless::Vec<_, 1> = packs.iter().take(1).copied().collect();
        alone[0].0.report.current_ma = 0;
        for second in 0..200 {
            watch_bus(&mut alone, &mut timers[..1], 100_000 + second * 1_000);
        }
        assert!(!alone[0].0.cut_off);
    }
}
