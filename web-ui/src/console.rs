//! The emulator console: what to run (scenario, seed, pack size), how fast (pause, one step,
//! 1× … a day a second, run to the next event), and faults to inject now. It drives the emulated device
//! and hands whatever the device sends to the same path as every other frame.

use crate::app::EmulatorInfo;
use crate::device::{EmulatorHandle, Placement};
use crate::host::Command;
use crate::link::{SPEEDS, Seek};

/// A speed select (1× … 86 400×) and a pause button: the emulator's clock and a replay's use the
/// same two controls.
#[component]
pub(crate) fn ClockControls(
    /// The speeds offered, × real time.
    speeds: &'static [u32],
    /// The speed now, × real time.
    speed: Signal<u32>,
    /// Whether the clock stands still.
    paused: Signal<bool>,
    /// Called with the speed chosen.
    on_speed: impl Fn(u32) + 'static,
    /// Called when the pause button is pressed.
    on_toggle: impl Fn() + 'static,
    /// Test id of the select.
    speed_testid: &'static str,
    /// Test id of the button.
    pause_testid: &'static str,
) -> impl IntoView {
    view! {
        <label>"Speed "
            <select data-testid=speed_testid
                on:change=move |ev| {
                    if let Ok(s) = event_target_value(&ev).parse() {
                        on_speed(s);
                    }
                }>
                {speeds.iter().map(|&s| view! {
                    <option value=s.to_string() selected=move || speed.get() == s>{crate::link::speed_label(s)}</option>
                }).collect_view()}
            </select>
        </label>
        <button data-testid=pause_testid aria-pressed=move || paused.get().to_string() on:click=move |_| on_toggle()>
            {move || if paused.get() { "Resume" } else { "Pause" }}
        </button>
    }
}
use emulator::{InjectedFault, Scenario, SimulationConfig};
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;

/// Pack sizes the console offers, series cells.
const CELL_COUNTS: std::ops::RangeInclusive<usize> = 4..=32;
/// Packs in parallel the console offers (the bank's own limit is eight).
const PACK_COUNTS: std::ops::RangeInclusive<usize> = 1..=emulator::bank::MAX_PACKS;
/// Years between packs' ages the console offers (each pack that much older than the one
/// before); a step that would make the oldest pack older than the emulator models is taken
/// down to the most that fits (the restart message says what ran).
const AGE_STEPS: [u8; 5] = [0, 1, 2, 4, 6];
/// SOC points between packs' starting charge the console offers.
const SOC_STEPS: [u8; 3] = [0, 10, 20];

/// The console: `device` is the emulated device it commands, `info` what the device last said
/// of itself, `next_run` numbers restarts, `message` is the console's status line (also used
/// for commands the device refused), and `placement` says where the device runs.
#[component]
pub fn EmulatorConsole(
    device: EmulatorHandle,
    info: RwSignal<Option<EmulatorInfo>>,
    next_run: Rc<Cell<u32>>,
    message: RwSignal<Option<String>>,
    placement: RwSignal<Placement>,
) -> impl IntoView {
    let current = move || info.with(|i| i.as_ref().map(|i| i.config));
    let scenario = RwSignal::new(None::<Scenario>);
    let seed = RwSignal::new(None::<String>);
    let cells = RwSignal::new(None::<usize>);
    let packs = RwSignal::new(None::<usize>);
    let age_step = RwSignal::new(None::<u8>);
    let soc_step = RwSignal::new(None::<u8>);
    let fault = RwSignal::new(0_usize);

    let send = {
        let device = device.clone();
        move |command: Command| device.send(command)
    };

    let restart = {
        let send = send.clone();
        move |_| {
            let Some(base) = current() else { return };
            let seed_text = seed.get().unwrap_or_else(|| base.seed.to_string());
            let Ok(seed_value) = seed_text.trim().parse::<u64>() else {
                message.set(Some(format!(
                    "Seed `{seed_text}` is not a whole number from 0 to 2^64 − 1; nothing changed."
                )));
                return;
            };
            let chosen_scenario = scenario.get().unwrap_or(base.scenario);
            let pack_count = packs.get().unwrap_or(base.packs);
            // Also when the packs were picked after the scenario.
            let pack_count = if pack_count < chosen_scenario.min_packs() {
                chosen_scenario.default_packs()
            } else {
                pack_count
            };
            // Steps between packs mean nothing for one pack: it starts as the scenario says.
            let between = |step: Option<u8>, was: u8| {
                if pack_count > 1 {
                    step.unwrap_or(was)
                } else {
                    0
                }
            };
            let config = SimulationConfig {
                scenario: chosen_scenario,
                seed: seed_value,
                cell_count: cells.get().unwrap_or(base.cell_count),
                packs: pack_count,
                pack_age_step_years: between(age_step.get(), base.pack_age_step_years)
                    .min(max_age_step(pack_count)),
                pack_soc_step_pct: between(soc_step.get(), base.pack_soc_step_pct),
                ..base
            };
            let run = next_run.get() + 1;
            next_run.set(run);
            let speed =
                info.with_untracked(|i| i.as_ref().map_or(crate::link::DEFAULT_SPEED, |i| i.speed));
            message.set(Some(format!(
                "Restarted: {} with seed {}, {} cells{}.",
                config.scenario.name(),
                config.seed,
                config.cell_count,
                if config.packs > 1 {
                    format!(
                        ", {} packs in parallel{}{}",
                        config.packs,
                        match config.pack_age_step_years {
                            0 => String::new(),
                            1 => ", each a year older than the one before".to_owned(),
                            y => format!(", each {y} years older than the one before"),
                        },
                        match config.pack_soc_step_pct {
                            0 => String::new(),
                            p => format!(", each starting {p} SOC points lower"),
                        }
                    )
                } else {
                    String::new()
                }
            )));
            send(Command::Start { config, speed, run });
        }
    };

    let set_speed = {
        let send = send.clone();
        move |speed| send(Command::SetSpeed(speed))
    };
    let toggle_pause = {
        let send = send.clone();
        move || {
            let paused = info.with_untracked(|i| i.as_ref().is_some_and(|i| i.paused));
            send(Command::SetPaused(!paused));
        }
    };
    let step = {
        let send = send.clone();
        move |_| send(Command::Step)
    };
    let run_to_event = {
        let send = send.clone();
        move |_| {
            message.set(None);
            send(Command::RunToNextEvent);
        }
    };
    let seek_text = move || {
        info.with(|i| match i.as_ref().and_then(|i| i.seek) {
            Some(Seek::Running { left_secs }) => Some(format!(
                "Running to the next event… ({:.1} simulated days left to search)",
                left_secs as f64 / 86_400.0
            )),
            Some(Seek::Found) => Some("Paused at the next event (see Events).".to_owned()),
            Some(Seek::NotFound) => Some("No event within a simulated week; paused.".to_owned()),
            None => None,
        })
    };
    let inject = {
        let send = send.clone();
        move |_| {
            let Some(config) = current() else { return };
            let catalogue = InjectedFault::catalogue(config.cell_count);
            let Some(&chosen) = catalogue.get(fault.get()) else {
                return;
            };
            send(Command::Inject(chosen));
            message.set(Some(format!("Injected: {}.", chosen.describe())));
        }
    };
    let placement_text = move || match placement.get() {
        Placement::Starting => "Starting the emulator's worker…",
        Placement::Worker => "The emulator runs in a Web Worker, beside the page.",
        Placement::Page => "The emulator runs in the page (its Web Worker did not start).",
    };

    let config_is = move |f: &dyn Fn(&SimulationConfig) -> bool| current().is_some_and(|c| f(&c));
    let paused = move || info.with(|i| i.as_ref().is_some_and(|i| i.paused));
    let speed = move || info.with(|i| i.as_ref().map_or(60, |i| i.speed));
    let chosen = move || scenario.get().or_else(|| current().map(|c| c.scenario));
    let chosen_packs = move || {
        packs
            .get()
            .or_else(|| current().map(|c| c.packs))
            .unwrap_or(1)
    };
    let bank_chosen = move || chosen_packs() > 1;
    // A bank's scenario picked with fewer packs than it needs brings its own number.
    let pick_scenario = move |ev| {
        let picked = Scenario::from_name(&event_target_value(&ev)).ok();
        if let Some(s) = picked.filter(|s| chosen_packs() < s.min_packs()) {
            packs.set(Some(s.default_packs()));
        }
        scenario.set(picked);
    };
    let fault_text = move |k: usize| {
        current()
            .and_then(|c| {
                InjectedFault::catalogue(c.cell_count)
                    .get(k)
                    .map(InjectedFault::describe)
            })
            .unwrap_or_default()
    };
    view! {
        <section class="card console" aria-label="Emulator console" data-testid="mode-emulator"
            style:display=move || if current().is_some() { "" } else { "none" }>
            <h2>"Emulator console"</h2>
            <div class="console-row">
                <label>"Scenario "
                    <select data-testid="scenario-select" on:change=pick_scenario>
                        {Scenario::ALL.iter().map(|&s| view! {
                            <option value=s.name() selected=move || config_is(&|c| c.scenario == s)>{s.name()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Seed "
                    <input type="number" min="0" data-testid="seed-input" class="seed"
                        prop:value=move || seed.get().unwrap_or_else(|| current().map_or(String::new(), |c| c.seed.to_string()))
                        on:input=move |ev| seed.set(Some(event_target_value(&ev)))/>
                </label>
                <label>"Cells "
                    <select data-testid="cells-select"
                        on:change=move |ev| cells.set(event_target_value(&ev).parse().ok())>
                        {CELL_COUNTS.map(|n| view! {
                            <option value=n.to_string() selected=move || config_is(&|c| c.cell_count == n)>{n}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label title="Packs of this size in parallel on one bus, each with its own BMS; the page shows pack 1 and what the bank tells the inverter">"Packs "
                    <select data-testid="packs-select"
                        prop:value=move || chosen_packs().to_string()
                        on:change=move |ev| packs.set(event_target_value(&ev).parse().ok())>
                        {PACK_COUNTS.map(|n| view! {
                            <option value=n.to_string() selected=move || config_is(&|c| c.packs == n)>{n}</option>
                        }).collect_view()}
                    </select>
                </label>
                <span class="console-bank" style:display=move || if bank_chosen() { "" } else { "none" }>
                    <label title="Each pack this many years older than the one before: an old bank with newer packs added. Pack 1 is the newest.">"Ages "
                        <select data-testid="age-step-select"
                            on:change=move |ev| age_step.set(event_target_value(&ev).parse().ok())>
                            {AGE_STEPS.map(|y| view! {
                                <option value=y.to_string() selected=move || config_is(&|c| c.pack_age_step_years == y)>{age_step_text(y)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label title="Each pack starting this many SOC points lower than the one before: brought together, the fuller packs charge the emptier ones.">"Charge "
                        <select data-testid="soc-step-select"
                            on:change=move |ev| soc_step.set(event_target_value(&ev).parse().ok())>
                            {SOC_STEPS.map(|p| view! {
                                <option value=p.to_string() selected=move || config_is(&|c| c.pack_soc_step_pct == p)>{soc_step_text(p)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                </span>
                <button data-testid="restart" on:click=restart>"Restart"</button>
            </div>
            <p class="purpose-line">{move || chosen().map(Scenario::purpose)}</p>
            <div class="console-row">
                <ClockControls speeds=&SPEEDS speed=Signal::derive(speed) paused=Signal::derive(paused)
                    on_speed=set_speed on_toggle=toggle_pause speed_testid="speed-select" pause_testid="pause"/>
                <button data-testid="step" on:click=step>"Step 1 s"</button>
                <button data-testid="run-to-event" on:click=run_to_event>"Run to next event"</button>
            </div>
            <div class="console-row">
                <label>"Fault "
                    <select data-testid="inject-fault"
                        on:change=move |ev| fault.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {(0..InjectedFault::CATALOGUE_LEN).map(|k| view! {
                            <option value=k.to_string() selected=move || fault.get() == k>{move || fault_text(k)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button data-testid="inject-fault-apply" on:click=inject>"Inject now"</button>
            </div>
            <p class="note" data-testid="emulator-placement">{placement_text}</p>
            <p class="console-message" role="status" data-testid="console-message">
                {move || seek_text().or_else(|| message.get())}
            </p>
        </section>
    }
}

/// The largest step between packs' ages that keeps the oldest of `packs` within what the
/// emulator models.
fn max_age_step(packs: usize) -> u8 {
    let older = u8::try_from(packs.saturating_sub(1))
        .unwrap_or(u8::MAX)
        .max(1);
    emulator::MAX_AGE_YEARS / older
}

/// An age step in the console's words.
fn age_step_text(years: u8) -> String {
    match years {
        0 => "all new".to_owned(),
        1 => "a year apart".to_owned(),
        y => format!("{y} years apart"),
    }
}

/// A SOC step in the console's words.
fn soc_step_text(points: u8) -> String {
    match points {
        0 => "all alike".to_owned(),
        p => format!("{p} points apart"),
    }
}

#[cfg(test)]
mod bank_choice_tests {
    use super::*;

    #[test]
    fn every_age_step_offered_is_taken_down_to_what_the_bank_can_be() {
        for packs in PACK_COUNTS {
            for &step in &AGE_STEPS {
                let taken = step.min(max_age_step(packs));
                let oldest = usize::from(taken) * (packs - 1);
                assert!(
                    oldest <= usize::from(emulator::MAX_AGE_YEARS),
                    "{packs} packs, {step}"
                );
                let config = SimulationConfig {
                    packs,
                    pack_age_step_years: taken,
                    ..SimulationConfig::new(emulator::Scenario::SolarDay, 1, 4)
                };
                assert!(emulator::Bank::new(config).is_ok(), "{packs} packs, {step}");
            }
        }
        assert_eq!(max_age_step(8), 2);
        assert_eq!(max_age_step(2), 20);
        assert_eq!(max_age_step(1), 20);
        assert_eq!(age_step_text(4), "4 years apart");
        assert_eq!(soc_step_text(10), "10 points apart");
    }
}
