//! Several packs in parallel on one DC bus, each with its own BMS, behind one inverter: the
//! bank the inverter sees as one battery through [`bms_engine::system::combine`].
//!
//! Every second the home asks the bank for a current within the bank's combined limits, and
//! the packs share it as their voltages make them: each pack's voltage is a rising curve of its
//! current (its cells' R0 and, in the cold, the emptier OCV they show under load) behind its
//! link to the bus ([`PACK_LINK_OHM`]), all at one bus voltage. A pack whose switch refuses the
//! direction takes none; the others take its share. With the inverter idle, packs at different
//! voltages still exchange current through the bus: the fuller pack charges the emptier one.
//!
//! Pack 1 keeps the run's seed and pack k takes the seed k − 1 above it, so the same seed gives
//! the same bank. Packs may start at different charge levels (`pack_soc_step_pct`): brought
//! together, the fuller ones charge the emptier ones through the bus until their voltages
//! agree. The scenario's faults happen in pack 1 (a charger that ignores the limits is
//! the home's: it pushes into the bus).

use crate::scenario::{Home, HomeInputs};
use crate::simulation::STEP_MILLIS;
use crate::{Error, InjectedFault, Pack, Simulation, SimulationConfig, Summary};
use bms_engine::FaultSet;
use bms_engine::can::{InverterReport, PackState};
use bms_engine::estimation::SocEstimator;
use bms_engine::limits::{ChargePhase, Limits};
use bms_engine::system::{
    BankReport, CutOffTimer, PackReport, PartTracker, combine, track_parts, watch_bus,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Most packs in a bank.
pub const MAX_PACKS: usize = 8;

/// Resistance of each pack's connection to the bus (its fuse or breaker, cables and bus
/// bars), Ω.
pub const PACK_LINK_OHM: f64 = 0.002;

/// A pack's current beyond its own limit that counts as over it, A (the engine's limits are
/// in milliamperes, the sharing moves with every second's load).
const OVER_LIMIT_MARGIN_A: f64 = 1.0;

/// One pack's part in the bank's work over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PackShare {
    /// Pack number, from 1.
    pub pack: usize,
    /// Its share of the charge that went through the packs, %.
    pub throughput_share_pct: f64,
    /// The largest current into it, A.
    pub peak_charge_a: f64,
    /// The largest current out of it, A.
    pub peak_discharge_a: f64,
    /// Seconds it took more than its own charge limit (what the sum of the limits allows
    /// when the packs do not share evenly).
    pub secs_over_charge_limit: u64,
    /// Seconds it gave more than its own discharge limit.
    pub secs_over_discharge_limit: u64,
    /// The most it went over either limit, A.
    pub worst_over_limit_a: f64,
    /// Seconds its charge switch stood open for the others, the pack wanting no charge.
    pub secs_charge_standby: u64,
    /// Times its charge switch went to stand by.
    pub charge_standbys: u64,
    /// Seconds the bank left it out of what it told the inverter, taken for cut off the bus
    /// ([`bms_engine::system::watch_bus`]).
    pub secs_left_out: u64,
}

/// What the bank told its inverter at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BankLimits {
    /// Charge voltage limit, V.
    pub charge_voltage_v: f64,
    /// Charge current limit, A.
    pub charge_current_a: f64,
    /// Discharge current limit, A.
    pub discharge_current_a: f64,
    /// Discharge voltage limit, V.
    pub discharge_voltage_v: f64,
    /// Packs taking charge.
    pub packs_charging: u8,
    /// Packs giving charge.
    pub packs_discharging: u8,
    /// Packs left out, taken for cut off the bus.
    pub packs_cut_off: u8,
}

/// The result of a bank's run (the JSON the CLI prints with `--packs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BankSummary {
    /// Scenario name.
    pub scenario: &'static str,
    /// Seed of pack 1 and of the home.
    pub seed: u64,
    /// Packs in parallel.
    pub packs: usize,
    /// Simulated days.
    pub days: f64,
    /// Steps simulated.
    pub steps: u64,
    /// Wall-clock time the run took, ms (filled in by the caller that measured it).
    pub wall_ms: u64,
    /// RMS of (the bank's SOC as told to the inverter − the true SOC of the packs on the
    /// bus), points.
    pub soc_rmse_pct: f64,
    /// Largest |told − true| SOC, points.
    pub soc_max_err_pct: f64,
    /// The bank's SOC told at the end, %.
    pub final_soc_pct: f64,
    /// The bank's true SOC at the end (the mean SOCs of the packs on the bus weighted by
    /// capacity), %.
    pub final_true_soc_pct: f64,
    /// The largest current that flowed from one pack into another, A.
    pub max_circulating_a: f64,
    /// The charge that did so in all, Ah.
    pub circulating_ah: f64,
    /// Energy charged into the bank at the bus, kWh.
    pub energy_in_kwh: f64,
    /// Energy discharged from it, kWh.
    pub energy_out_kwh: f64,
    /// Load the house went without during a grid outage, kWh.
    pub unserved_kwh: f64,
    /// What the bank told the inverter at the end.
    pub final_limits: BankLimits,
    /// Each pack's part, pack 1 first.
    pub shares: Vec<PackShare>,
    /// Each pack's own summary, pack 1 first.
    pub pack_summaries: Vec<Summary>,
}

#[derive(Debug, Clone, Default)]
struct BankStats {
    steps: u64,
    soc_sq_err_sum: f64,
    soc_max_err: f64,
    max_circulating_a: f64,
    circulating_ah: f64,
    energy_in_wh: f64,
    energy_out_wh: f64,
    throughput_ah: [f64; MAX_PACKS],
    shares: [PackShare; MAX_PACKS],
}

/// Packs in parallel behind one inverter in one home.
#[derive(Debug, Clone)]
pub struct Bank {
    config: SimulationConfig,
    home: Home,
    rng: ChaCha8Rng,
    packs: Vec<Simulation>,
    time_s: u64,
    next_fault: usize,
    /// Each pack's current at its terminals during the last step, A (charging positive).
    currents_a: [f64; MAX_PACKS],
    /// The bus voltage during the last step, V.
    bus_v: f64,
    /// Each pack's voltage slope at the last split, Ω (`None`: held at nothing by a switch):
    /// with `currents_a`, where the next step's search starts.
    slopes: [Option<f64>; MAX_PACKS],
    report: BankReport,
    /// Each pack's own report as of the last step (kept to be refilled, not reallocated).
    pack_reports: Vec<(PackReport, ChargePhase)>,
    /// Watches each pack for being cut off the bus.
    bus_watch: [CutOffTimer; MAX_PACKS],
    /// Measures each pack's part of the bank's changes in current.
    parts: [PartTracker; MAX_PACKS],
    stats: BankStats,
}

/// Largest current a pack is solved for, A (far beyond any fuse).
const MAX_PACK_A: f64 = 10_000.0;

/// A pack's current is found once it moves less than this, A.
const PACK_TOLERANCE_A: f64 = 1e-4;

/// The bus voltage is found once the packs' currents add up to the bank's within this, A.
const BUS_TOLERANCE_A: f64 = 1e-3;

/// Current step over which a pack's voltage curve is read for its slope, A.
const SLOPE_STEP_A: f64 = 0.5;

/// Iterations at most, for a pack's current and for the bus voltage (a handful do; the rest
/// is a safety net, each step halving a bracket).
const MAX_ITERATIONS: usize = 60;

/// One pack on the bus: its voltage at its terminals' current plus its link's drop, V.
fn bus_side_v(pack: &Pack, current_a: f64) -> f64 {
    pack.voltage_at(current_a) + PACK_LINK_OHM * current_a
}

/// The current pack `pack` carries at bus voltage `bus_v`, A (charging positive), searched
/// from `guess`, with the slope of its voltage curve there, Ω, or `None` when a switch holds
/// it at nothing (a switch that refuses the direction passes no current: a diode). The curve
/// rises with the current, so Newton's method on a shrinking bracket finds it.
fn current_at(pack: &Pack, ways: (bool, bool), bus_v: f64, guess: f64) -> (f64, Option<f64>) {
    let (charges, discharges) = ways;
    let (mut lo, mut hi) = (-MAX_PACK_A, MAX_PACK_A);
    let mut current = guess.clamp(lo, hi);
    let mut slope = f64::NAN;
    for _ in 0..MAX_ITERATIONS {
        let v = bus_side_v(pack, current);
        // Within a tenth of a milliampere's drop of the bus: found (a straight curve, the
        // usual case, gets here on its second look).
        if (v - bus_v).abs() < PACK_TOLERANCE_A * PACK_LINK_OHM && slope.is_finite() {
            break;
        }
        if v > bus_v {
            hi = current;
        } else {
            lo = current;
        }
        // The slope on the side the current goes: a cold cell's curve bends at no current,
        // where discharge starts to show it emptier.
        let step = if current < 0.0 || (current == 0.0 && bus_v < v) {
            -SLOPE_STEP_A
        } else {
            SLOPE_STEP_A
        };
        slope = ((bus_side_v(pack, current + step) - v) / step).max(PACK_LINK_OHM);
        let mut next = current - (v - bus_v) / slope;
        if !(lo < next && next < hi) {
            next = 0.5 * (lo + hi);
        }
        current = next;
    }
    if (current > 0.0 && !charges) || (current < 0.0 && !discharges) {
        (0.0, None)
    } else {
        (current, Some(slope))
    }
}

/// The seed of pack `k` (0-based) of a bank seeded `seed`: pack 1 keeps it, pack 2 takes the
/// next, and so on (pack 2 of seed 1 is the pack of a run seeded 2).
fn pack_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_add(k as u64)
}

/// Mixed into the seed for the home's own random stream (clouds, appliances), apart from
/// every pack's.
const HOME_STREAM: u64 = 0x686F_6D65_5F62_616E;

impl Bank {
    /// `config.packs` packs of `config`'s shape in parallel, in a home built for that many;
    /// fails for a pack count outside 1 ..= [`MAX_PACKS`] or a shape [`Simulation::new`]
    /// refuses.
    pub fn new(config: SimulationConfig) -> Result<Self, Error> {
        let packs = config.packs;
        if !(1..=MAX_PACKS).contains(&packs) {
            return Err(Error::Packs { given: packs });
        }
        config.check_packs()?;
        if config.pack_soc_step_pct > crate::simulation::MAX_PACK_SOC_STEP_PCT {
            return Err(Error::PackSocStep {
                given: config.pack_soc_step_pct,
            });
        }
        let oldest = config.pack_age_years(packs - 1);
        if oldest > u32::from(crate::simulation::MAX_AGE_YEARS) {
            return Err(Error::Age { given: oldest });
        }
        let sims = (0..packs)
            .map(|k| {
                // Pack k starts k steps lower (never below empty).
                let lower = (k * usize::from(config.pack_soc_step_pct)).min(100);
                Simulation::new(SimulationConfig {
                    seed: pack_seed(config.seed, k),
                    soc_offset_pct: config
                        .soc_offset_pct
                        .saturating_sub(i8::try_from(lower).unwrap_or(i8::MAX)),
                    // Pack k is k steps older (checked above to fit).
                    age_years: u8::try_from(config.pack_age_years(k)).unwrap_or(u8::MAX),
                    ..config
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bus_v = sims.first().map_or(0.0, |s| s.pack().voltage_v());
        let mut pack_reports = Vec::with_capacity(packs);
        let mut bus_watch = [CutOffTimer::default(); MAX_PACKS];
        let mut parts = [PartTracker::default(); MAX_PACKS];
        let report = bank_report(&sims, &mut pack_reports, &mut bus_watch, &mut parts, 0)
            .ok_or(Error::Packs { given: packs })?;
        let mut stats = BankStats::default();
        for (k, share) in stats.shares.iter_mut().enumerate() {
            share.pack = k + 1;
        }
        Ok(Bank {
            home: Home::for_packs(config.scenario, packs),
            // The home draws from a stream of its own, apart from every pack's.
            rng: ChaCha8Rng::seed_from_u64(config.seed ^ HOME_STREAM),
            config,
            packs: sims,
            time_s: 0,
            next_fault: 0,
            currents_a: [0.0; MAX_PACKS],
            bus_v,
            slopes: [None; MAX_PACKS],
            report,
            pack_reports,
            bus_watch,
            parts,
            stats,
        })
    }

    /// The set-up (with its pack count).
    pub fn config(&self) -> &SimulationConfig {
        &self.config
    }

    /// The packs, pack 1 first.
    pub fn packs(&self) -> &[Simulation] {
        &self.packs
    }

    /// Pack `k` (0-based), to reach its engine (its BMS's configuration and commands).
    pub fn pack_mut(&mut self, k: usize) -> Option<&mut Simulation> {
        self.packs.get_mut(k)
    }

    /// Simulated seconds since the start.
    pub fn time_s(&self) -> u64 {
        self.time_s
    }

    /// Where power flowed in the home during the last step: PV and load, the bank's true
    /// power at the bus, and the grid as the balance (see [`Simulation::power_flow`]).
    pub fn power_flow(&self) -> crate::PowerFlow {
        let heater_w: f64 = self.packs.iter().map(Simulation::heater_w).sum();
        // At the packs' terminals: the heaters' draw is inside, in the current already.
        let battery_w: f64 = self
            .packs
            .iter()
            .zip(&self.currents_a)
            .map(|(s, &a)| s.pack().voltage_v() * a)
            .sum();
        self.home.power_flow(self.time_s, battery_w, heater_w)
    }

    /// What the bank tells the inverter now.
    pub fn report(&self) -> &BankReport {
        &self.report
    }

    /// Each pack's part of the bank's changes in charge and in discharge as its controller
    /// has measured them, per mille (`None` while not), pack 1 first: what
    /// [`combine`] took with the packs' reports for [`Bank::report`].
    pub fn pack_parts(&self) -> Vec<(Option<u16>, Option<u16>)> {
        self.pack_reports
            .iter()
            .map(|(p, _)| p.part_permille)
            .collect()
    }

    /// Each pack's current at its terminals during the last step, A, pack 1 first.
    pub fn currents_a(&self) -> &[f64] {
        self.currents_a.get(..self.packs.len()).unwrap_or_default()
    }

    /// Injects `fault` into pack `pack` (0-based; out of range: nothing). A charger ignoring
    /// the limits is the home's and pushes into the whole bus.
    pub fn inject(&mut self, pack: usize, fault: InjectedFault) {
        if let InjectedFault::ChargerIgnoresLimits { current_a } = fault {
            self.home.rogue_charger_a = Some(current_a);
        }
        if let Some(sim) = self.packs.get_mut(pack) {
            sim.inject(fault);
        }
    }

    /// Advances the bank by one second.
    pub fn step(&mut self) {
        while let Some(&(at_s, fault)) = self.config.scenario.faults().get(self.next_fault) {
            if at_s > self.time_s {
                break;
            }
            self.next_fault += 1;
            self.inject(0, fault);
        }
        let told = self.report.report;
        let limits = Limits {
            charge_voltage_mv: told.charge_voltage_mv,
            charge_current_ma: told.charge_current_ma,
            discharge_current_ma: told.discharge_current_ma,
            discharge_voltage_mv: told.discharge_voltage_mv,
            phase: self.report.phase,
            full_charge_requested: told.full_charge_requested,
            force_charge_requested: told.force_charge_1,
        };
        let scenario = self.config.scenario;
        let requested_a = self.home.step(
            HomeInputs {
                time_s: self.time_s,
                time_of_day_secs: (scenario.start_time_of_day_secs() + self.time_s) % 86_400,
                pack_voltage_mv: f64::from(told.pack_voltage_mv),
                bms_soc_permille: told.soc_permille,
                limits: &limits,
            },
            &mut self.rng,
        );
        // Each pack's limits as they were when the current was decided.
        let mut own = [(0.0, 0.0); MAX_PACKS];
        for (slot, sim) in own.iter_mut().zip(&self.packs) {
            let l = &sim.outputs().limits;
            *slot = (
                f64::from(l.charge_current_ma) / 1000.0,
                f64::from(l.discharge_current_ma) / 1000.0,
            );
        }
        self.share(requested_a);
        let offered = self.home.charge_offered();
        for (sim, &current_a) in self.packs.iter_mut().zip(&self.currents_a) {
            sim.advance(current_a, offered);
        }
        self.time_s += 1;
        let now_ms = self.time_s * u64::from(STEP_MILLIS);
        if let Some(report) = bank_report(
            &self.packs,
            &mut self.pack_reports,
            &mut self.bus_watch,
            &mut self.parts,
            now_ms,
        ) {
            self.report = report;
        }
        self.record(&own);
    }

    /// Advances by `secs` seconds.
    pub fn run_for(&mut self, secs: u64) {
        for _ in 0..secs {
            self.step();
        }
    }

    /// Splits `total_a` (at the bus, charging positive) between the packs into `currents_a`,
    /// so that every pack that conducts sits at one bus voltage. Each pack's voltage is a
    /// rising curve of its current (its resistances, and the OCV a cold cell shows under
    /// load), and a switch that refuses a direction holds its pack at nothing that way; so
    /// the packs' currents add up to more the higher the bus voltage, and the one voltage at
    /// which they add up to `total_a` is found by Newton's method on a shrinking bracket.
    /// When no pack conducts the way the bank is asked to go, nothing flows.
    fn share(&mut self, total_a: f64) {
        let n = self.packs.len().min(MAX_PACKS);
        let mut ways = [(false, false); MAX_PACKS];
        for (w, sim) in ways.iter_mut().zip(&self.packs) {
            let pack = sim.pack();
            *w = (
                pack.allowed_current_a(1.0) != 0.0,
                pack.allowed_current_a(-1.0) != 0.0,
            );
        }
        let possible = ways.iter().take(n).any(|&(c, d)| {
            (total_a > 0.0 && c) || (total_a < 0.0 && d) || (total_a == 0.0 && (c || d))
        });
        if !possible {
            self.currents_a = [0.0; MAX_PACKS];
            return;
        }
        let mut split = self.currents_a;
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        // First guess: each pack the straight line it was at the last split (most seconds
        // that is the answer, as the packs' curves are straight but in the cold).
        let (mut conductance, mut weighted) = (0.0, 0.0);
        for ((&current, &slope), sim) in split.iter().zip(&self.slopes).zip(&self.packs).take(n) {
            if let Some(s) = slope {
                conductance += 1.0 / s;
                weighted += (bus_side_v(sim.pack(), current) - s * current) / s;
            }
        }
        let mut bus_v = if conductance > 0.0 {
            (total_a + weighted) / conductance
        } else {
            self.bus_v
        };
        // From a guess whose bracket is not yet known, each miss doubles the next try.
        let mut reach = 1.0;
        for _ in 0..MAX_ITERATIONS {
            let (mut sum, mut conductance) = (0.0, 0.0);
            let slots = split.iter_mut().zip(&mut self.slopes);
            for (((slot, kept), sim), &w) in slots.zip(&self.packs).zip(&ways).take(n) {
                let (current, slope) = current_at(sim.pack(), w, bus_v, *slot);
                *slot = current;
                *kept = slope;
                sum += current;
                conductance += slope.map_or(0.0, |s| 1.0 / s);
            }
            let residual = sum - total_a;
            if residual.abs() < BUS_TOLERANCE_A {
                break;
            }
            if residual > 0.0 {
                hi = bus_v;
            } else {
                lo = bus_v;
            }
            let newton = if conductance > 0.0 {
                bus_v - residual / conductance
            } else {
                f64::NAN
            };
            bus_v = if lo < newton && newton < hi {
                newton
            } else if lo.is_finite() && hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                reach *= 2.0;
                if residual > 0.0 {
                    bus_v - reach
                } else {
                    bus_v + reach
                }
            };
        }
        self.bus_v = bus_v;
        self.currents_a = split;
    }

    fn record(&mut self, own_limits: &[(f64, f64)]) {
        let dt_h = f64::from(STEP_MILLIS) / 3_600_000.0;
        let true_soc_pct = self.true_soc_pct();
        let s = &mut self.stats;
        s.steps += 1;
        let (mut into, mut out_of) = (0.0, 0.0);
        let mut bus_w = 0.0;
        for (k, (sim, &current_a)) in self.packs.iter().zip(&self.currents_a).enumerate() {
            if current_a > 0.0 {
                into += current_a;
            } else {
                out_of -= current_a;
            }
            bus_w += sim.pack().voltage_v() * current_a;
            if let Some(t) = s.throughput_ah.get_mut(k) {
                *t += current_a.abs() * dt_h;
            }
            let (Some(share), Some(&(ccl_a, dcl_a))) = (s.shares.get_mut(k), own_limits.get(k))
            else {
                continue;
            };
            if self.bus_watch.get(k).is_some_and(CutOffTimer::is_cut_off) {
                share.secs_left_out += 1;
            }
            let outputs = sim.outputs();
            if outputs.charge_standby {
                share.secs_charge_standby += 1;
            }
            share.charge_standbys += outputs
                .events
                .iter()
                .filter(|e| e.kind == bms_engine::EventKind::ChargeStandby)
                .count() as u64;
            share.peak_charge_a = share.peak_charge_a.max(current_a);
            share.peak_discharge_a = share.peak_discharge_a.max(-current_a);
            let over_charge = current_a - ccl_a;
            let over_discharge = -current_a - dcl_a;
            if current_a > 0.0 && over_charge > OVER_LIMIT_MARGIN_A {
                share.secs_over_charge_limit += 1;
                share.worst_over_limit_a = share.worst_over_limit_a.max(over_charge);
            }
            if current_a < 0.0 && over_discharge > OVER_LIMIT_MARGIN_A {
                share.secs_over_discharge_limit += 1;
                share.worst_over_limit_a = share.worst_over_limit_a.max(over_discharge);
            }
        }
        // What went from one pack into another: the smaller of the two directions.
        let circulating = into.min(out_of);
        s.max_circulating_a = s.max_circulating_a.max(circulating);
        s.circulating_ah += circulating * dt_h;
        if bus_w > 0.0 {
            s.energy_in_wh += bus_w * dt_h;
        } else {
            s.energy_out_wh -= bus_w * dt_h;
        }
        let err = f64::from(self.report.report.soc_permille) / 10.0 - true_soc_pct;
        s.soc_sq_err_sum += err * err;
        s.soc_max_err = s.soc_max_err.max(err.abs());
    }

    /// The bank's true SOC: the mean cell SOCs of the packs on the bus weighted by their
    /// nominal capacities, %. A pack cut off the bus is out of the inverter's reach, as its
    /// charge is (all of them, if every pack is cut off).
    pub fn true_soc_pct(&self) -> f64 {
        let any_on_bus = self.packs.iter().any(|s| !s.pack().bus_disconnected);
        let reached = self
            .packs
            .iter()
            .filter(|s| !(any_on_bus && s.pack().bus_disconnected));
        let (mut weighted, mut capacity) = (0.0, 0.0);
        for sim in reached {
            let c = f64::from(sim.engine_config().capacity_mah);
            weighted += sim.pack().soc() * c;
            capacity += c;
        }
        if capacity > 0.0 {
            weighted / capacity * 100.0
        } else {
            0.0
        }
    }

    /// The run so far.
    pub fn summary(&self) -> BankSummary {
        let s = &self.stats;
        let throughput: f64 = s.throughput_ah.iter().sum();
        let n = self.packs.len();
        let shares = s
            .shares
            .iter()
            .zip(&s.throughput_ah)
            .take(n)
            .map(|(share, &ah)| PackShare {
                throughput_share_pct: if throughput > 0.0 {
                    ah / throughput * 100.0
                } else {
                    0.0
                },
                ..*share
            })
            .collect();
        let told = &self.report;
        BankSummary {
            scenario: self.config.scenario.name(),
            seed: self.config.seed,
            packs: n,
            days: self.time_s as f64 / 86_400.0,
            steps: s.steps,
            wall_ms: 0,
            soc_rmse_pct: if s.steps == 0 {
                0.0
            } else {
                (s.soc_sq_err_sum / s.steps as f64).sqrt()
            },
            soc_max_err_pct: s.soc_max_err,
            final_soc_pct: f64::from(told.report.soc_permille) / 10.0,
            final_true_soc_pct: self.true_soc_pct(),
            max_circulating_a: s.max_circulating_a,
            circulating_ah: s.circulating_ah,
            energy_in_kwh: s.energy_in_wh / 1000.0,
            energy_out_kwh: s.energy_out_wh / 1000.0,
            unserved_kwh: self.home.unserved_wh / 1000.0,
            final_limits: BankLimits {
                charge_voltage_v: f64::from(told.report.charge_voltage_mv) / 1000.0,
                charge_current_a: f64::from(told.report.charge_current_ma) / 1000.0,
                discharge_current_a: f64::from(told.report.discharge_current_ma) / 1000.0,
                discharge_voltage_v: f64::from(told.report.discharge_voltage_mv) / 1000.0,
                packs_charging: told.packs_charging,
                packs_discharging: told.packs_discharging,
                packs_cut_off: told.packs_cut_off,
            },
            shares,
            pack_summaries: self.packs.iter().map(Simulation::summary).collect(),
        }
    }
}

/// The pack's cells' resistances added up as its BMS has learnt them, µΩ (`None` until it
/// has learnt every cell's).
fn learnt_resistance_micro_ohm(sim: &Simulation) -> Option<u32> {
    let cells = usize::from(sim.engine_config().cell_count).min(bms_engine::MAX_CELLS);
    let mut r0 = [None; bms_engine::MAX_CELLS];
    if !sim.engine().estimator().cell_r0_ohm(&mut r0) {
        return None;
    }
    let ohm = r0
        .get(..cells)?
        .iter()
        .try_fold(0.0_f64, |sum, r| r.map(|r| sum + f64::from(r)))?;
    // Whole µΩ: a pack's few milliohms to a part in a thousand.
    Some((ohm * 1e6).round() as u32)
}

/// Each pack's report as its engine last stepped, into `out` (emptied first), watched for a
/// pack cut off the bus at `now_ms` (`watch`, one timer a pack), with its part of the bank's
/// changes in current measured (`parts`, one tracker a pack: the packs' currents are read
/// together, every step), and the bank's report from them.
fn bank_report(
    packs: &[Simulation],
    out: &mut Vec<(PackReport, ChargePhase)>,
    watch: &mut [CutOffTimer],
    parts: &mut [PartTracker],
    now_ms: u64,
) -> Option<BankReport> {
    out.clear();
    out.extend(packs.iter().map(|sim| {
        let (o, m) = (sim.outputs(), sim.measurement());
        let report = InverterReport::of_pack(&PackState {
            limits: &o.limits,
            soc_permille: o.soc_permille,
            soh_permille: o.soh_permille,
            pack_voltage_mv: m.pack_voltage_mv(),
            current_ma: m.current_ma,
            temperatures_deci_c: &m.temperatures_deci_c,
            trips: o.trips,
            warnings_and_derates: FaultSet::from_bits(o.warnings.bits() | o.derates.bits()),
            charge_switch_on: o.charge_switch_on,
            discharge_switch_on: o.discharge_switch_on,
        });
        let capacity_mah = sim.engine_config().capacity_mah;
        (
            PackReport {
                report,
                capacity_mah,
                charge_switch_on: o.charge_switch_on,
                discharge_switch_on: o.discharge_switch_on,
                resistance_micro_ohm: learnt_resistance_micro_ohm(sim),
                cut_off: false,
                part_permille: (None, None),
            },
            o.limits.phase,
        )
    }));
    watch_bus(out, watch, now_ms);
    track_parts(out, parts);
    combine(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    /// After `share`, the packs' currents add up to the bank's and every pack carrying current
    /// sits at the same bus voltage; a pack whose charge switch is open takes no charge.
    fn check_split(bank: &mut Bank, totals: &[f64]) {
        for &total in totals {
            bank.share(total);
            let currents = bank.currents_a().to_vec();
            let sum: f64 = currents.iter().sum();
            assert!(
                (sum - total).abs() < 2e-3,
                "{total} A shared as {currents:?}"
            );
            let bus: Vec<f64> = bank
                .packs
                .iter()
                .zip(&currents)
                .filter(|(_, c)| **c != 0.0)
                .map(|(s, &c)| bus_side_v(s.pack(), c))
                .collect();
            let (lo, hi) = bus
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v), h.max(v))
                });
            assert!(hi - lo < 1e-5, "{total} A: bus voltages {bus:?}");
            for (sim, &c) in bank.packs.iter().zip(&currents) {
                assert!(
                    c <= 0.0 || sim.pack().charge_switch_on,
                    "{total} A: {c} A into a pack whose charge switch is open"
                );
            }
        }
    }

    #[test]
    fn the_split_adds_up_and_puts_every_pack_carrying_current_at_one_bus_voltage() {
        let mut bank = Bank::new(SimulationConfig {
            packs: 3,
            ..SimulationConfig::new(Scenario::SolarDay, 4, 16)
        })
        .unwrap();
        bank.run_for(600);
        check_split(&mut bank, &[250.0, 30.0, 0.0, -0.5, -180.0]);
        // Pack 2 has opened its charge switch: it gives, but never takes.
        if let Some(sim) = bank.packs.get_mut(1) {
            sim.pack_mut().charge_switch_on = false;
        }
        check_split(&mut bank, &[250.0, 0.0, -180.0]);
        bank.share(250.0);
        assert_eq!(bank.currents_a().get(1).copied(), Some(0.0));
    }

    /// Cold cells bend their curve at no current (under load they show emptier): the split
    /// still adds up, finds one bus voltage, and gives the three like packs like parts (with
    /// straight lines through the last split instead of the curves, one pack once took 60 A
    /// and the others nothing, then the other way round the next second).
    #[test]
    fn cold_packs_share_a_discharge_without_taking_turns() {
        let mut bank = Bank::new(SimulationConfig {
            packs: 3,
            ..SimulationConfig::new(Scenario::WinterCold, 1, 16)
        })
        .unwrap();
        bank.run_for(60);
        check_split(&mut bank, &[-60.0, -5.0, -120.0, 0.0]);
        bank.share(-60.0);
        let currents = bank.currents_a().to_vec();
        assert!(
            currents.iter().all(|&c| (-30.0..-10.0).contains(&c)),
            "{currents:?}"
        );
    }

    #[test]
    fn a_bank_is_one_to_eight_packs() {
        let config = SimulationConfig::new(Scenario::SolarDay, 1, 16);
        for packs in [0, MAX_PACKS + 1] {
            let err = Bank::new(SimulationConfig { packs, ..config })
                .unwrap_err()
                .to_string();
            assert!(err.contains("use 1 to 8 packs"), "{err}");
        }
    }
}
