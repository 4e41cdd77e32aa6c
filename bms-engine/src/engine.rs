//! The engine: configuration, protection state, switches, balancing, thermal, limits and the SOC
//! estimate, advanced by [`Engine::step`].

use crate::balancing::{Balancer, Balancing};
use crate::estimation::{
    CellModelParams, Estimator, EstimatorKind, SocEstimator, SocReport, StepInput,
};
use crate::event_log::EventLog;
use crate::limits::{ChargePhase, LimitInputs, LimitState, Limits};
use crate::protection::{
    self, Debouncer, FAULT_COUNT, Level, MAX_RULES, Rule, SignalContext, Signals, Watch,
};
use crate::self_discharge::{CellCharge, SelfDischarge};
use crate::switches::{ContactorState, SwitchCommands, Switches};
use crate::thermal::Thermal;
use crate::{
    Error, Event, EventKind, Fault, FaultSet, MAX_CELLS, MAX_TEMPERATURES, Measurement, PackConfig,
};
use heapless::Vec;

/// Most events one step reports in its outputs (all of them go to the event log).
pub const MAX_EVENTS_PER_STEP: usize = 16;

/// What the engine decided in one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// Current may flow into the pack: the charge FET is on, or the contactor is closed and
    /// charging is allowed.
    pub charge_switch_on: bool,
    /// Current may flow out of the pack (as above, for discharge).
    pub discharge_switch_on: bool,
    /// Commands for each switch of the configured hardware.
    pub switches: SwitchCommands,
    /// The contactor sequence, for contactor hardware.
    pub contactor: Option<ContactorState>,
    /// Faults active at trip level (the switches act on these).
    pub trips: FaultSet,
    /// Faults active at derate level (current limits reduced).
    pub derates: FaultSet,
    /// Faults active at warning level.
    pub warnings: FaultSet,
    /// Faults latched until a person resets them.
    pub latched: FaultSet,
    /// What happened during this step (also in the event log).
    pub events: Vec<Event, MAX_EVENTS_PER_STEP>,
    /// State of charge (mean of the cells), per mille.
    pub soc_permille: u16,
    /// 3σ bound of the state of charge, per mille; `None` for an estimator without one.
    pub soc_bound_permille: Option<u16>,
    /// Usable state of charge of the series string (weakest cell for discharge, fullest for
    /// charge), per mille.
    pub usable_soc_permille: u16,
    /// Each cell's state of charge, per mille, cell 1 first.
    pub cell_soc_permille: Vec<u16, MAX_CELLS>,
    /// State of health (capacity over nominal), per mille, once estimated.
    pub soh_permille: Option<u16>,
    /// Estimated current-sensor bias (measured − true), mA; `None` for the baseline.
    pub current_bias_ma: Option<i32>,
    /// Its 1σ, mA (at most 65 535); `None` with it.
    pub current_bias_sigma_ma: Option<u16>,
    /// Remaining charge, mAh.
    pub remaining_mah: u32,
    /// Limits for the charger and inverter.
    pub limits: Limits,
    /// Balancing decision.
    pub balancing: Balancing,
    /// Heater on.
    pub heater_on: bool,
    /// Fan on.
    pub fan_on: bool,
    /// A host has ordered every switch open ([`Engine::force_switches_off`]) and not yet
    /// given them back: protection cannot close them.
    pub switches_held_open: bool,
    /// The charge switch stands open on a shared bus, the pack wanting no charge (see
    /// [`PackConfig::shared_bus`]); the charge limit told is then 0.
    pub charge_standby: bool,
}

impl Outputs {
    /// Every switch open and every limit 0: the slot [`Engine::step`] has
    /// [`Engine::step_into`] write over, never returned as it is.
    fn blank() -> Self {
        Outputs {
            charge_switch_on: false,
            discharge_switch_on: false,
            switches: SwitchCommands::default(),
            contactor: None,
            trips: FaultSet::EMPTY,
            derates: FaultSet::EMPTY,
            warnings: FaultSet::EMPTY,
            latched: FaultSet::EMPTY,
            events: Vec::new(),
            soc_permille: 0,
            soc_bound_permille: None,
            usable_soc_permille: 0,
            cell_soc_permille: Vec::new(),
            soh_permille: None,
            current_bias_ma: None,
            current_bias_sigma_ma: None,
            remaining_mah: 0,
            limits: Limits {
                charge_voltage_mv: 0,
                charge_current_ma: 0,
                discharge_current_ma: 0,
                discharge_voltage_mv: 0,
                phase: ChargePhase::Absorption,
                full_charge_requested: false,
                force_charge_requested: false,
            },
            balancing: Balancing::default(),
            heater_on: false,
            fan_on: false,
            switches_held_open: false,
            charge_standby: false,
        }
    }
}

/// Tracks how long each reading has not moved (stuck-sensor detection).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StuckTracker {
    cells: [(u16, u32); MAX_CELLS],
    temperatures: [(Option<i16>, u32); MAX_TEMPERATURES],
}

impl Default for StuckTracker {
    fn default() -> Self {
        StuckTracker {
            cells: [(0, 0); MAX_CELLS],
            temperatures: [(None, 0); MAX_TEMPERATURES],
        }
    }
}

impl StuckTracker {
    /// Updates the trackers and returns (number stuck, first stuck index).
    fn update(
        &mut self,
        m: &Measurement,
        stuck_after_ms: u32,
        dt_millis: u32,
    ) -> (i32, Option<u8>) {
        if stuck_after_ms == 0 || !m.fresh {
            return (0, None);
        }
        let mut count = 0_i32;
        let mut first = None;
        let mut note = |index: usize, unchanged_ms: u32| {
            if unchanged_ms >= stuck_after_ms {
                count += 1;
                first = first.or(u8::try_from(index).ok());
            }
        };
        for (i, (&mv, slot)) in m
            .cell_voltages_mv
            .iter()
            .zip(self.cells.iter_mut())
            .enumerate()
        {
            slot.1 = if slot.0 == mv {
                slot.1.saturating_add(dt_millis)
            } else {
                0
            };
            slot.0 = mv;
            note(i, slot.1);
        }
        for (i, (&t, slot)) in m
            .temperatures_deci_c
            .iter()
            .zip(self.temperatures.iter_mut())
            .enumerate()
        {
            slot.1 = if slot.0 == t {
                slot.1.saturating_add(dt_millis)
            } else {
                0
            };
            slot.0 = t;
            note(i, slot.1);
        }
        (count, first)
    }
}

/// Trips of one fault inside the repeat window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RepeatCounter {
    window_start_ms: u64,
    count: u8,
}

/// One module's BMS.
#[derive(Debug, Clone)]
pub struct Engine {
    config: PackConfig,
    rules: Vec<Rule, MAX_RULES>,
    debouncers: Vec<Debouncer, MAX_RULES>,
    /// Which rows a step can skip (see [`Watch`]).
    watch: Watch,
    /// Rows not at rest (bit `r` for row `r`), and the active ones among them.
    rows_busy: u64,
    rows_active: u64,
    repeats: [RepeatCounter; FAULT_COUNT],
    now_ms: u64,
    front_end_silence_ms: u32,
    stuck: StuckTracker,
    switches: Switches,
    balancer: Balancer,
    thermal: Thermal,
    limits: LimitState,
    estimator: Estimator,
    /// The estimator's report as of the last step (or the last change of estimator).
    soc: SocReport,
    log: EventLog,
    forced_off: bool,
    /// The charge switch stands by on a shared bus (see [`Engine::update_standby`]).
    charge_standby: bool,
    /// How long the pack has gone without a charge limit and without discharging, ms (towards
    /// standby).
    idle_without_charge_ms: u32,
    self_discharge: SelfDischarge,
}

impl Engine {
    /// An engine for `config`, starting from `initial_soc_permille`. Fails if the
    /// configuration is invalid.
    pub fn new(config: PackConfig, initial_soc_permille: u16) -> Result<Self, Error> {
        config.validate()?;
        let rules = protection::rules(&config);
        let debouncers = rules.iter().map(|_| Debouncer::default()).collect();
        let estimator = Estimator::new(
            EstimatorKind::Model,
            CellModelParams::lfp(config.capacity_mah as f32 / 1000.0),
            usize::from(config.cell_count),
            f32::from(initial_soc_permille.min(1000)) / 1000.0,
        );
        Ok(Engine {
            watch: Watch::new(&rules),
            rows_busy: 0,
            rows_active: 0,
            rules,
            debouncers,
            repeats: [RepeatCounter::default(); FAULT_COUNT],
            now_ms: 0,
            front_end_silence_ms: 0,
            stuck: StuckTracker::default(),
            switches: Switches::new(config.switches),
            balancer: Balancer::default(),
            thermal: Thermal::default(),
            limits: LimitState::default(),
            soc: estimator.report(),
            estimator,
            log: EventLog::default(),
            forced_off: false,
            charge_standby: false,
            idle_without_charge_ms: 0,
            self_discharge: SelfDischarge::default(),
            config,
        })
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &PackConfig {
        &self.config
    }

    /// The protection table in force.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The event ring.
    pub fn event_log(&self) -> &EventLog {
        &self.log
    }

    /// Charge balancing has removed from cell `index` (0-based), mAh.
    pub fn balanced_mah(&self, index: usize) -> u32 {
        self.balancer.balanced_mah(index)
    }

    /// The self-discharge check: its finding as of the last end of charge.
    pub fn self_discharge(&self) -> &SelfDischarge {
        &self.self_discharge
    }

    /// The state estimator.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// The state estimator, to restore a saved state.
    pub fn estimator_mut(&mut self) -> &mut Estimator {
        &mut self.estimator
    }

    /// Replaces the estimator (another kind, or a cell model from a datasheet).
    pub fn set_estimator(&mut self, estimator: Estimator) {
        self.soc = estimator.report();
        self.estimator = estimator;
    }

    /// The state of charge as of the last step (a restore through
    /// [`Engine::estimator_mut`] shows from the next one).
    pub fn soc_report(&self) -> &SocReport {
        &self.soc
    }

    /// Engine time since start, ms.
    pub fn uptime_ms(&self) -> u64 {
        self.now_ms
    }

    /// Replaces the configuration. An invalid one changes nothing and the error names the
    /// first broken rule ([`PackConfig::violations`] lists all of them). Protection state
    /// restarts from clear (latched faults stay latched), because rows may have changed
    /// meaning; SOC, balancing counters and the event log are kept.
    pub fn set_config(&mut self, config: PackConfig) -> Result<(), Error> {
        config.validate()?;
        let latched: FaultSet = self.latched();
        self.rules = protection::rules(&config);
        self.debouncers = self.rules.iter().map(|_| Debouncer::default()).collect();
        for (rule, d) in self.rules.iter().zip(self.debouncers.iter_mut()) {
            if rule.level == Level::Trip && latched.contains(rule.fault) {
                *d = latched_debouncer();
            }
        }
        self.watch = Watch::new(&self.rules);
        self.note_rows();
        if config.capacity_mah != self.config.capacity_mah
            || config.cell_count != self.config.cell_count
        {
            // Another pack: keep the SOC, restart the cell estimates from it.
            self.self_discharge.restart();
            let soc = self.soc.average;
            self.set_estimator(Estimator::new(
                self.estimator.kind(),
                CellModelParams::lfp(config.capacity_mah as f32 / 1000.0),
                usize::from(config.cell_count),
                soc,
            ));
        }
        if config.switches != self.config.switches {
            self.switches = Switches::new(config.switches);
        }
        self.config = config;
        Ok(())
    }

    /// Resets latched faults (a person has looked). Each clears once its value is back inside
    /// its release band for the release delay. Records a reset event.
    pub fn reset_latched(&mut self) {
        let latched = self.latched();
        for d in self.debouncers.iter_mut() {
            d.reset();
        }
        self.note_rows();
        self.repeats = [RepeatCounter::default(); FAULT_COUNT];
        self.switches.reset();
        // A person has looked (perhaps replaced a cell): the self-discharge check starts afresh.
        self.self_discharge.restart();
        for fault in latched.iter() {
            self.log.push(Event {
                time_ms: self.now_ms,
                kind: EventKind::Reset,
                fault,
                level: Level::Trip,
                location: None,
                value: 0,
                limit: 0,
                delay_ms: 0,
            });
        }
    }

    /// Forces every switch open (`true`) or returns control to protection (`false`). A change
    /// is recorded in the event log, so that whoever looks later can see why the battery was
    /// off and since when; a repeated command records nothing.
    pub fn force_switches_off(&mut self, off: bool) {
        if off == self.forced_off {
            return;
        }
        self.forced_off = off;
        self.log.push(Event::switch_command(self.now_ms, off));
    }

    /// Hands the self-discharge check this moment of an end of charge: each cell's SOC and
    /// what balancing moved, against the nominal capacity (near either end a capacity error
    /// barely moves a cell's charge relative to the others, and a leaking cell's own capacity
    /// estimate is what the leak corrupts).
    fn note_end_of_charge(&mut self) {
        let n = usize::from(self.config.cell_count).min(MAX_CELLS);
        let mut cells = [CellCharge::default(); MAX_CELLS];
        for (i, c) in cells.iter_mut().enumerate().take(n) {
            let Some(estimate) = self.estimator.cell(i) else {
                return;
            };
            *c = CellCharge {
                soc: estimate.soc,
                sigma: estimate.sigma,
                taken_ah: self.balancer.balanced_mah(i) as f32 / 1000.0,
                given_ah: self.balancer.given_mah(i) as f32 / 1000.0,
            };
        }
        self.self_discharge.note(
            self.now_ms,
            self.config.capacity_mah as f32 / 1000.0,
            cells.get(..n).unwrap_or_default(),
        );
    }

    /// Brings the row masks up to date with every debouncer (after a change outside a step).
    fn note_rows(&mut self) {
        (self.rows_busy, self.rows_active) = (0, 0);
        for (r, d) in self.debouncers.iter().enumerate().take(64) {
            self.rows_busy |= u64::from(!d.at_rest()) << r;
            self.rows_active |= u64::from(d.active()) << r;
        }
    }

    fn latched(&self) -> FaultSet {
        let mut set = FaultSet::EMPTY;
        for (rule, d) in self.rules.iter().zip(self.debouncers.iter()) {
            if d.latched() {
                set.set(rule.fault, true);
            }
        }
        set
    }

    /// Advances the engine by `dt_millis` with a new snapshot and returns what to do. Never
    /// fails and never panics: every input, however implausible, yields outputs.
    pub fn step(&mut self, m: &Measurement, dt_millis: u32) -> Outputs {
        let mut out = Outputs::blank();
        self.step_into(m, dt_millis, &mut out);
        out
    }

    /// [`Engine::step`], writing the outputs over `out` (whatever it held) instead of returning
    /// them: a host that keeps its last outputs (the emulator, every simulated second) saves
    /// copying their 688 bytes twice a step.
    pub fn step_into(&mut self, m: &Measurement, dt_millis: u32, out: &mut Outputs) {
        self.now_ms = self.now_ms.saturating_add(u64::from(dt_millis));
        self.front_end_silence_ms = if m.fresh {
            0
        } else {
            self.front_end_silence_ms.saturating_add(dt_millis)
        };
        let shape_ok = m.cell_voltages_mv.len() == usize::from(self.config.cell_count)
            && m.temperatures_deci_c.len() == usize::from(self.config.temperature_count);
        let ctx = SignalContext {
            front_end_silence_ms: self.front_end_silence_ms,
            stuck: self.stuck.update(m, self.config.stuck_sensor_ms, dt_millis),
            precharge_failed: self.switches.precharge_failed(),
            shape_ok,
            self_discharge: self.self_discharge.finding(),
        };

        out.events.clear();
        let mut record = |log: &mut EventLog, event: Event| {
            log.push(event);
            let _ = out.events.push(event);
        };
        let signals = Signals::read(m, &self.config, &ctx);
        // Only the rows that can change: the busy ones and those whose signal left its band.
        let mut due = self.watch.due(&signals, self.rows_busy);
        while due != 0 {
            let r = due.trailing_zeros() as usize;
            due &= due - 1;
            let (Some(rule), Some(d)) = (self.rules.get(r), self.debouncers.get_mut(r)) else {
                continue;
            };
            let reading = signals.get(rule.signal);
            let event = d.update(rule, reading, dt_millis, self.now_ms);
            let bit = 1_u64 << r;
            let note = |mask: &mut u64, on: bool| *mask = (*mask & !bit) | (u64::from(on) << r);
            note(&mut self.rows_busy, !d.at_rest());
            note(&mut self.rows_active, d.active());
            let Some(event) = event else {
                continue;
            };
            record(&mut self.log, event);
            if event.kind != EventKind::Tripped || rule.level != Level::Trip {
                continue;
            }
            // Repeated trips within the window latch the fault.
            if let Some(r) = self.repeats.get_mut(event.fault as usize) {
                let window = u64::from(self.config.repeat_window_ms);
                if r.count == 0 || self.now_ms.saturating_sub(r.window_start_ms) > window {
                    *r = RepeatCounter {
                        window_start_ms: self.now_ms,
                        count: 0,
                    };
                }
                r.count = r.count.saturating_add(1);
                if r.count >= self.config.repeat_trip_count && !d.latched() {
                    d.latch();
                    record(
                        &mut self.log,
                        Event {
                            kind: EventKind::Latched,
                            ..event
                        },
                    );
                }
            }
        }

        if shape_ok && m.fresh {
            // The balancer's last decision is what flowed beside the string's current since.
            let mut balance_a = [0.0; MAX_CELLS];
            self.balancer.cell_currents_a(&self.config, &mut balance_a);
            self.estimator
                .update(&StepInput::new(m, &self.config, dt_millis).with_balancing(&balance_a));
        }
        let soc = self.estimator.report();
        self.soc = soc;
        if shape_ok
            && m.fresh
            && self.self_discharge.wants_note(
                self.now_ms,
                soc.highest,
                soc.lowest,
                m.current_ma as f32 / 1000.0,
            )
        {
            self.note_end_of_charge();
        }

        let mut trips = FaultSet::EMPTY;
        let mut derates = FaultSet::EMPTY;
        let mut warnings = FaultSet::EMPTY;
        let mut latched = FaultSet::EMPTY;
        let mut charge_allowed = !self.forced_off;
        let mut discharge_allowed = !self.forced_off;
        let mut active = self.rows_active;
        while active != 0 {
            let r = active.trailing_zeros() as usize;
            active &= active - 1;
            let (Some(rule), Some(d)) = (self.rules.get(r), self.debouncers.get(r)) else {
                continue;
            };
            match rule.level {
                Level::Warning => warnings.set(rule.fault, true),
                Level::Derate => derates.set(rule.fault, true),
                Level::Trip => trips.set(rule.fault, true),
            }
            latched.set(rule.fault, latched.contains(rule.fault) || d.latched());
            charge_allowed &= !rule.blocks_charge;
            discharge_allowed &= !rule.blocks_discharge;
        }

        let before = self.switches.contactor();
        let mut switches = self
            .switches
            .update(charge_allowed, discharge_allowed, m, dt_millis);
        let contactor = self.switches.contactor();
        // The contactor's sequence goes in the log, so a trainer (or whoever looks later) sees
        // how long pre-charge took and when the pack was connected and disconnected.
        let mv = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        match (before, contactor) {
            (Some(ContactorState::Precharging { elapsed_ms }), Some(ContactorState::Closed)) => {
                record(
                    &mut self.log,
                    Event::contactor(
                        self.now_ms,
                        EventKind::ContactorClosed,
                        m.bus_voltage_mv.map_or(0, mv),
                        mv(m.pack_voltage_mv()),
                        elapsed_ms.saturating_add(dt_millis),
                    ),
                )
            }
            (Some(ContactorState::Closed), Some(now)) if now != ContactorState::Closed => record(
                &mut self.log,
                Event::contactor(
                    self.now_ms,
                    EventKind::ContactorOpened,
                    mv(m.pack_voltage_mv()),
                    0,
                    0,
                ),
            ),
            _ => {}
        }
        let (mut charge_switch_on, discharge_switch_on) = match contactor {
            None => (switches.charge_fet_on, switches.discharge_fet_on),
            Some(_) => (
                switches.main_contactor_on && charge_allowed,
                switches.main_contactor_on && discharge_allowed,
            ),
        };
        let soc_permille = permille(soc.average);
        let extremes = signals.extremes();
        let mut limits = self.limits.update_with(
            &self.config,
            m,
            &extremes,
            LimitInputs {
                soc_permille,
                charge_allowed: charge_switch_on,
                discharge_allowed: discharge_switch_on,
                derates,
                trips,
            },
            dt_millis,
        );
        if let Some(event) =
            self.update_standby(m, charge_switch_on, limits.charge_current_ma, dt_millis)
        {
            record(&mut self.log, event);
        }
        if self.charge_standby {
            charge_switch_on = false;
            switches.charge_fet_on = false;
            limits.charge_current_ma = 0;
        }
        let balancing =
            self.balancer
                .update(&self.config, m, trips.is_empty() && shape_ok, dt_millis);
        let cold_only = trips
            .iter()
            .all(|f| matches!(f, Fault::ChargeUnderTemperature));
        let thermal = self
            .thermal
            .update_with(&self.config, m, &extremes, cold_only && shape_ok);

        out.charge_switch_on = charge_switch_on;
        out.discharge_switch_on = discharge_switch_on;
        out.switches = switches;
        out.contactor = contactor;
        out.trips = trips;
        out.derates = derates;
        out.warnings = warnings;
        out.latched = latched;
        out.soc_permille = soc_permille;
        out.soc_bound_permille = soc.bound.map(permille);
        out.usable_soc_permille = permille(soc.usable);
        out.cell_soc_permille = (0..usize::from(self.config.cell_count))
            .filter_map(|i| self.estimator.cell_soc(i))
            .map(permille)
            .collect();
        out.soh_permille = self
            .estimator
            .soh_pct()
            .map(|(pct, _)| (pct * 10.0 + 0.5).clamp(0.0, 2000.0) as u16);
        out.current_bias_ma = soc
            .bias_a
            .map(|(b, _)| (b * 1000.0).clamp(-1.0e9, 1.0e9) as i32);
        out.current_bias_sigma_ma = soc
            .bias_a
            .map(|(_, sigma)| (sigma * 1000.0 + 0.5).clamp(0.0, f32::from(u16::MAX)) as u16);
        out.remaining_mah = (soc.remaining_ah.max(0.0) * 1000.0) as u32;
        out.limits = limits;
        out.balancing = balancing;
        out.heater_on = thermal.heater_on;
        out.fan_on = thermal.fan_on;
        out.switches_held_open = self.forced_off;
        out.charge_standby = self.charge_standby;
    }

    /// The charge switch's standby on a shared bus ([`PackConfig::shared_bus`]), given whether
    /// protection lets the switch close and the charge limit it would have closed at: whether
    /// it stands by from this step, and the event when that changed.
    ///
    /// Packs in parallel share one bus voltage, so while one pack may take no charge (a cell
    /// full) but keeps its charge switch closed, the others cannot be charged without charging
    /// it, and the bank's charge stops short (a weak cell full held two healthy packs at 95.6 %
    /// in the emulator); and fuller packs push charge into it whatever the inverter is told.
    /// So a pack with no charge limit that is idle or charged all the same for
    /// [`STANDBY_AFTER_MS`] opens its charge switch; its discharge switch stays on, and the
    /// open switch's diode still lets it discharge. It closes the switch again as soon as it
    /// discharges through that diode (more than the rest current): its voltage is then the
    /// bus's, so closing lets nothing rush in, and its current no longer goes through a
    /// diode's drop.
    ///
    /// Not on a charge limit coming back: a full pack's flickers up as its cells settle
    /// (closing for that opened it again half a minute later, all afternoon), and a pack
    /// closing onto a bus the others hold above it is charged by them at whatever the
    /// difference drives (a weak-cell pack closed at 40 A took 16 A on at a limit of 1.4 A).
    ///
    /// Alone on its bus (the setting off), or with contactor hardware, it never stands by.
    fn update_standby(
        &mut self,
        m: &Measurement,
        charge_allowed: bool,
        charge_limit_ma: u32,
        dt_millis: u32,
    ) -> Option<Event> {
        let fets = matches!(self.config.switches, crate::SwitchKind::Fets);
        if !(self.config.shared_bus && fets && charge_allowed && m.fresh) {
            // Protection (or a missing reading) decides alone: no standby to leave, as the
            // switch is open for a reason of its own, or closed by the setting.
            self.idle_without_charge_ms = 0;
            let was = core::mem::replace(&mut self.charge_standby, false);
            return (was && charge_allowed)
                .then(|| Event::standby(self.now_ms, EventKind::ChargeResumed, 0));
        }
        let rest_ma = i64::from(self.config.rest_current_ma);
        let current_ma = i64::from(m.current_ma);
        if self.charge_standby {
            if current_ma >= -rest_ma {
                return None;
            }
            self.charge_standby = false;
            self.idle_without_charge_ms = 0;
            return Some(Event::standby(
                self.now_ms,
                EventKind::ChargeResumed,
                m.current_ma,
            ));
        }
        // Idle, or charged all the same: the other packs pushing into it (a fuller pack's
        // voltage holds the bus above it) or a charger ignoring the limit. Not discharging.
        if charge_limit_ma > 0 || current_ma < -rest_ma {
            self.idle_without_charge_ms = 0;
            return None;
        }
        self.idle_without_charge_ms = self.idle_without_charge_ms.saturating_add(dt_millis);
        if self.idle_without_charge_ms < STANDBY_AFTER_MS {
            return None;
        }
        self.charge_standby = true;
        let pack_mv = i32::try_from(m.pack_voltage_mv()).unwrap_or(i32::MAX);
        Some(Event::standby(
            self.now_ms,
            EventKind::ChargeStandby,
            pack_mv,
        ))
    }
}

/// How long a pack on a shared bus goes without a charge limit (idle or charged all the same)
/// before its charge switch stands by, ms: long enough that a limit dipping to 0 for a moment
/// does not open it.
pub const STANDBY_AFTER_MS: u32 = 30_000;

/// A fraction as per mille, clamped to 0..=1000.
fn permille(fraction: f32) -> u16 {
    (fraction * 1000.0 + 0.5).clamp(0.0, 1000.0) as u16
}

/// A debouncer that is active and latched (carried across a configuration change).
fn latched_debouncer() -> Debouncer {
    let mut d = Debouncer::default();
    d.force_latched();
    d
}
