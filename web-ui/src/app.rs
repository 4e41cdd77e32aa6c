//! The views. They read the [`Session`] through signals and never touch the engine.

use crate::chart::{self, CELL_CHART_ID};
use crate::config_panel::ConfigPanel;
use crate::console::{ClockControls, EmulatorConsole};
use crate::device::{EmulatorHandle, Placement};
use crate::device_panel::DevicePanel;
use crate::host::{Command, LinkStatus, Report};
use crate::link::config_from_query;
use crate::notify::{self, Permission};
use crate::parallel_panel::ParallelPacks;
use crate::recording::Replay;
use crate::recordings::{Recordings, RecordingsPanel, load_replay};
use crate::session::{
    CurrentOffset, LimitsView, LinkState, Reading, STALE_NOTE, Session, duration_text, explain,
    signed,
};
use crate::vendor::Protocol;
use bms_engine::protocol::{AckResult, Command as DeviceCommand};
use leptos::prelude::*;

/// The way host bytes go to what is shown (the connected device, or the emulated one); none
/// while a recording replays, as nothing is there to answer.
type DeviceLink = Option<std::rc::Rc<dyn Fn(Vec<u8>)>>;

/// Text shown where a value is not (yet) available.
const UNAVAILABLE: &str = "—";

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::default());
    // The bank's history outlives a session: showing another pack's BMS starts a new session,
    // but the bank runs on.
    let bank_history = RwSignal::new(crate::bank::BankHistory::default());
    let now_ms = RwSignal::new(js_sys::Date::now());
    // The page's clock, so that a device that has gone quiet shows as quiet.
    every(1_000, move || now_ms.set(js_sys::Date::now()));
    let emulator = RwSignal::new(None::<EmulatorInfo>);
    let startup_error = RwSignal::new(None::<String>);

    let query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let replay_id = crate::link::replay_from_query(&query).unwrap_or_else(|e| {
        startup_error.set(Some(format!(
            "{e} (the address asks for it); running the live demo instead"
        )));
        None
    });
    let recordings = Recordings::open(replay_id.is_none());
    // The tab's title tells the SOC and current, a trip, or silence: what an owner sees of the
    // battery with the page in the background.
    let replaying = replay_id.is_some();
    Effect::new(move |previous: Option<String>| {
        let title = session.with(|s| s.tab_title(now_ms.get(), replaying));
        if previous.as_ref() != Some(&title)
            && let Some(document) = web_sys::window().and_then(|w| w.document())
        {
            document.set_title(&title);
        }
        title
    });
    let console_message = RwSignal::new(None::<String>);
    let placement = RwSignal::new(Placement::Starting);
    // Whether the session shows a real device (then the emulator is paused and ignored).
    let showing_device = RwSignal::new(false);
    // Writes to the connected device (set by the device panel while a link is open).
    let device_writer = StoredValue::new_local(None::<crate::device_panel::Writer>);
    // What the device sent goes through here, whoever made it send (emulator, a real device or
    // a replay); `source` names the recording it belongs to (none for a replay).
    let deliver = {
        let recordings = recordings.clone();
        move |bytes: Vec<u8>, status: Option<LinkStatus>, source: Option<String>| {
            let now = js_sys::Date::now();
            let mut cut_off = Vec::new();
            let held = session.try_update(|s| {
                let held = s.ingest(&bytes, now);
                if let Some(status) = &status {
                    s.history.set_truth(&status.truth);
                    s.bank.set_frames(&status.pack_frames);
                    s.bank.set_parts(&status.pack_parts);
                    s.bank.shown = status.pack;
                    cut_off = s.bank.fresh_cut_off_notices();
                }
                (held, s.protocol())
            });
            notify::show_if_wanted(&cut_off);
            if let Some(status) = &status {
                bank_history.update(|h| {
                    if status.pack_frames.is_empty() {
                        h.clear();
                    } else {
                        h.extend(&status.bank_points);
                    }
                });
            }
            // Recordings hold Cellsight wire bytes (a replay decodes them again); a vendor
            // BMS's session is shown and kept in the history, not recorded.
            match (&source, held) {
                (Some(source), Some((held, Some(Protocol::Cellsight)))) => {
                    recordings.receive(&bytes, source, held);
                }
                (Some(_), Some((_, Some(vendor)))) => recordings.stop(&format!(
                    "Not recording: recordings keep a Cellsight device's own frames, and this is a {} BMS. Its history is kept while the page is open.",
                    vendor.label()
                )),
                _ => {}
            }
            now_ms.set(now);
            emulator.set(status.as_ref().map(EmulatorInfo::of));
        }
    };
    // The emulated device (in its worker) and the run the session shows: a report from an
    // earlier run (still in flight after a restart) is dropped; a later run starts afresh.
    let next_run = std::rc::Rc::new(std::cell::Cell::new(1_u32));
    let device = replay_id.is_none().then(|| {
        let session_run = std::cell::Cell::new(0_u32);
        let deliver = deliver.clone();
        let device = EmulatorHandle::spawn(
            move |report: Report| {
                if showing_device.get_untracked() {
                    return;
                }
                if let Some(refused) = report.refused {
                    console_message.set(Some(format!("{refused}.")));
                }
                if report.run < session_run.get() {
                    return;
                }
                if report.run > session_run.get() {
                    session_run.set(report.run);
                    session.set(Session::default());
                }
                let source = report
                    .status
                    .as_ref()
                    .map(|s| crate::link::source_text(&s.config, s.pack));
                deliver(report.bytes, report.status, source);
            },
            move |where_| placement.set(where_),
        );
        let config = config_from_query(&query).unwrap_or_else(|e| {
            startup_error.set(Some(format!(
                "{e} (the address asks for it); running the default demo instead"
            )));
            crate::link::DEMO
        });
        device.send(Command::Start {
            config,
            speed: crate::link::DEFAULT_SPEED,
            run: next_run.get(),
        });
        device
    });
    let replay = RwSignal::new(None::<ReplayInfo>);
    let replayer: std::rc::Rc<std::cell::RefCell<Option<Replay>>> = std::rc::Rc::default();
    if let Some(id) = replay_id {
        let replayer = replayer.clone();
        let deliver = deliver.clone();
        leptos::task::spawn_local(async move {
            match load_replay(id).await {
                Ok(loaded) => {
                    *replayer.borrow_mut() = Some(loaded);
                    start_ticking(move || {
                        let mut player = replayer.borrow_mut();
                        let Some(player) = player.as_mut() else {
                            return;
                        };
                        let bytes = player.poll(f64::from(crate::link::TICK_MILLIS));
                        replay.set(Some(ReplayInfo::of(id, player)));
                        if !bytes.is_empty() {
                            deliver(bytes, None, None);
                        }
                    });
                }
                Err(e) => startup_error.set(Some(format!("Cannot replay: {e}."))),
            }
        });
    }

    let reading = Memo::new(move |_| session.with(|s| s.latest.clone()));
    let rated_ah = Signal::derive(move || {
        session.with(|s| {
            s.device
                .as_ref()
                .map(|d| f64::from(d.capacity_mah) / 1000.0)
        })
    });
    // A memo: the line under the cells is built again only when what it says changes, not
    // with every report.
    let offset = Memo::new(move |_| session.with(|s| s.current_offset(rated_ah.get())));
    // The chart library comes after the first numbers (a frame later, once they are drawn).
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let shown = reading.with(Option::is_some);
        if shown {
            shortly(chart::load_plotly);
        }
        shown
    });
    let field = move |f: fn(&Reading) -> String| {
        Signal::derive(move || {
            reading.with(|r| r.as_ref().map_or_else(|| UNAVAILABLE.to_owned(), f))
        })
    };

    // Host bytes go to what is shown: the connected device, or the emulated one (none while a
    // recording replays: nothing is there to answer).
    let to_device: DeviceLink = replay_id.is_none().then(|| {
        let device = device.clone();
        let send: std::rc::Rc<dyn Fn(Vec<u8>)> = std::rc::Rc::new(move |bytes| {
            if showing_device.get_untracked() {
                if let Some(write) = device_writer.get_value() {
                    write(bytes);
                }
            } else if let Some(device) = &device {
                device.send(Command::ToDevice(bytes));
            }
        });
        send
    });

    view! {
        <header class="top">
            <div class="brand">
                <span class="logo" aria-hidden="true">"▮▮▮"</span>
                <h1>"Cellsight"</h1>
            </div>
            <div class="header-right">
                <ThemeToggle/>
                <ConnectionStatus session=session now_ms=now_ms/>
            </div>
        </header>
        <main>
            {move || startup_error.get().map(|e| view! {
                <p class="error" role="alert" data-testid="startup-error">{e}</p>
            })}
            {move || session.with(|s| s.device_problem.clone()).map(|p| view! {
                <p class="error" role="alert" data-testid="device-problem">{p}</p>
            })}
            <EmulatorBanner info=emulator/>
            <ReplayBar info=replay replayer=replayer/>
            {device.clone().map(|device| view! {
                <EmulatorConsole device=device info=emulator next_run=next_run.clone() message=console_message placement=placement/>
            })}
            {replay_id.is_none().then(|| {
                let deliver = deliver.clone();
                let serial_baud = RwSignal::new(crate::device_panel::stored_baud());
                let device = device.clone();
                view! {
                    <DevicePanel session=session showing_device=showing_device writer=device_writer baud=serial_baud
                        deliver=std::rc::Rc::new(move |bytes, name| deliver(bytes, None, Some(name)))
                        emulator_paused=std::rc::Rc::new(move |paused| {
                            if paused {
                                emulator.set(None);
                            }
                            if let Some(device) = &device {
                                device.send(Command::SetPaused(paused));
                            }
                        })/>
                    <ParallelPacks session=session showing_device=showing_device baud=serial_baud/>
                }
            })}
            <section class="cards" aria-label="Pack">
                <Metric label="Pack voltage" unit="V" testid="pack-voltage"
                    value=field(|r| format!("{:.2}", r.pack_voltage_v))/>
                <Metric label="Current" unit="A" testid="pack-current"
                    value=field(|r| signed(r.current_a, 1))
                    note=Signal::derive(move || {
                        session.with(|s| {
                            let Some(r) = s.latest.as_ref() else { return UNAVAILABLE.to_owned() };
                            if r.measurements_stale() {
                                return STALE_NOTE.to_owned();
                            }
                            match s.time_to_full_or_empty() {
                                Some((hours, full)) => format!(
                                    "{} · {} in {}",
                                    direction(r.current_a),
                                    if full { "full" } else { "empty" },
                                    duration_text(hours)
                                ),
                                None => direction(r.current_a).to_owned(),
                            }
                        })
                    })/>
                <Metric label="Power" unit="W" testid="pack-power"
                    value=field(|r| signed(r.power_w(), 0))
                    note=Signal::derive(move || session.with(|s| {
                        let (into, out) = s.energy_wh;
                        format!("this session: in {:.2} kWh, out {:.2} kWh", into / 1000.0, out / 1000.0)
                    }))/>
                <SocCard reading=reading emulator=emulator/>
                <TruthCard reading=reading emulator=emulator offset=offset/>
                <PowerFlowCard emulator=emulator/>
                <SwitchesCard reading=reading session=session to_device=to_device.clone()/>
                <LimitsCard reading=reading session=session/>
                <AlarmsCard reading=reading session=session to_device=to_device.clone()/>
            </section>
            <BankPanel session=session history=bank_history emulator=emulator select=device.clone().map(|device| {
                let next_run = next_run.clone();
                std::rc::Rc::new(move |pack: usize| {
                    let run = next_run.get() + 1;
                    next_run.set(run);
                    console_message.set(Some(format!(
                        "Showing pack {}: its BMS's cells, events and history from now on.",
                        pack + 1
                    )));
                    device.send(Command::SelectPack { pack, run });
                }) as std::rc::Rc<dyn Fn(usize)>
            })/>
            <CellsPanel reading=reading rated_ah=rated_ah offset=offset/>
            <EventsPanel session=session emulator=emulator replaying=replaying/>
            <HistoryPanel session=session emulator=emulator/>
            <InverterPanel reading=reading session=session/>
            {to_device.clone().map(|to_device| view! {
                <ConfigPanel session=session showing_device=showing_device to_device=to_device/>
            })}
            <RecordingsPanel recordings=recordings/>
        </main>
        <footer>
            <LinkCounters session=session/>
        </footer>
    }
}

/// SOC, pack and cell history as plotly charts, redrawn when a report adds a point. The three
/// share one time window: zooming or panning one zooms all, and the window is redrawn from the
/// full one-second history, decimated to the screen.
#[component]
fn HistoryPanel(
    session: RwSignal<Session>,
    emulator: RwSignal<Option<EmulatorInfo>>,
) -> impl IntoView {
    // Redraw when a report has added a point (a paused device's repeats add none).
    let stamp = Memo::new(move |_| {
        session.with(|s| (s.history.len(), s.history.span_s().map_or(0.0, |(_, b)| b)))
    });
    // The stretch on screen, device seconds (`None`: everything).
    let window = RwSignal::new(None::<(f64, f64)>);
    // A new point or a new window marks every chart stale.
    let charts = StaleCharts::<3>::new();
    let listening = StoredValue::new([false; 3]);
    Effect::new(move |_| {
        let _ = (stamp.get(), window.get());
        charts.mark_all();
    });
    every(CHART_REDRAW_MILLIS, move || {
        let Some(index) = charts.due() else {
            return;
        };
        let range = window.get_untracked();
        let axis = time_axis(emulator);
        if session.with_untracked(|s| chart::draw_history_chart(index, &s.history, range, axis)) {
            charts.drawn(index);
        }
        if !listening.with_value(|l| l[index])
            && chart::listen_for_zoom(index, move |zoomed| window.set(zoomed))
        {
            listening.update_value(|l| l[index] = true);
        }
    });
    let span = move || {
        session.with(|s| match s.history.span_s() {
            Some((a, b)) => {
                let per = s.history.reports_per_point();
                format!(
                    "{} points over {}; {}",
                    s.history.len(),
                    crate::session::span_text(b - a),
                    if per == 1 {
                        "every report kept".to_owned()
                    } else {
                        format!("each stands for up to {per} reports")
                    }
                )
            }
            None => "No reports yet.".to_owned(),
        })
    };
    let window_text = move || match window.get() {
        Some((a, b)) => format!(
            " · showing {} to {}",
            device_time((a * 1000.0) as u64),
            device_time((b * 1000.0) as u64)
        ),
        None => String::new(),
    };
    view! {
        <section class="card history" aria-label="History" data-testid="history">
            <h2>"History"</h2>
            <p class="note" data-testid="history-span">{span}{window_text}" · drag to zoom, double-click to see all"</p>
            {chart::HISTORY_CHART_IDS.iter().map(|id| view! { <div id=*id class="history-chart"></div> }).collect_view()}
        </section>
    }
}

/// The colour theme: following the system, or chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Theme {
    Auto,
    Light,
    Dark,
}

impl Theme {
    const STORAGE_KEY: &'static str = "cellsight-theme";

    fn name(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn next(self) -> Self {
        match self {
            Theme::Auto => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Auto,
        }
    }

    /// The theme last chosen on this browser.
    fn stored() -> Self {
        match crate::js::remembered(Self::STORAGE_KEY).as_deref() {
            Some("light") => Theme::Light,
            Some("dark") => Theme::Dark,
            _ => Theme::Auto,
        }
    }

    /// Light or dark, after asking the system for "auto".
    fn resolved(self) -> Self {
        match self {
            Theme::Auto => {
                let dark = web_sys::window()
                    .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
                    .is_some_and(|m| m.matches());
                if dark { Theme::Dark } else { Theme::Light }
            }
            chosen => chosen,
        }
    }

    /// Shows the theme and remembers the choice (storage may be refused: then only shown).
    fn apply(self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", self.resolved().name());
        }
        crate::js::remember(Self::STORAGE_KEY, self.name());
    }
}

/// Cycles the colour theme: auto (the system's), light, dark.
#[component]
fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(Theme::stored());
    Effect::new(move |_| theme.get().apply());
    view! {
        <button class="theme-toggle" data-testid="theme-toggle"
            aria-label=move || format!("Colour theme: {}. Press for {}.", theme.get().name(), theme.get().next().name())
            on:click=move |_| theme.update(|t| *t = t.next())>
            {move || format!("Theme: {}", theme.get().name())}
        </button>
    }
}

/// Packs in parallel (the emulator's bank): what the bank tells its inverter, why a limit is
/// below what the packs allow together, and each pack's line, with a button to show that
/// pack's BMS (`select`, with the pack's 0-based number). Shown only for a bank.
#[component]
fn BankPanel(
    session: RwSignal<Session>,
    history: RwSignal<crate::bank::BankHistory>,
    emulator: RwSignal<Option<EmulatorInfo>>,
    select: Option<std::rc::Rc<dyn Fn(usize)>>,
) -> impl IntoView {
    // The two charts redraw one at a time, as the history's do, when points have come.
    let stamp = Memo::new(move |_| {
        history.with(|h| {
            (
                h.points().len(),
                h.points().last().map_or(0.0, |p| p.time_s),
            )
        })
    });
    let charts = StaleCharts::<2>::new();
    // The history as CSV, each time on the emulated clock the charts read.
    let export_message = RwSignal::new(None::<String>);
    let export = move |_| {
        let of_day = emulator.with_untracked(|e| e.as_ref().map(EmulatorInfo::start_of_day_secs));
        let csv =
            history.with_untracked(|h| h.csv(|t| event_time((t.max(0.0) * 1000.0) as u64, of_day)));
        let rows = csv.lines().count().saturating_sub(1);
        export_message.set(Some(
            match crate::store::download("cellsight-bank.csv", "text/csv", csv.as_bytes()) {
                Ok(()) => format!("{rows} points of every pack exported as CSV."),
                Err(e) => format!("The bank's history could not be exported: {e}"),
            },
        ));
    };
    Effect::new(move |_| {
        let _ = stamp.get();
        charts.mark_all();
    });
    every(CHART_REDRAW_MILLIS, move || {
        if history.with_untracked(|h| h.points().is_empty()) {
            return;
        }
        let Some(index) = charts.due() else {
            return;
        };
        let axis = time_axis(emulator);
        if history.with_untracked(|h| {
            chart::draw_bank_chart(&chart::BANK_CHART_IDS, index, h.points(), axis)
        }) {
            charts.drawn(index);
        }
    });
    let capacity = move || session.with(|s| s.device.as_ref().map_or(0, |d| d.capacity_mah));
    let shown = move || session.with(|s| s.bank.is_bank());
    let showing = move || session.with(|s| s.bank.shown + 1);
    let can_select = select.is_some();
    let select = StoredValue::new_local(select);
    view! {
        <section class="card bank" aria-label="Packs in parallel" data-testid="bank"
            style:display=move || if shown() { "" } else { "none" }>
            <h2>"Packs in parallel"</h2>
            <p class="note">{move || session.with(|s| format!(
                "{} packs on one bus, each with its own BMS: the inverter is told what they allow together. The cells, events and history on this page are pack {}'s; Show puts another pack's BMS in its place.",
                s.bank.packs.len(),
                s.bank.shown + 1
            ))}</p>
            <p data-testid="bank-told"><strong>"Told to the inverter: "</strong>
                {move || session.with(|s| s.bank.told_text(capacity()).unwrap_or_default())}</p>
            {move || session.with(|s| s.bank.held_text(capacity())).into_iter().map(|line| view! {
                <p class="note attention" data-testid="bank-held">{line}</p>
            }).collect_view()}
            {move || session.with(|s| s.bank.cut_off_text().to_vec()).into_iter().map(|line| view! {
                <p class="note attention" data-testid="bank-cut-off">{line}</p>
            }).collect_view()}
            <table class="bank-packs" data-testid="bank-packs">
                <thead><tr>
                    <th scope="col">"Pack"</th><th scope="col">"SOC"</th><th scope="col">"SOH"</th><th scope="col">"Current"</th>
                    <th scope="col">"Voltage"</th><th scope="col">"Switches"</th>
                    <th scope="col">"Its limits"</th><th scope="col">"Trips and alarms"</th>
                    <th scope="col"><span class="visually-hidden">"On this page"</span></th>
                </tr></thead>
                <tbody>
                    {move || session.with(|s| s.bank.lines()).into_iter().map(|l| {
                        let here = l.number == showing();
                        let number = l.number;
                        view! {
                            <tr data-testid=format!("bank-pack-{}", l.number) class:tripped=l.tripped class:shown=here>
                                <th scope="row"><span class="pack-name">{format!("Pack {}", l.number)}</span>
                                    {l.left_out.then(|| view! {
                                        <span class="attention left-out" data-testid=format!("bank-left-out-{number}")>"left out: cut off the bus"</span>
                                    })}</th>
                                <td>{format!("{:.1} %", l.soc_pct)}</td>
                                <td class="soh">{l.soh_pct.map_or_else(|| "learning".to_owned(), |s| format!("{s:.0} %"))}</td>
                                <td>{format!("{} A", signed(l.current_a, 1))}</td>
                                <td>{format!("{:.2} V", l.voltage_v)}</td>
                                <td>{l.switches_text()}</td>
                                <td>{format!("{:.0} A in · {:.0} A out", l.limits_a.0, l.limits_a.1)}</td>
                                <td>{l.faults}</td>
                                <td>{if here {
                                    view! { <span class="quiet" data-testid=format!("bank-shown-{number}")>"on this page"</span> }.into_any()
                                } else {
                                    view! {
                                        <button data-testid=format!("bank-show-{number}")
                                            aria-label=format!("Show pack {number}'s BMS on this page")
                                            disabled=!can_select
                                            on:click=move |_| select.with_value(|s| if let Some(s) = s { s(number - 1) })>
                                            "Show"
                                        </button>
                                    }.into_any()
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <div class="cells-head">
                <h3>"Over the run"</h3>
                {move || (!history.with(|h| h.points().is_empty())).then(|| view! {
                    <button class="command" data-testid="bank-csv" on:click=export>"Download CSV"</button>
                })}
            </div>
            {move || export_message.get().map(|m| view! { <p class="note" role="status" data-testid="bank-csv-status">{m}</p> })}
            <p class="note" data-testid="bank-history-span">{move || history.with(|h| match (h.points().first(), h.points().last()) {
                (Some(a), Some(b)) if b.time_s > a.time_s => format!(
                    "Each pack's current and SOC as its BMS tells them, over {}.",
                    crate::session::span_text(b.time_s - a.time_s)
                ),
                _ => "Each pack's current and SOC as its BMS tells them, once the run has moved on.".to_owned(),
            })}</p>
            {chart::BANK_CHART_IDS.iter().map(|id| view! { <div id=*id class="history-chart"></div> }).collect_view()}
        </section>
    }
}

/// The Pylontech CAN frames the device sends its inverter, bytes and meaning, live: the
/// bank's, when packs run in parallel.
#[component]
fn InverterPanel(reading: Memo<Option<Reading>>, session: RwSignal<Session>) -> impl IntoView {
    let bank_rows = move || {
        session.with(|s| {
            s.bank
                .can_rows(s.device.as_ref().map_or(0, |d| d.capacity_mah))
        })
    };
    view! {
        <section class="card inverter" aria-label="Inverter CAN frames">
            <h2>"Told to the inverter over CAN"</h2>
            <p class="note">"Pylontech-compatible frames, 500 kbit/s, each sent every second (Victron, SMA, Deye, Growatt … read them)."
                {move || session.with(|s| s.bank.is_bank().then(|| format!(
                    " These are the bank's: what its {} packs allow together.",
                    s.bank.packs.len()
                )))}</p>
            {move || reading.with(|r| r.as_ref().is_some_and(|r| r.protocol != Protocol::Cellsight)).then(|| view! {
                <p class="quiet" data-testid="can-unavailable">"This BMS does not say what it sends its inverter."</p>
            })}
            <table class="can" data-testid="can-frames"
                style:display=move || if reading.with(|r| r.as_ref().is_some_and(|r| r.protocol != Protocol::Cellsight)) { "none" } else { "" }>
                <thead><tr><th scope="col">"ID"</th><th scope="col">"Bytes"</th><th scope="col">"What the inverter reads"</th></tr></thead>
                <tbody>
                    {move || bank_rows()
                        .or_else(|| reading.with(|r| r.as_ref().map(|r| r.can_frames.clone())))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|row| view! {
                            <tr data-testid=format!("can-{:03X}", row.id)>
                                <td class="mono">{format!("0x{:03X}", row.id)}</td>
                                <td class="mono">{row.hex}</td>
                                <td>{row.meaning}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Where a playback stands, for the replay bar.
#[derive(Debug, Clone, PartialEq)]
struct ReplayInfo {
    id: u32,
    progress: f64,
    speed: u32,
    paused: bool,
    finished: bool,
}

impl ReplayInfo {
    fn of(id: u32, replay: &Replay) -> Self {
        ReplayInfo {
            id,
            progress: replay.progress(),
            speed: replay.speed(),
            paused: replay.paused(),
            finished: replay.finished(),
        }
    }
}

/// Playback controls, while a recording is replayed instead of a live device.
#[component]
fn ReplayBar(
    info: RwSignal<Option<ReplayInfo>>,
    replayer: std::rc::Rc<std::cell::RefCell<Option<Replay>>>,
) -> impl IntoView {
    let set_speed = {
        let replayer = replayer.clone();
        move |speed| {
            if let Some(r) = replayer.borrow_mut().as_mut() {
                r.set_speed(speed);
            }
        }
    };
    let toggle = move || {
        if let Some(r) = replayer.borrow_mut().as_mut() {
            r.set_paused(!r.paused());
        }
    };
    let paused = move || info.with(|i| i.as_ref().is_some_and(|i| i.paused));
    let speed = move || info.with(|i| i.as_ref().map_or(crate::link::DEFAULT_SPEED, |i| i.speed));
    view! {
        <section class="card replay" aria-label="Replay" data-testid="replay-bar"
            style:display=move || if info.with(Option::is_some) { "" } else { "none" }>
            <p class="banner">
                {move || info.with(|i| i.as_ref().map(|i| format!(
                    "Replaying recording #{} · {:.0} % played{}",
                    i.id,
                    i.progress * 100.0,
                    if i.finished { " · finished" } else { "" }
                )))}
            </p>
            <div class="console-row">
                <ClockControls speeds=&crate::link::SPEEDS speed=Signal::derive(speed) paused=Signal::derive(paused)
                    on_speed=set_speed on_toggle=toggle speed_testid="replay-speed" pause_testid="replay-pause"/>
                <a class="button" href="./" data-testid="replay-exit">"Back to the live emulator"</a>
            </div>
        </section>
    }
}

/// What the emulator console shows about the running simulation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmulatorInfo {
    pub config: emulator::SimulationConfig,
    pub scenario: &'static str,
    pub purpose: &'static str,
    pub time_of_day_secs: u64,
    /// Simulated seconds since the start.
    pub elapsed_secs: u64,
    /// The emulated pack's true SOC, %, to show beside the BMS's estimate.
    pub true_soc_pct: f64,
    /// The current truly flowing, A.
    pub true_current_a: f64,
    /// What the current sensor reads above it, A.
    pub true_current_offset_a: f64,
    /// The coldest and hottest true cell temperature, °C.
    pub true_temperature_range_c: (f64, f64),
    /// Power in the emulated home now.
    pub flow: emulator::PowerFlow,
    /// × real time.
    pub speed: u32,
    /// The speed reached when the pack is too large to keep up with `speed`.
    pub reached_speed: Option<u32>,
    pub paused: bool,
    /// The last "run to the next event".
    pub seek: Option<crate::link::Seek>,
}

impl EmulatorInfo {
    /// The emulated time of day the run started at, s after midnight of day 1.
    pub(crate) fn start_of_day_secs(&self) -> u64 {
        start_of_day(self.elapsed_secs, self.time_of_day_secs)
    }

    pub(crate) fn of(status: &LinkStatus) -> Self {
        let scenario = status.scenario();
        EmulatorInfo {
            config: status.config,
            scenario: scenario.name(),
            purpose: scenario.purpose(),
            time_of_day_secs: status.time_of_day_secs,
            elapsed_secs: status.elapsed_secs,
            true_soc_pct: status.true_soc_pct,
            true_current_a: status.true_current_a,
            true_current_offset_a: status.true_current_offset_a,
            true_temperature_range_c: status.true_temperature_range_c,
            flow: status.flow,
            speed: status.speed,
            reached_speed: status.reached_speed,
            paused: status.paused,
            seek: status.seek,
        }
    }
}

#[cfg(target_family = "wasm")]
fn start_ticking(mut tick: impl FnMut() + 'static) {
    tick();
    gloo::timers::callback::Interval::new(crate::link::TICK_MILLIS, tick).forget();
}

/// Native builds (unit tests) have no timers; the views are exercised in the browser tests.
#[cfg(not(target_family = "wasm"))]
fn start_ticking(_tick: impl FnMut() + 'static) {}

/// Runs `f` once, 50 ms from now (after the frame being drawn).
#[cfg(target_family = "wasm")]
fn shortly(f: fn()) {
    gloo::timers::callback::Timeout::new(50, f).forget();
}

#[cfg(not(target_family = "wasm"))]
fn shortly(_f: fn()) {}

/// How often stale charts are looked at, ms.
pub(crate) const CHART_REDRAW_MILLIS: u32 = 250;

/// Runs `f` every `millis` for the life of the page.
#[cfg(target_family = "wasm")]
pub(crate) fn every(millis: u32, f: impl FnMut() + 'static) {
    gloo::timers::callback::Interval::new(millis, f).forget();
}

#[cfg(not(target_family = "wasm"))]
pub(crate) fn every(_millis: u32, _f: impl FnMut() + 'static) {}

/// Charts a panel redraws one at a time, in turn, every [`CHART_REDRAW_MILLIS`], once what
/// they show has changed: at 3600× no single frame carries every plotly redraw, and a chart
/// whose plotly.js was not loaded yet is drawn once it is.
#[derive(Clone, Copy)]
pub(crate) struct StaleCharts<const N: usize> {
    stale: StoredValue<[bool; N]>,
    next: StoredValue<usize>,
}

impl<const N: usize> StaleCharts<N> {
    pub(crate) fn new() -> Self {
        StaleCharts {
            stale: StoredValue::new([false; N]),
            next: StoredValue::new(0),
        }
    }

    /// What every chart shows has changed.
    pub(crate) fn mark_all(&self) {
        self.stale.set_value([true; N]);
    }

    /// The next stale chart, after the one drawn last.
    pub(crate) fn due(&self) -> Option<usize> {
        let start = self.next.get_value();
        (0..N).map(|k| (start + k) % N).find(|&i| {
            self.stale
                .with_value(|s| s.get(i).copied().unwrap_or(false))
        })
    }

    /// Chart `index` is drawn as it should be.
    pub(crate) fn drawn(&self, index: usize) {
        self.stale.update_value(|s| {
            if let Some(slot) = s.get_mut(index) {
                *slot = false;
            }
        });
        self.next.set_value(index + 1);
    }
}

/// How a chart's time axis reads: on the emulator, its clock (as the banner and the events
/// tell it); else hours.
fn time_axis(emulator: RwSignal<Option<EmulatorInfo>>) -> chart::TimeAxis {
    emulator.with_untracked(|e| {
        e.as_ref()
            .map_or(chart::TimeAxis::Hours, |e| chart::TimeAxis::Clock {
                start_of_day_s: e.start_of_day_secs(),
            })
    })
}

fn direction(current_a: f64) -> &'static str {
    if current_a > 0.5 {
        "charging"
    } else if current_a < -0.5 {
        "discharging"
    } else {
        "idle"
    }
}

#[component]
fn ConnectionStatus(session: RwSignal<Session>, now_ms: RwSignal<f64>) -> impl IntoView {
    let state = move || session.with(|s| s.link_state(now_ms.get()));
    let device = move || {
        session.with(|s| {
            s.device.as_ref().map(|d| {
                let kind = if d.emulated {
                    "emulated pack"
                } else {
                    "device"
                };
                format!("{kind} · {}", d.firmware)
            })
        })
    };
    let text = move || match state() {
        LinkState::Waiting => "Connecting…".to_owned(),
        LinkState::Live => match device() {
            Some(d) => format!("Connected — {d}"),
            None => "Connected".to_owned(),
        },
        LinkState::Silent { secs } => format!("No data for {secs:.0} s"),
    };
    let class = move || match state() {
        LinkState::Waiting => "status waiting",
        LinkState::Live => "status live",
        LinkState::Silent { .. } => "status silent",
    };
    view! {
        <span class=class data-testid="connection-status" role="status">{text}</span>
    }
}

/// The time of day a run started at, from its elapsed seconds and the time of day now.
fn start_of_day(elapsed_secs: u64, time_of_day_secs: u64) -> u64 {
    const DAY: u64 = 86_400;
    (time_of_day_secs % DAY + DAY - elapsed_secs % DAY) % DAY
}

/// "day 2, 02:00:30": the emulated clock, its day counted from the start and turning at
/// midnight, as a calendar's does (a run starting at 06:00 is in day 2 twenty hours later).
fn emulated_clock(elapsed_secs: u64, time_of_day_secs: u64) -> String {
    const DAY: u64 = 86_400;
    let t = time_of_day_secs % DAY;
    let start = start_of_day(elapsed_secs, t);
    let day = (start + elapsed_secs) / DAY + 1;
    format!(
        "day {day}, {:02}:{:02}:{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

#[component]
fn EmulatorBanner(info: RwSignal<Option<EmulatorInfo>>) -> impl IntoView {
    move || {
        info.get().map(|i| {
            let clock = emulated_clock(i.elapsed_secs, i.time_of_day_secs);
            let speed = if i.paused {
                "paused".to_owned()
            } else {
                crate::link::speed_text(i.speed, i.reached_speed)
            };
            view! {
                <section class="emulator" aria-label="Emulator">
                    <span class="badge">"Emulator"</span>
                    <span class="scenario" data-testid="scenario">{i.scenario}</span>
                    <span class="purpose">{i.purpose}</span>
                    <span class="clock" data-testid="emulated-time">{clock}</span>
                    <span class="speed" data-testid="emulator-speed">{speed}</span>
                </section>
            }
        })
    }
}

#[component]
fn Metric(
    label: &'static str,
    unit: &'static str,
    testid: &'static str,
    value: Signal<String>,
    #[prop(optional)] note: Option<Signal<String>>,
) -> impl IntoView {
    view! {
        <div class="card metric">
            <span class="label">{label}</span>
            <span class="value">
                <span data-testid=testid>{value}</span>
                <span class="unit">{unit}</span>
            </span>
            {note.map(|n| view! { <span class="note">{n}</span> })}
        </div>
    }
}

#[component]
fn SocCard(
    reading: Memo<Option<Reading>>,
    emulator: RwSignal<Option<EmulatorInfo>>,
) -> impl IntoView {
    let soc = move || reading.with(|r| r.as_ref().map(|r| r.soc_pct));
    let bound = move || {
        reading.with(
            |r| match r.as_ref().map(|r| (r.soc_bound_pct, r.protocol)) {
                Some((Some(b), _)) => format!("± {b:.1} % (3σ)"),
                Some((None, Protocol::Cellsight)) => {
                    "no confidence bound (coulomb counting)".to_owned()
                }
                Some((None, _)) => "as the BMS counts it; no confidence bound".to_owned(),
                None => UNAVAILABLE.to_owned(),
            },
        )
    };
    let detail = move || {
        reading.with(|r| {
            r.as_ref().map_or_else(String::new, |r| {
                // The string's SOH is its weakest cell's: name it once the cells are told.
                let weakest = r
                    .capacities(None)
                    .filter(|c| c.cells > 1)
                    .map_or_else(String::new, |c| format!(" (cell {})", c.weakest.0));
                let soh = r.soh_pct.map_or_else(
                    || "SOH not yet known".to_owned(),
                    |s| format!("SOH {s:.1} %{weakest}"),
                );
                let mut parts = Vec::new();
                if let Some(usable) = r.usable_soc_pct {
                    parts.push(format!("usable {usable:.1} %"));
                }
                parts.push(soh);
                if let Some((left, full)) = r.capacity_ah {
                    parts.push(format!("{left:.1} of {full:.1} Ah"));
                }
                if let Some(cycles) = r.cycles {
                    parts.push(format!("{cycles} cycles"));
                }
                parts.join(" · ")
            })
        })
    };
    let truth = move || emulator.with(|e| e.as_ref().map(|e| e.true_soc_pct));
    view! {
        <div class="card metric">
            <span class="label">"State of charge"</span>
            <span class="value">
                <span data-testid="soc">
                    {move || soc().map_or_else(|| UNAVAILABLE.to_owned(), |s| format!("{s:.1}"))}
                </span>
                <span class="unit">"%"</span>
            </span>
            <span class="note" data-testid="soc-bound">{bound}</span>
            <div class="soc-bar" role="meter" aria-label="State of charge"
                aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=move || soc().map(|s| format!("{s:.1}"))>
                <div class="fill" style:width=move || format!("{:.1}%", soc().unwrap_or(0.0))></div>
                {move || truth().map(|t| view! {
                    <div class="truth-mark" title="true SOC (emulator)"
                        style:left=format!("{:.1}%", t.clamp(0.0, 100.0))></div>
                })}
            </div>
            {move || truth().map(|t| view! {
                <span class="note truth">"true (emulator) "
                    <span data-testid="true-soc">{format!("{t:.1}")}</span>" %"</span>
            })}
            <span class="note" data-testid="soc-detail">{detail}</span>
        </div>
    }
}

/// Power below this is drawn as no flow, W.
const FLOW_IDLE_W: f64 = 20.0;

/// "3.20 kW" or "450 W".
fn power_text(w: f64) -> String {
    let w = w.abs();
    if w >= 1_000.0 {
        format!("{:.2} kW", w / 1_000.0)
    } else {
        format!("{w:.0} W")
    }
}

/// One branch of the power-flow picture: a line from a node to the inverter in the middle,
/// with dashes running the way the power goes.
fn flow_line(x: f64, y: f64, watts_to_hub: f64, testid: &'static str) -> impl IntoView {
    let class = if watts_to_hub.abs() < FLOW_IDLE_W {
        "flow"
    } else if watts_to_hub > 0.0 {
        "flow active to-hub"
    } else {
        "flow active from-hub"
    };
    view! {
        <line class=class data-testid=testid x1=x y1=y x2=160 y2=70
            style:stroke-width=format!("{:.1}", 2.0 + (watts_to_hub.abs() / 1_000.0).min(6.0))/>
    }
}

/// In emulator mode: where power flows in the home — PV, grid, battery and house around the
/// inverter, drawn with moving dashes and said in words.
#[component]
fn PowerFlowCard(emulator: RwSignal<Option<EmulatorInfo>>) -> impl IntoView {
    move || {
        emulator.get().map(|info| {
            let f = info.flow;
            let battery = if f.battery_w > FLOW_IDLE_W {
                format!("charging {}", power_text(f.battery_w))
            } else if f.battery_w < -FLOW_IDLE_W {
                format!("discharging {}", power_text(f.battery_w))
            } else {
                "idle".to_owned()
            };
            let grid = if !f.grid_available {
                "down (outage)".to_owned()
            } else if f.grid_w > FLOW_IDLE_W {
                format!("importing {}", power_text(f.grid_w))
            } else if f.grid_w < -FLOW_IDLE_W {
                format!("exporting {}", power_text(f.grid_w))
            } else {
                "idle".to_owned()
            };
            // The battery's own heater draws from the cells, inside the battery.
            let heater = (f.heater_w > FLOW_IDLE_W).then(|| format!("heater {}", power_text(f.heater_w)));
            let pv = power_text(f.pv_w);
            let home = power_text(f.load_w);
            let battery_said = match &heater {
                Some(h) => format!("{battery}, its {h}"),
                None => battery.clone(),
            };
            let summary =
                format!("Solar {pv}; battery {battery_said}; home uses {home}; grid {grid}.");
            view! {
                <div class="card flow-card" data-testid="power-flow">
                    <span class="label">"Power flow (emulator)"</span>
                    <svg viewBox="-10 0 340 170" role="img" aria-label=summary.clone() class="flow-picture">
                        {flow_line(62.0, 28.0, f.pv_w, "flow-line-pv")}
                        {flow_line(62.0, 112.0, f.grid_w, "flow-line-grid")}
                        {flow_line(258.0, 28.0, -f.battery_w, "flow-line-battery")}
                        {flow_line(258.0, 112.0, -f.load_w, "flow-line-home")}
                        <rect class="hub" x=142 y=52 width=36 height=36 rx=6/>
                        <text class="hub-text" x=160 y=76>"⇄"</text>
                        <g class="node"><circle cx=62 cy=28 r=18/><text x=62 y=33>"☀"</text></g>
                        <g class="node"><circle cx=62 cy=112 r=18/><text x=62 y=117>"⚡"</text></g>
                        <g class="node"><circle cx=258 cy=28 r=18/><text x=258 y=33>"▮"</text></g>
                        <g class="node"><circle cx=258 cy=112 r=18/><text x=258 y=117>"⌂"</text></g>
                        <text class="flow-label" x=62 y=62>"Solar"</text>
                        <text class="flow-value" x=62 y=76 data-testid="flow-pv">{pv}</text>
                        <text class="flow-label" x=62 y=146>"Grid"</text>
                        <text class="flow-value" x=62 y=160 data-testid="flow-grid">{grid}</text>
                        <text class="flow-label" x=258 y=62>"Battery"</text>
                        <text class="flow-value" x=258 y=76 data-testid="flow-battery">{battery}</text>
                        {heater.map(|h| view! {
                            <text class="flow-label" x=266 y=91 data-testid="flow-heater">{h}</text>
                        })}
                        <text class="flow-label" x=258 y=146>"Home"</text>
                        <text class="flow-value" x=258 y=160 data-testid="flow-home">{home}</text>
                    </svg>
                    <p class="note">{summary}</p>
                </div>
            }
        })
    }
}

/// In emulator mode: what is truly happening in the pack beside what the BMS measures and
/// estimates, so a trainer can show sensor errors and estimation at work.
#[component]
fn TruthCard(
    reading: Memo<Option<Reading>>,
    emulator: RwSignal<Option<EmulatorInfo>>,
    /// The current sensor's offset as the session tells it (learnt once, told since).
    offset: Memo<Option<CurrentOffset>>,
) -> impl IntoView {
    let row = move || {
        let truth = emulator.get()?;
        reading.with(|r| {
            let r = r.as_ref()?;
            let sensors: Vec<f64> = r.temperatures_c.iter().flatten().copied().collect();
            let (s_lo, s_hi) = sensors
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &t| {
                    (lo.min(t), hi.max(t))
                });
            Some((
                truth,
                r.current_a,
                r.soc_pct,
                (s_lo, s_hi),
                !sensors.is_empty(),
                offset.get(),
            ))
        })
    };
    move || {
        row().map(|(truth, measured_a, estimate, (s_lo, s_hi), has_sensors, learnt)| {
            let (t_lo, t_hi) = truth.true_temperature_range_c;
            view! {
                <div class="card truth-card" data-testid="truth-panel">
                    <span class="label">"Truth (emulator)"</span>
                    <dl>
                        <dt>"Current"</dt>
                        <dd data-testid="true-current">{format!("{} A", signed(truth.true_current_a, 2))}</dd>
                        <dd class="note">{format!("measured {} A", signed(measured_a, 2))}</dd>
                        <dt>"SOC"</dt>
                        <dd>{format!("{:.1} %", truth.true_soc_pct)}</dd>
                        <dd class="note">{format!("estimate off by {} points", signed(estimate - truth.true_soc_pct, 1))}</dd>
                        <dt>"Sensor offset"</dt>
                        <dd data-testid="true-offset">{format!("{} A", signed(truth.true_current_offset_a, 2))}</dd>
                        <dd class="note" data-testid="learnt-offset">{match learnt {
                            Some(o) if o.learnt() => format!("BMS learnt {} A", signed(o.offset_a, 2)),
                            Some(_) => "BMS still learning".to_owned(),
                            None => "BMS learns none".to_owned(),
                        }}</dd>
                        <dt>"Cells"</dt>
                        <dd data-testid="true-temperatures">{format!("{t_lo:.1} … {t_hi:.1} °C")}</dd>
                        <dd class="note">{if has_sensors {
                            format!("sensors {s_lo:.1} … {s_hi:.1} °C")
                        } else {
                            "no sensor reading".to_owned()
                        }}</dd>
                    </dl>
                </div>
            }
        })
    }
}

#[component]
fn SwitchesCard(
    reading: Memo<Option<Reading>>,
    session: RwSignal<Session>,
    /// Sends host bytes to what is shown (none while a recording replays).
    to_device: DeviceLink,
) -> impl IntoView {
    let switch =
        move |get: fn(&Reading) -> Option<bool>| move || reading.with(|r| r.as_ref().and_then(get));
    let charge = switch(|r| r.charge_switch_on);
    let discharge = switch(|r| r.discharge_switch_on);
    let held = switch(|r| r.switches_held_open);
    let standby = switch(|r| r.charge_standby);
    let text = |on: Option<bool>| match on {
        Some(true) => "ON",
        Some(false) => "OFF",
        None => UNAVAILABLE,
    };
    let class = |on: Option<bool>| match on {
        Some(true) => "switch on",
        Some(false) => "switch off",
        None => "switch",
    };
    // A Cellsight device (or the emulated one) can be told to hold its switches open, and to
    // give them back; a vendor BMS cannot, and a replay is only a recording.
    let track = CommandTrack::new(session, SWITCH_REQUEST_IDS, to_device);
    let can_command = move || track.can_send() && held().is_some();
    let hold_open = move |_| {
        if !crate::js::confirm(
            "Open both switches and keep them open?\n\nThe battery stops charging and \
             discharging: the inverter runs the house from the grid, or without one the house \
             goes dark, until you give the switches back to protection.",
        ) {
            return;
        }
        track.send(
            DeviceCommand::ForceSwitchesOff,
            "Opening the switches…",
            "Held open: the BMS confirmed.",
        );
    };
    let release = move |_| {
        track.send(
            DeviceCommand::ReleaseSwitches,
            "Giving the switches back…",
            "Given back: the BMS confirmed. Protection decides again.",
        );
    };
    view! {
        <div class="card switches" data-testid="switches">
            <span class="label">"Switches"</span>
            <div class="switch-row">
                <span>"Charge"</span>
                <span
                    class=move || if standby() == Some(true) { "switch standby" } else { class(charge()) }
                    data-testid="charge-switch"
                >
                    {move || if standby() == Some(true) { "STANDBY" } else { text(charge()) }}
                </span>
            </div>
            <div class="switch-row">
                <span>"Discharge"</span>
                <span class=move || class(discharge()) data-testid="discharge-switch">{move || text(discharge())}</span>
            </div>
            {move || reading.with(|r| r.as_ref().and_then(|r| r.contactor)).map(|state| view! {
                <div class="switch-row">
                    <span>"Contactor"</span>
                    <span class="contactor" data-testid="contactor">{state}</span>
                </div>
            })}
            {move || (standby() == Some(true)).then(|| view! {
                <p class="note" data-testid="charge-standby">
                    "Charge switch open while this pack wants no charge, so that the other \
                     packs on the bus charge on without it. It still discharges, and closes \
                     again as soon as it discharges."
                </p>
            })}
            {move || (held() == Some(true)).then(|| view! {
                <p class="note held" data-testid="switches-held">
                    "Held open from a dashboard: protection cannot close them."
                </p>
            })}
            {move || can_command().then(|| if held() == Some(true) {
                view! {
                    <button class="command" data-testid="release-switches" on:click=release>
                        "Give back to protection"
                    </button>
                }.into_any()
            } else {
                view! {
                    <button class="command" data-testid="hold-open" on:click=hold_open>
                        "Open both switches…"
                    </button>
                }.into_any()
            })}
            {move || track.status().map(|t| view! {
                <span class="note" role="status" data-testid="switches-status">{t}</span>
            })}
        </div>
    }
}

#[component]
fn LimitsCard(reading: Memo<Option<Reading>>, session: RwSignal<Session>) -> impl IntoView {
    // In a bank the inverter hears the bank (see the bank panel); these are the shown pack's.
    let label = move || {
        session.with(|s| {
            if s.bank.is_bank() {
                format!("Pack {}'s own limits", s.bank.shown + 1)
            } else {
                "Told to the inverter".to_owned()
            }
        })
    };
    let limit = move |f: fn(&LimitsView) -> String| {
        move || {
            reading.with(|r| {
                r.as_ref()
                    .and_then(|r| r.limits.as_ref())
                    .map_or_else(|| UNAVAILABLE.to_owned(), f)
            })
        }
    };
    // A vendor BMS tells its charger nothing the dashboard can see.
    let untold = move || {
        reading.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.limits.is_none())
                .then_some("This BMS does not say what it tells a charger or inverter.")
        })
    };
    view! {
        <div class="card limits">
            <span class="label" data-testid="limits-label">{label}</span>
            <div class="limit-row">
                <span title="Charge voltage limit">"CVL"</span>
                <span><span data-testid="limits-cvl">{limit(|r| format!("{:.1}", r.charge_voltage_v))}</span>" V"</span>
            </div>
            <div class="limit-row">
                <span title="Charge current limit">"CCL"</span>
                <span><span data-testid="limits-ccl">{limit(|r| format!("{:.0}", r.charge_current_a))}</span>" A"</span>
            </div>
            <div class="limit-row">
                <span title="Discharge current limit">"DCL"</span>
                <span><span data-testid="limits-dcl">{limit(|r| format!("{:.0}", r.discharge_current_a))}</span>" A"</span>
            </div>
            {move || untold().is_none().then(|| view! {
                <span class="note" title="Absorption: a charger may take the pack up to full. Float: the pack has been full for a while and is held a little lower, so it does not sit at the top.">{limit(|l| format!("CVL at the {} voltage", l.phase))}</span>
            })}
            {move || untold().map(|t| view! { <span class="note" data-testid="limits-unavailable">{t}</span> })}
        </div>
    }
}

/// Request ids of the cards' commands: apart from the configuration panel's, which count up
/// from 1, and from each other's (each card cycles through 2048 of its own), so that none takes
/// another's acknowledgement for its own.
const RESET_REQUEST_IDS: u16 = 0xF000;
const SWITCH_REQUEST_IDS: u16 = 0xF800;
const REQUEST_IDS_PER_CARD: u16 = 0x0800;

/// A card's commands: where they go, the request id of the last one sent, and the BMS's
/// answer in words once seen (kept: later acknowledgements answer other requests), or that
/// none came within 5 s.
#[derive(Clone, Copy)]
struct CommandTrack {
    session: RwSignal<Session>,
    /// The bytes' way to the device, none while a recording replays (stored: the view's
    /// closures must be `Send`, an `Rc` is not).
    to_device: StoredValue<DeviceLink, LocalStorage>,
    sent: RwSignal<Option<u16>>,
    answer: RwSignal<Option<String>>,
    next_id: StoredValue<u16>,
    first_id: u16,
    /// What to say while waiting, and once the BMS has confirmed.
    words: StoredValue<(&'static str, &'static str)>,
}

impl CommandTrack {
    fn new(session: RwSignal<Session>, first_id: u16, to_device: DeviceLink) -> Self {
        let track = CommandTrack {
            session,
            to_device: StoredValue::new_local(to_device),
            sent: RwSignal::new(None),
            answer: RwSignal::new(None),
            next_id: StoredValue::new(first_id),
            first_id,
            words: StoredValue::new(("", "")),
        };
        Effect::new(move |_| {
            let ack = session.with(|s| s.config.ack);
            if let (Some(id), Some((acked, result))) = (track.sent.get(), ack)
                && acked == id
                && track.answer.with_untracked(Option::is_none)
            {
                track.answer.set(Some(match result {
                    AckResult::Ok => track.words.get_value().1.to_owned(),
                    other => format!("The BMS answered {other:?}; nothing changed."),
                }));
            }
        });
        track
    }

    /// Whether commands can go now: to a Cellsight device (or the emulated one); a vendor BMS
    /// has its own ways, and a replay is only a recording.
    fn can_send(self) -> bool {
        self.to_device.with_value(Option::is_some)
            && self
                .session
                .with(|s| s.protocol() == Some(Protocol::Cellsight))
    }

    /// Sends `command` to the device (if one is linked), saying `pending` until the BMS answers
    /// and `done` once it has confirmed.
    fn send(self, command: DeviceCommand, pending: &'static str, done: &'static str) {
        let Some(send) = self.to_device.with_value(Clone::clone) else {
            return;
        };
        let id = self.next_id.get_value();
        let next = id.wrapping_add(1);
        self.next_id.set_value(
            if next.wrapping_sub(self.first_id) >= REQUEST_IDS_PER_CARD {
                self.first_id
            } else {
                next
            },
        );
        self.words.set_value((pending, done));
        send(crate::config_edit::command_request(id, command));
        self.answer.set(None);
        self.sent.set(Some(id));
        gloo::timers::callback::Timeout::new(5_000, move || {
            if self.sent.get_untracked() == Some(id) && self.answer.with_untracked(Option::is_none)
            {
                self.answer.set(Some(
                    "No answer from the BMS within 5 s: is it connected?".to_owned(),
                ));
            }
        })
        .forget();
    }

    /// What to tell of the last command, once one was sent.
    fn status(self) -> Option<String> {
        self.sent.get()?;
        Some(
            self.answer
                .get()
                .unwrap_or_else(|| self.words.get_value().0.to_owned()),
        )
    }
}

#[component]
fn AlarmsCard(
    reading: Memo<Option<Reading>>,
    session: RwSignal<Session>,
    /// Sends host bytes to what is shown (none while a recording replays).
    to_device: DeviceLink,
) -> impl IntoView {
    // Latched faults wait for a person: a Cellsight device (or the emulated one) takes the
    // reset command; a vendor BMS has its own way, and a replay is only a recording.
    let track = CommandTrack::new(session, RESET_REQUEST_IDS, to_device);
    let can_reset = move || {
        track.can_send() && reading.with(|r| r.as_ref().is_some_and(|r| !r.latched.is_empty()))
    };
    let reset = move |_| {
        if !crate::js::confirm(
            "Reset the latched faults?\n\nOnly after you have found and dealt with the cause: \
             the BMS closes its switches again once nothing is wrong, and keeps them open while a fault is still there.",
        ) {
            return;
        }
        track.send(
            DeviceCommand::ResetLatched,
            "Reset sent…",
            "Reset: the BMS confirmed. A fault still there keeps the switches open until it clears.",
        );
    };
    let alarms = move || {
        reading.with(|r| {
            r.as_ref()
                .filter(|r| r.alarms_known)
                .map(|r| session.with(|s| s.place_alarms(r.alarm_lines())))
        })
    };
    let untold = move || reading.with(|r| r.as_ref().is_some_and(|r| !r.alarms_known));
    view! {
        <div class="card alarms" data-testid="alarms">
            <span class="label">"Active alarms"</span>
            {move || match alarms() {
                None if untold() => view! {
                    <p class="quiet" data-testid="alarms-unavailable">"Not reported by this BMS"</p>
                }.into_any(),
                None => view! { <p class="quiet">{UNAVAILABLE}</p> }.into_any(),
                Some(lines) if lines.is_empty() => {
                    view! { <p class="quiet">"None"</p> }.into_any()
                }
                Some(lines) => view! {
                    <ul data-testid="alarm-list">
                        {lines.into_iter().map(|line| {
                            let class = if line.trip { "alarm trip" } else { "alarm warning" };
                            let consequence = (!line.consequence.is_empty()).then(|| view! {
                                <span class="consequence">{line.consequence}</span>
                            });
                            // "over-voltage, cell 13": which cell, where the events say.
                            let place = line.place.map(|p| format!(", {p}"));
                            view! { <li class=class>{line.label}{place}{consequence}</li> }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {move || can_reset().then(|| view! {
                <button class="command" data-testid="reset-latched" on:click=reset>"Reset latched faults…"</button>
            })}
            {move || track.status().map(|t| view! {
                <span class="note" role="status" data-testid="reset-status">{t}</span>
            })}
        </div>
    }
}

#[component]
fn EventsPanel(
    session: RwSignal<Session>,
    emulator: RwSignal<Option<EmulatorInfo>>,
    /// A recording plays: its trips are history, never notified.
    replaying: bool,
) -> impl IntoView {
    // On the emulator, events are told on the clock the banner shows; a device's on its uptime.
    // A memo: the emulator's status changes with every report, the start of its run does not.
    let clock =
        Memo::new(move |_| emulator.with(|e| e.as_ref().map(EmulatorInfo::start_of_day_secs)));
    // The newest few unless asked for every event the dashboard keeps.
    let show_all = RwSignal::new(false);
    // The log changes only when an event comes (its length and newest sequence), not with
    // every report: the list is built again only then, not up to 200 sentences a report.
    let log_state =
        Memo::new(move |_| session.with(|s| (s.events.len(), s.events.back().map(|e| e.sequence))));
    let kept = move || log_state.get().0;
    let vendor = Memo::new(move |_| {
        session.with(|s| s.protocol().is_some_and(|p| p != Protocol::Cellsight))
    });
    let recent = Memo::new(move |_| {
        log_state.track();
        let shown = if show_all.get() {
            usize::MAX
        } else {
            EVENTS_SHOWN
        };
        session.with_untracked(|s| {
            s.events
                .iter()
                .rev()
                .take(shown)
                .map(|e| {
                    (
                        e.sequence,
                        e.event.time_ms,
                        explain(&e.event),
                        event_class(&e.event),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    // Trips told as browser notifications, once the owner has asked for them (remembered for
    // the next visit); the page must stay open, in the background is enough.
    let permission = RwSignal::new(notify::permission());
    let notify_on = RwSignal::new(
        permission.get_untracked() == Permission::Granted
            && crate::js::remembered(notify::REMEMBER_KEY).as_deref() == Some("on"),
    );
    let notify_status = RwSignal::new(None::<String>);
    // The first event not yet looked at for a notification.
    let looked_from = StoredValue::new(0_u64);
    Effect::new(move |_| {
        let on = notify_on.get() && !replaying;
        log_state.track();
        session.with_untracked(|s| {
            let next = s.next_event_sequence();
            // A restarted run numbers its events from 0 again.
            let from = looked_from.get_value();
            let from = if from > next { 0 } else { from };
            if on {
                let emulated = s.device.as_ref().is_some_and(|d| d.emulated);
                for notice in s.trip_notices(from, emulated) {
                    if let Err(e) = notify::show(&notice) {
                        notify_status.set(Some(format!("A notification could not be shown: {e}")));
                    }
                }
            }
            looked_from.set_value(next);
        });
    });
    let toggle_notify = move |_| {
        if notify_on.get_untracked() {
            notify_on.set(false);
            notify_status.set(None);
            crate::js::remember(notify::REMEMBER_KEY, "off");
            return;
        }
        leptos::task::spawn_local(async move {
            let answer = match notify::permission() {
                Permission::Ask => notify::ask().await,
                known => known,
            };
            permission.set(answer);
            notify_status.set(match answer {
                Permission::Granted => {
                    notify_on.set(true);
                    crate::js::remember(notify::REMEMBER_KEY, "on");
                    Some(
                        "Trips are told as notifications while this page is open, in the \
                         background too; so is a pack in parallel that seems cut off the bus."
                            .to_owned(),
                    )
                }
                Permission::Denied => Some(
                    "Notifications are blocked for this page: allow them in the browser's site \
                     settings, then press again."
                        .to_owned(),
                ),
                Permission::Ask => Some("The browser asked nothing: press again.".to_owned()),
                Permission::Unsupported => {
                    Some("This browser shows no notifications to this page.".to_owned())
                }
            });
        });
    };
    let export_message = RwSignal::new(None::<String>);
    let export = move |_| {
        let clock = clock.get_untracked();
        let csv = session.with_untracked(|s| s.events_csv(|ms| event_time(ms, clock)));
        let rows = csv.lines().count().saturating_sub(1);
        export_message.set(Some(
            match crate::store::download("cellsight-events.csv", "text/csv", csv.as_bytes()) {
                Ok(()) => format!("{rows} events exported as CSV."),
                Err(e) => format!("The events could not be exported: {e}"),
            },
        ));
    };
    view! {
        <section class="card events" aria-label="Events">
            <div class="cells-head">
                <h2>"Events"</h2>
                <div class="event-actions">
                // Trips are told from the event log, which a vendor BMS does not give; a
                // replay's are history.
                {move || (permission.get() != Permission::Unsupported && !vendor.get() && !replaying).then(|| view! {
                    <button class="command" data-testid="notify-trips"
                        aria-pressed=move || notify_on.get().to_string()
                        title="a notification for every trip, and for a pack in parallel that seems cut off the bus, while this page is open"
                        on:click=toggle_notify>"Notify me of trips"</button>
                })}
                {move || (kept() > 0).then(|| view! {
                        <span class="note" data-testid="events-shown">{move || {
                            let n = kept();
                            if show_all.get() || n <= EVENTS_SHOWN {
                                format!("{n} kept, newest first")
                            } else {
                                format!("newest {EVENTS_SHOWN} of {n} kept")
                            }
                        }}</span>
                        {move || (kept() > EVENTS_SHOWN).then(|| view! {
                            <button class="command" data-testid="events-show-all"
                                aria-pressed=move || show_all.get().to_string()
                                on:click=move |_| show_all.update(|all| *all = !*all)>
                                {move || if show_all.get() { "Show the newest only" } else { "Show all" }}
                            </button>
                        })}
                        <button class="command" data-testid="events-csv" on:click=export>
                            "Download as CSV"
                        </button>
                })}
                </div>
            </div>
            {move || notify_status.get().map(|m| view! {
                <p class="note" role="status" data-testid="notify-status">{m}</p>
            })}
            {move || export_message.get().map(|m| view! {
                <p class="note" role="status" data-testid="events-export-status">{m}</p>
            })}
            <ol class="event-list" data-testid="event-log">
                {move || {
                    let items = recent.get();
                    let vendor = vendor.get();
                    if items.is_empty() && vendor {
                        return view! {
                            <li class="quiet">"This BMS keeps no event log the dashboard can read; its active alarms show above."</li>
                        }.into_any();
                    }
                    if items.is_empty() {
                        return view! { <li class="quiet">"Nothing has happened yet."</li> }.into_any();
                    }
                    let clock = clock.get();
                    items.into_iter().map(|(seq, time_ms, text, class)| {
                        view! {
                            <li class=class data-sequence=seq>
                                <span class="event-time" title=format!("{} after the start", device_time(time_ms))>
                                    {event_time(time_ms, clock)}
                                </span>
                                <span>{text}</span>
                            </li>
                        }
                    }).collect_view().into_any()
                }}
            </ol>
        </section>
    }
}

/// How an event is coloured, as the alarms card colours what is active: a trip, a latch, the
/// switches held open or the contactor opening in red, a warning or derate becoming active in
/// amber, anything ending (and the contactor or the charge switch closing) in green, a charge
/// switch standing by for the other packs uncoloured.
fn event_class(event: &bms_engine::Event) -> &'static str {
    use bms_engine::{EventKind, Level};
    match (event.kind, event.level) {
        (EventKind::Tripped, Level::Warning | Level::Derate) => "event warn",
        (
            EventKind::Tripped
            | EventKind::Latched
            | EventKind::SwitchesHeldOpen
            | EventKind::ContactorOpened,
            _,
        ) => "event bad",
        (
            EventKind::Cleared
            | EventKind::Reset
            | EventKind::SwitchesGivenBack
            | EventKind::ContactorClosed
            | EventKind::ChargeResumed,
            _,
        ) => "event good",
        // Standing by is the system working as meant, not an alarm.
        (EventKind::ChargeStandby, _) => "event",
    }
}

/// Events the list shows until asked for all the session keeps ([`crate::session::EVENTS_KEPT`]).
const EVENTS_SHOWN: usize = 12;

/// Device time as "+0d 06:05:09" (days from 0 since the device started).
fn device_time(ms: u64) -> String {
    bms_engine::event_log::Elapsed(ms / 1000).to_string()
}

/// When an event `ms` after the start happened: on the emulated clock ("day 1, 21:49:33") when
/// `start_of_day` gives the time of day the emulated run started at (its engine starts with the
/// run), else as device time.
fn event_time(ms: u64, start_of_day: Option<u64>) -> String {
    match start_of_day {
        Some(start) => {
            let at = ms / 1000;
            emulated_clock(at, (start + at) % 86_400)
        }
        None => device_time(ms),
    }
}

#[component]
fn CellsPanel(
    reading: Memo<Option<Reading>>,
    /// The device's rated cell capacity, Ah, once it has said.
    rated_ah: Signal<Option<f64>>,
    /// What the BMS has learnt of its current sensor (told beside what it has learnt of the
    /// cells), from a device that learns it.
    offset: Memo<Option<CurrentOffset>>,
) -> impl IntoView {
    let cell_count =
        Memo::new(move |_| reading.with(|r| r.as_ref().map_or(0, |r| r.cell_voltages_v.len())));
    let chart_missing = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(cells) = reading.with(|r| r.as_ref().map(|r| r.cell_voltages_v.clone())) {
            chart_missing.set(!chart::draw(&cells));
        }
    });
    // plotly.js loads asynchronously: draw as soon as it is there, even if no report follows;
    // say it is unavailable only when it has not come after a few seconds.
    let chart_failed = RwSignal::new(false);
    let started_ms = js_sys::Date::now();
    every(CHART_REDRAW_MILLIS, move || {
        if !chart_missing.get_untracked() {
            return;
        }
        if let Some(cells) =
            reading.with_untracked(|r| r.as_ref().map(|r| r.cell_voltages_v.clone()))
            && chart::draw(&cells)
        {
            chart_missing.set(false);
            chart_failed.set(false);
        } else if js_sys::Date::now() - started_ms > 5_000.0 && !chart_failed.get_untracked() {
            chart_failed.set(true);
        }
    });
    let stats = move || {
        reading.with(|r| {
            let r = r.as_ref()?;
            let (lo_n, lo) = r.min_cell()?;
            let (hi_n, hi) = r.max_cell()?;
            Some(format!(
                "min {lo:.3} V (cell {lo_n}) · max {hi:.3} V (cell {hi_n}) · Δ {:.0} mV",
                (hi - lo) * 1000.0
            ))
        })
    };
    let receiving = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .and_then(|r| r.transfer)
                .is_some_and(|(_, to, _)| to == i)
        })
    };
    let balancing = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.balancing.as_ref().is_some_and(|b| b.contains(&i)))
        })
    };
    let temps = move || {
        reading.with(|r| {
            r.as_ref().map(|r| {
                r.temperatures_c
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        (
                            i,
                            t.map_or_else(|| "no reading".to_owned(), |t| format!("{t:.1} °C")),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    let thermal = move || {
        reading.with(|r| {
            r.as_ref().map(|r| {
                let mut parts: Vec<String> = vec![];
                if r.measurements_stale() {
                    parts.push(STALE_NOTE.to_owned());
                }
                if r.heater_on == Some(true) {
                    parts.push("heater on".to_owned());
                }
                if r.fan_on == Some(true) {
                    parts.push("fan on".to_owned());
                }
                if let Some((from, to, amps)) = r.transfer {
                    parts.push(format!(
                        "balancer moving {amps:.1} A from cell {} to cell {}",
                        from + 1,
                        to + 1
                    ));
                }
                if r.balancing.is_none() {
                    parts.push("balancing not reported by this BMS".to_owned());
                }
                parts.join(" · ")
            })
        })
    };
    let cell_v = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .and_then(|r| r.cell_voltages_v.get(i))
                .map_or_else(|| UNAVAILABLE.to_owned(), |v| format!("{v:.3}"))
        })
    };
    let cell_soc = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .and_then(|r| r.cell_soc_pct.get(i))
                .map_or_else(String::new, |s| format!("{s:.0} %"))
        })
    };
    let cell_r0 = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .and_then(|r| r.cell_r0_mohm.get(i).copied().flatten())
                .map_or_else(String::new, |r0| format!("{r0:.2} mΩ"))
        })
    };
    let resistances =
        Memo::new(move |_| reading.with(|r| r.as_ref().and_then(Reading::resistances)));
    let resistive =
        move |i: usize| resistances.with(|r| r.and_then(|r| r.stands_out) == Some(i + 1));
    // Only from a device that reports resistances at all.
    let resistance_note = move || {
        let reported = reading.with(|r| r.as_ref().is_some_and(|r| !r.cell_r0_mohm.is_empty()));
        reported.then(|| {
            resistances.get().map_or_else(
                || {
                    "Cell resistances: not learnt yet (the BMS learns them from the voltage \
                    steps that follow steps in the current, a charge starting or an appliance \
                    switching: in a solar home, usually by the second sunny day)."
                        .to_owned()
                },
                |r| r.summary(),
            )
        })
    };
    let cell_capacity = move |i: usize| {
        reading.with(|r| {
            r.as_ref()
                .and_then(|r| r.cell_capacity_ah.get(i).copied().flatten())
                .map_or_else(String::new, |q| format!("{q:.0} Ah"))
        })
    };
    let capacities = Memo::new(move |_| {
        let rated = rated_ah.get();
        reading.with(|r| r.as_ref().and_then(|r| r.capacities(rated)))
    });
    let weak = move |i: usize| capacities.with(|c| c.and_then(|c| c.weak) == Some(i + 1));
    // Only from a device that reports capacities at all.
    let capacity_note = move || {
        let reported = reading.with(|r| r.as_ref().is_some_and(|r| !r.cell_capacity_ah.is_empty()));
        reported.then(|| {
            capacities.get().map_or_else(
                || {
                    "Cell capacities: not learnt yet (the BMS learns a cell's capacity from the \
                    charge counted between a full charge and a rest far lower down: after the \
                    first deep cycle)."
                        .to_owned()
                },
                |c| c.summary(),
            )
        })
    };
    view! {
        <section class="cells card" aria-label="Cells">
            <div class="cells-head">
                <h2>"Cells"</h2>
                <span class="cell-stats" data-testid="cell-stats">{stats}</span>
            </div>
            <div class="temperatures">
                {move || temps().unwrap_or_default().into_iter().map(|(i, text)| view! {
                    <span class="temperature">
                        {format!("Sensor {} ", i + 1)}
                        <span data-testid=format!("temperature-{}", i + 1)>{text}</span>
                    </span>
                }).collect_view()}
                <span class="thermal">{thermal}</span>
            </div>
            <div id=CELL_CHART_ID class="chart"></div>
            {move || chart_failed.get().then(|| view! {
                <p class="quiet">"Chart unavailable: plotly.js did not load. The numbers below are live."</p>
            })}
            <ol class="cell-grid">
                <For each=move || 0..cell_count.get() key=|i| *i children=move |i| view! {
                    <li class="cell" class:balancing=move || balancing(i) class:receiving=move || receiving(i)
                        class:resistive=move || resistive(i) class:weak=move || weak(i)>
                        <span class="cell-no">{i + 1}</span>
                        <span class="cell-v" data-testid=format!("cell-voltage-{}", i + 1)>{move || cell_v(i)}</span>
                        <span class="unit">"V"</span>
                        <span class="cell-soc" title="state of charge of this cell"
                            data-testid=format!("cell-soc-{}", i + 1)>{move || cell_soc(i)}</span>
                        <span class="balance-mark" data-testid=format!("cell-balancing-{}", i + 1)
                            title=move || if receiving(i) { "receiving charge from the balancer" } else { "balancing: giving charge" }>
                            {move || if balancing(i) { "⇣" } else if receiving(i) { "⇡" } else { "" }}
                        </span>
                        <span class="cell-learnt">
                            <span class="cell-r0" title="this cell's resistance at 25 °C, as the BMS has learnt it"
                                data-testid=format!("cell-r0-{}", i + 1)>{move || cell_r0(i)}</span>
                            <span class="cell-capacity" title="this cell's capacity, as the BMS has learnt it"
                                data-testid=format!("cell-capacity-{}", i + 1)>{move || cell_capacity(i)}</span>
                        </span>
                    </li>
                }/>
            </ol>
            {move || resistance_note().map(|text| view! {
                <p class="resistance-note" class:resistive=move || resistances.with(|r| r.is_some_and(|r| r.stands_out.is_some()))
                    data-testid="resistance-note">{text}</p>
            })}
            {move || capacity_note().map(|text| view! {
                <p class="capacity-note" class:weak=move || capacities.with(|c| c.is_some_and(|c| c.weak.is_some()))
                    data-testid="capacity-note">{text}</p>
            })}
            {move || offset.get().map(|o| view! {
                <p class="offset-note" class:attention=o.needs_attention()
                    data-testid="offset-note">{o.summary()}</p>
            })}
        </section>
    }
}

#[component]
fn LinkCounters(session: RwSignal<Session>) -> impl IntoView {
    let counts = move || {
        session.with(|s| {
            let mut text = format!(
                "{} frames received · {} rejected",
                s.frames_ok, s.frames_rejected
            );
            if let Some(e) = s.last_rejection() {
                text.push_str(&format!(" (last: {e})"));
            }
            text
        })
    };
    view! { <span class="link-counters" data-testid="link-counters">{counts}</span> }
}

#[cfg(test)]
mod tests {
    use super::{emulated_clock, event_time, start_of_day};

    #[test]
    fn the_emulated_day_turns_at_midnight() {
        // A run from 06:00: the first evening, just before and after midnight, a day later.
        assert_eq!(emulated_clock(0, 21_600), "day 1, 06:00:00");
        assert_eq!(emulated_clock(64_799, 86_399), "day 1, 23:59:59");
        assert_eq!(emulated_clock(64_800, 0), "day 2, 00:00:00");
        assert_eq!(emulated_clock(72_030, 7_230), "day 2, 02:00:30");
        assert_eq!(emulated_clock(86_400, 21_600), "day 2, 06:00:00");
        // A run from midnight.
        assert_eq!(emulated_clock(3 * 86_400 + 5, 5), "day 4, 00:00:05");
    }

    #[test]
    fn emulator_events_are_told_on_the_banner_clock_device_events_on_uptime() {
        // A run from 06:00 (now at day 2, 06:00:30): an event 21 h 49 min 33 s in.
        let now = Some(start_of_day(86_430, 21_630));
        assert_eq!(now, Some(21_600));
        let at_ms = (21 * 3600 + 49 * 60 + 33) * 1000;
        assert_eq!(event_time(at_ms, now), "day 2, 03:49:33");
        assert_eq!(event_time(0, now), "day 1, 06:00:00");
        assert_eq!(event_time(at_ms, None), "+0d 21:49:33");
    }
}
