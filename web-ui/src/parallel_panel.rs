//! The panel of your own packs in parallel: while a device shows on the page (pack 1), the BMSs
//! of the other packs on its bus connect here too, each over its own serial port or Bluetooth
//! link, each read by a session of its own (polled when its protocol only answers). Their rows
//! and what they add up to are [`crate::parallel`]'s. Every pack's SOC and current are kept
//! each second while packs are added (a [`crate::bank::BankHistory`], charted and exported as
//! CSV); their full reports are not recorded, and the rest of the page stays pack 1's.

use crate::bluetooth::BluetoothLink;
use crate::device_panel::{
    Link, Listeners, RECONNECT_TRIES, poll_timer, reconnect_bluetooth, stored_protocol,
};
use crate::serial::{PortChoice, SerialLink};
use crate::session::{LinkState, Session};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::rc::Rc;

/// Where one added pack's link stands.
#[derive(Debug, Clone, PartialEq)]
enum AddedState {
    /// Waiting for the user to pick it, or for it to open.
    Connecting,
    /// Open: how it is connected, in words.
    Open(String),
    /// This Bluetooth device dropped out; trying again (this try).
    Reconnecting(String, u32),
    /// Ended or never opened, and why.
    Ended(String),
}

/// One added pack: its session, its link and what polls it.
#[derive(Clone, Copy)]
struct Added {
    id: u32,
    session: RwSignal<Session>,
    state: RwSignal<AddedState>,
    link: StoredValue<Option<Link>, LocalStorage>,
    timer: StoredValue<Option<gloo::timers::callback::Interval>, LocalStorage>,
    /// The user removed it: a drop-out is not reconnected.
    removed: StoredValue<bool>,
    /// Which of its Bluetooth notification listeners is the live one.
    listeners: Listeners,
}

impl Added {
    fn new(id: u32) -> Self {
        Added {
            id,
            session: RwSignal::new(Session::default()),
            state: RwSignal::new(AddedState::Connecting),
            link: StoredValue::new_local(None),
            timer: StoredValue::new_local(None),
            removed: StoredValue::new(false),
            listeners: Listeners::new(),
        }
    }

    /// Bytes from its link go to its own session.
    fn receive(self, bytes: &[u8]) {
        let now = js_sys::Date::now();
        self.session.update(|s| {
            s.ingest(bytes, now);
        });
    }

    /// What takes its Bluetooth notifications from now on (any earlier listener falls silent).
    fn notifications(self) -> impl Fn(Vec<u8>) + 'static {
        self.listeners.current(move |bytes| self.receive(&bytes))
    }

    /// Its link is open: requests go out whenever its session says one is due.
    fn adopt(self, link: Link) {
        let writer = link.clone();
        self.link.set_value(Some(link));
        self.timer
            .set_value(Some(poll_timer(self.session, move |request| {
                let writer = writer.clone();
                spawn_local(async move {
                    // A request that cannot be sent is asked again by the poller, and a pack
                    // that never answers shows as silent in its row.
                    let _ = writer.write(&request).await;
                });
            })));
    }

    /// Its link ended (or never opened), for the reason given: nothing is asked of it any
    /// more, and what was half received is dropped.
    fn end(self, why: String) {
        self.timer.set_value(None);
        self.link.set_value(None);
        self.session.update(Session::link_ended);
        self.state.set(AddedState::Ended(why));
    }

    /// The user removed it: its link closes, and a drop-out is not reconnected.
    fn close(self) {
        self.removed.set_value(true);
        match self.link.get_value() {
            Some(Link::Serial(port)) => spawn_local(async move { port.disconnect().await }),
            Some(Link::Radio(device)) => device.disconnect(),
            None => {}
        }
        self.timer.set_value(None);
    }

    /// Opens the port (one the user picks, or one allowed before) and reads it until it ends;
    /// an error if it did not open (the chooser cancelled, the port busy).
    async fn run_serial(self, choice: PortChoice, baud: u32) -> Result<(), String> {
        let before = matches!(choice, PortChoice::Granted(_));
        let port = SerialLink::open(choice, baud).await?;
        if self.removed.get_value() {
            // Removed (or the page went back to the emulator) while the port opened.
            port.disconnect().await;
            return Ok(());
        }
        self.session.set(Session::for_protocol(stored_protocol()));
        self.adopt(Link::Serial(port.clone()));
        self.state.set(AddedState::Open(format!(
            "USB serial at {baud} baud{}",
            if before { " (allowed before)" } else { "" }
        )));
        let why = port.read(|bytes| self.receive(&bytes)).await;
        // Removed: [`Added::close`] has closed the port already.
        if !self.removed.get_value() {
            port.disconnect().await;
        }
        self.end(match why {
            Some(why) => format!("Disconnected: {why}."),
            None => "Disconnected.".to_owned(),
        });
        Ok(())
    }

    /// Connects a Bluetooth device the user picks and listens to it (a drop-out is connected
    /// again a few times, as for pack 1); an error if it did not connect.
    async fn run_bluetooth(self) -> Result<(), String> {
        let chosen = stored_protocol();
        let device = BluetoothLink::connect(chosen).await?;
        if self.removed.get_value() {
            device.disconnect();
            return Ok(());
        }
        self.session
            .set(Session::for_protocol(chosen.or(device.profile.protocol)));
        let name = format!("{} over Bluetooth", device.name);
        let dropped = {
            let device = device.clone();
            let name = name.clone();
            move || {
                if self.removed.get_value() {
                    return;
                }
                self.session.update(Session::link_ended);
                let device = device.clone();
                let name = name.clone();
                spawn_local(async move { self.reconnect(device, name).await });
            }
        };
        let listening = match device.on_disconnect(dropped) {
            Ok(()) => device.listen(self.notifications()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = listening {
            self.removed.set_value(true);
            device.disconnect();
            return Err(e);
        }
        self.adopt(Link::Radio(device));
        self.state.set(AddedState::Open(name));
        Ok(())
    }

    /// Connects again to its device that dropped out, as for pack 1.
    async fn reconnect(self, device: BluetoothLink, name: String) {
        let trying = |attempt| {
            self.state
                .set(AddedState::Reconnecting(name.clone(), attempt));
        };
        let given_up = move || self.removed.get_value();
        let on_bytes: Rc<dyn Fn(Vec<u8>)> = Rc::new(move |bytes| self.receive(&bytes));
        match reconnect_bluetooth(&device, self.listeners, on_bytes, trying, given_up).await {
            Some(again) => {
                self.adopt(Link::Radio(again));
                self.state
                    .set(AddedState::Open(format!("{name} (reconnected)")));
            }
            // Removed: its row is gone and its link closed already.
            None if self.removed.get_value() => {}
            None => self.end(format!(
                "Disconnected: the device went away and did not come back after {RECONNECT_TRIES} tries."
            )),
        }
    }

    /// Its link in words, with how its reports are coming.
    fn link_text(self, now_ms: f64) -> String {
        match self.state.get() {
            AddedState::Connecting => "choose it in the browser's window…".to_owned(),
            AddedState::Open(how) => {
                format!("{how} · {}", self.session.with(|s| flow_text(s, now_ms)))
            }
            AddedState::Reconnecting(name, attempt) => format!(
                "{name} dropped out; connecting again (try {attempt} of {RECONNECT_TRIES})…"
            ),
            AddedState::Ended(why) => why,
        }
    }

    /// Whether its reports count towards what the packs add up to.
    fn counts(self, now_ms: f64) -> bool {
        matches!(self.state.get(), AddedState::Open(_))
            && self
                .session
                .with(|s| s.link_state(now_ms) == LinkState::Live)
    }
}

/// How a session's reports are coming, in words, with its protocol once known.
fn flow_text(s: &Session, now_ms: f64) -> String {
    let protocol = s
        .protocol()
        .map_or("finding out the protocol", |p| p.label());
    match s.link_state(now_ms) {
        LinkState::Waiting => format!("{protocol} · waiting for its first report"),
        LinkState::Live => format!("{protocol} · live"),
        LinkState::Silent { secs } => format!("{protocol} · no data for {secs:.0} s"),
    }
}

/// The panel: pack 1 (the device the page shows, `session`) and the packs added beside it.
/// Shown while a device is (`showing_device`); going back to the emulator ends the others.
#[component]
pub fn ParallelPacks(
    /// What the page shows: pack 1.
    session: RwSignal<Session>,
    /// Whether the page shows a device (the panel is for devices, not the emulator).
    showing_device: RwSignal<bool>,
    /// The serial baud rate chosen in the device panel: added ports open at it.
    baud: RwSignal<u32>,
) -> impl IntoView {
    let added = RwSignal::new(Vec::<Added>::new());
    let next_id = StoredValue::new(0_u32);
    // Rows tell how long a pack has been silent: look again every second.
    let now_ms = RwSignal::new(js_sys::Date::now());
    let clock = gloo::timers::callback::Interval::new(1_000, move || {
        if showing_device.get_untracked() {
            now_ms.set(js_sys::Date::now());
        }
    });
    let clock = StoredValue::new_local(Some(clock));
    on_cleanup(move || clock.set_value(None));
    Effect::new(move |_| {
        if !showing_device.get() {
            for pack in added.get_untracked() {
                pack.close();
            }
            added.set(Vec::new());
        }
    });
    let missing_serial = crate::serial::unavailable();
    let missing_ble = crate::bluetooth::unavailable();
    // Why the last pack could not be added (the chooser cancelled, a port busy).
    let message = RwSignal::new(None::<String>);
    // An added pack's signals belong to the panel, whatever asked for it: made inside an
    // effect they would be disposed when the effect next runs.
    let owner = StoredValue::new_local(Owner::current());
    // `None`: over Bluetooth; a port: over that serial port.
    let add = move |port: Option<PortChoice>| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        let pack = owner.with_value(|owner| match owner {
            Some(owner) => owner.with(|| Added::new(id)),
            None => Added::new(id),
        });
        added.update(|list| list.push(pack));
        message.set(None);
        spawn_local(async move {
            let ran = match port {
                Some(port) => pack.run_serial(port, baud.get_untracked()).await,
                None => pack.run_bluetooth().await,
            };
            if let Err(e) = ran {
                added.update(|list| list.retain(|p| p.id != id));
                message.set(Some(format!("No pack added: {e}.")));
            }
        });
    };
    // The ports allowed before, beyond the one pack 1 connects by itself, come back as the
    // packs beside it once pack 1 shows: a bank's every BMS, on the next visit.
    let allowed_before = RwSignal::new_local(Vec::<wasm_bindgen::JsValue>::new());
    if missing_serial.is_none() {
        spawn_local(async move {
            let others = crate::serial::granted_ports().await.into_iter().skip(1);
            allowed_before.set(others.collect());
        });
    }
    Effect::new(move |_| {
        if showing_device.get() && !allowed_before.with(Vec::is_empty) {
            for port in allowed_before
                .try_update(std::mem::take)
                .unwrap_or_default()
            {
                add(Some(PortChoice::Granted(port)));
            }
        }
    });
    let remove = move |id: u32| {
        added.update(|list| {
            list.retain(|p| {
                if p.id == id {
                    p.close();
                }
                p.id != id
            });
        });
    };
    let rows = move || {
        let now = now_ms.get();
        let list = added.get();
        let first = session.with(|s| {
            crate::parallel::row(
                1,
                format!("on this page · {}", flow_text(s, now)),
                s.latest.as_ref(),
            )
        });
        let others = list.iter().enumerate().map(|(k, p)| {
            let link = p.link_text(now);
            let ended = matches!(p.state.get(), AddedState::Ended(_));
            (
                Some((p.id, ended)),
                p.session
                    .with(|s| crate::parallel::row(k + 2, link, s.latest.as_ref())),
            )
        });
        std::iter::once((None, first))
            .chain(others)
            .collect::<Vec<_>>()
    };
    // The readings that count: pack 1's while live, and every added pack's while live, each
    // with the charge a Cellsight device's SOC says of its nominal capacity.
    let counted = |s: &Session| {
        let nominal = s.device.as_ref().map(|d| d.capacity_mah);
        s.latest
            .as_ref()
            .map(|r| crate::parallel::counted(r, nominal))
    };
    // Each pack's session while its reports are coming (`None` otherwise), pack 1 first.
    let live_sessions = move |now: f64| {
        let first = session.with(|s| s.link_state(now) == LinkState::Live);
        std::iter::once(first.then_some(session))
            .chain(
                added
                    .get()
                    .into_iter()
                    .map(|pack| pack.counts(now).then_some(pack.session)),
            )
            .collect::<Vec<_>>()
    };
    let live_at = move |now: f64| {
        live_sessions(now)
            .into_iter()
            .map(|s| s.and_then(|s| s.with(counted)))
            .collect::<Vec<_>>()
    };
    let live = move || live_at(now_ms.get());
    let together = move || {
        let readings = live();
        let reported: Vec<_> = readings.iter().flatten().collect();
        (!added.with(Vec::is_empty))
            .then(|| crate::parallel::together(&reported))
            .flatten()
    };
    // Where each pack's limits come from, of those whose reports are coming (pack 1 first).
    let own_reports = move || {
        let of = |s: &Session| {
            let protocol = s.latest.as_ref()?.protocol;
            Some(match (&s.telemetry, &s.device) {
                (Some(t), Some(info)) => {
                    crate::parallel::OwnReport::Cellsight(Box::new(t.clone()), info.capacity_mah)
                }
                _ => crate::parallel::OwnReport::Silent(protocol),
            })
        };
        live_sessions(now_ms.get())
            .into_iter()
            .map(|s| s.and_then(|s| s.with(of)))
            .collect::<Vec<_>>()
    };
    // A memo: the lines are drawn anew only when they change, not at every report.
    let watch = StoredValue::new(crate::parallel::CutOffWatch::default());
    let warnings = Memo::new(move |_| {
        let readings = live();
        let refs: Vec<_> = readings.iter().map(Option::as_ref).collect();
        watch.update_value(|w| w.update(&refs));
        crate::notify::show_if_wanted(&watch.with_value(|w| w.fresh_notices(false)));
        watch.with_value(|w| w.lines().to_vec())
    });
    // Whether pack `number` (from 1) is named as cut off the bus.
    let left_out = move |number: usize| {
        warnings.track();
        watch.with_value(|w| w.is_cut_off(number.saturating_sub(1)))
    };
    // What they would tell an inverter together, once the watch has looked at this moment.
    let told = move || {
        warnings.track();
        if added.with(Vec::is_empty) {
            return None;
        }
        let reports = own_reports();
        watch.with_value(|w| crate::parallel::told_together(&reports, w))
    };
    // Every pack's SOC and current, a point a second while packs are added (thinned evenly
    // past the history's bound). A pack removed renumbers the others, so the history begins
    // afresh then; one added is a new line beside the others.
    let history = RwSignal::new(crate::bank::BankHistory::default());
    let history_began_ms = StoredValue::new(None::<f64>);
    let history_ids = StoredValue::new(Vec::<u32>::new());
    Effect::new(move |_| {
        let now = now_ms.get();
        let ids: Vec<u32> = added.with(|list| list.iter().map(|p| p.id).collect());
        let kept = history_ids.with_value(|before| ids.starts_with(before));
        history_ids.set_value(ids.clone());
        if ids.is_empty() || !kept {
            history_began_ms.set_value(None);
            if !history.with_untracked(|h| h.points().is_empty()) {
                history.update(crate::bank::BankHistory::clear);
            }
        }
        if ids.is_empty() {
            return;
        }
        let began = *history_began_ms
            .try_update_value(|b| *b.get_or_insert(now))
            .as_ref()
            .unwrap_or(&now);
        let point = untrack(|| {
            let readings = live_at(now);
            let refs: Vec<_> = readings.iter().map(Option::as_ref).collect();
            crate::parallel::history_point((now - began) / 1000.0, &refs)
        });
        history.update(|h| h.extend(&[point]));
    });
    let charts = crate::app::StaleCharts::<2>::new();
    Effect::new(move |_| {
        history.track();
        charts.mark_all();
    });
    crate::app::every(crate::app::CHART_REDRAW_MILLIS, move || {
        if history.with_untracked(|h| h.points().len() < 2) {
            return;
        }
        let Some(index) = charts.due() else {
            return;
        };
        let drew = history.with_untracked(|h| {
            crate::chart::draw_bank_chart(
                &crate::chart::PARALLEL_CHART_IDS,
                index,
                h.points(),
                // On the local clock, from the time of day the history began.
                crate::chart::TimeAxis::Local {
                    start_of_day_s: seconds_into_day(history_began_ms.get_value().unwrap_or(0.0)),
                },
            )
        });
        if drew {
            charts.drawn(index);
        }
    });
    let export_message = RwSignal::new(None::<String>);
    let export = move |_| {
        let began = history_began_ms.get_value().unwrap_or(0.0);
        let csv = history.with_untracked(|h| h.csv(|t| local_time(began + t * 1000.0)));
        let rows = csv.lines().count().saturating_sub(1);
        export_message.set(Some(
            match crate::store::download("cellsight-parallel.csv", "text/csv", csv.as_bytes()) {
                Ok(()) => format!("{rows} points of every pack exported as CSV."),
                Err(e) => format!("The packs' history could not be exported: {e}"),
            },
        ));
    };
    let span = move || {
        history.with(|h| match (h.points().first(), h.points().last()) {
            (Some(a), Some(b)) if b.time_s > a.time_s => format!(
                "Each pack's current and SOC as its BMS tells them, over {} (a gap where a pack was silent).",
                crate::session::span_text(b.time_s - a.time_s)
            ),
            _ => "Each pack's current and SOC as its BMS tells them, from now on.".to_owned(),
        })
    };
    view! {
        <section class="card bank parallel" aria-label="Your packs in parallel" data-testid="parallel"
            style:display=move || if showing_device.get() { "" } else { "none" }>
            <h2>"Your packs in parallel"</h2>
            <p class="note">{move || if added.with(Vec::is_empty) {
                "More packs on the same bus, each with its own BMS? Connect each of the others too: they are shown side by side and added up here, while the rest of the page stays this one's."
            } else {
                "Each pack's BMS over its own link, side by side and added up, with every pack's current and SOC kept over time below. The rest of the page is pack 1's; the others' full reports are not recorded."
            }}</p>
            {move || together().map(|t| view! {
                <p data-testid="parallel-together"><strong>"Together: "</strong>{t.text()}</p>
            })}
            {move || told().map(|told| match told {
                Ok(words) => view! {
                    <p data-testid="parallel-told"><strong>"What they allow together: "</strong>{words}</p>
                }.into_any(),
                Err(why) => view! {
                    <p class="note" data-testid="parallel-told">{format!("What they allow together: {why}")}</p>
                }.into_any(),
            })}
            {move || warnings.get().into_iter().map(|line| view! {
                <p class="note attention" data-testid="parallel-cut-off">{line}</p>
            }).collect_view()}
            {move || (!added.with(Vec::is_empty)).then(|| view! {
                <table class="bank-packs" data-testid="parallel-packs">
                    <thead><tr>
                        <th scope="col">"Pack"</th><th scope="col">"SOC"</th><th scope="col">"SOH"</th>
                        <th scope="col">"Current"</th><th scope="col">"Voltage"</th><th scope="col">"Cells"</th>
                        <th scope="col">"Switches"</th><th scope="col">"Trips and alarms"</th>
                        <th scope="col"><span class="visually-hidden">"Link"</span></th>
                    </tr></thead>
                    <tbody>
                        {move || rows().into_iter().map(|(id, r)| view! {
                            <tr data-testid=format!("parallel-pack-{}", r.number) class:tripped=r.tripped>
                                <th scope="row">{format!("Pack {}", r.number)}
                                    <span class="quiet link-text" data-testid=format!("parallel-link-{}", r.number)>{r.link.clone()}</span>
                                    {left_out(r.number).then(|| view! {
                                        <span class="attention left-out" data-testid=format!("parallel-left-out-{}", r.number)>"may be cut off the bus"</span>
                                    })}</th>
                                <td>{r.soc}</td><td class="soh">{r.soh}</td><td>{r.current}</td>
                                <td>{r.voltage}</td><td>{r.cells}<span class="quiet link-text">{r.cells_apart}</span></td><td>{r.switches}</td><td class="faults">{r.faults}</td>
                                <td>{id.map(|(id, ended)| view! {
                                    <button class="command" data-testid=format!("parallel-remove-{}", r.number)
                                        aria-label=format!("{} pack {}", if ended { "Remove" } else { "Disconnect" }, r.number)
                                        on:click=move |_| remove(id)>{if ended { "Remove" } else { "Disconnect" }}</button>
                                })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <div style:display=move || if added.with(Vec::is_empty) { "none" } else { "" }>
                <div class="cells-head">
                    <h3>"Over time"</h3>
                    {move || (history.with(|h| h.points().len()) > 1).then(|| view! {
                        <button class="command" data-testid="parallel-csv" on:click=export>"Download CSV"</button>
                    })}
                </div>
                {move || export_message.get().map(|m| view! { <p class="note" role="status" data-testid="parallel-csv-status">{m}</p> })}
                <p class="note" data-testid="parallel-history-span">{span}</p>
                {crate::chart::PARALLEL_CHART_IDS.iter().map(|id| view! {
                    <div id=*id class="history-chart"
                        style:display=move || if history.with(|h| h.points().len() > 1) { "" } else { "none" }></div>
                }).collect_view()}
            </div>
            <div class="console-row">
                <button class="command" data-testid="parallel-add-serial" disabled=missing_serial.is_some()
                    on:click=move |_| add(Some(PortChoice::Ask { adapters_only: true }))>"Add a pack over USB serial"</button>
                <button class="command" data-testid="parallel-add-bluetooth" disabled=missing_ble.is_some()
                    on:click=move |_| add(None)>"Add a pack over Bluetooth"</button>
            </div>
            {move || message.get().map(|m| view! { <p class="console-message" role="status" data-testid="parallel-message">{m}</p> })}
        </section>
    }
}

/// Seconds since local midnight at `ms` since the epoch.
fn seconds_into_day(ms: f64) -> u64 {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from(ms));
    u64::from(d.get_hours()) * 3_600 + u64::from(d.get_minutes()) * 60 + u64::from(d.get_seconds())
}

/// A local date and time from ms since the epoch, for a CSV row: "2026-12-07 16:50:03".
fn local_time(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from(ms));
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}
