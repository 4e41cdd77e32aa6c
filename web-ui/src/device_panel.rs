//! Device mode: connect a battery over Web Serial or Web Bluetooth — a Cellsight device, or a
//! JBD, JK or Daly BMS. While a device is connected the emulator is paused and its reports are
//! not shown; the device's bytes take the same path (session, history, recording) the
//! emulator's took. BMSs that only answer are polled from here: the session says what to send
//! and when, this panel writes it to the link.

use crate::bluetooth::BluetoothLink;
use crate::serial::SerialLink;
use crate::session::Session;
use crate::vendor::{Protocol, daly, jbd, jk};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::rc::Rc;

/// Where the device link stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceState {
    /// Nothing connected.
    Idle,
    /// Waiting for the user to pick a port, or for it to open.
    Connecting,
    /// Reading from a port at this baud rate.
    Connected(u32),
    /// Receiving notifications from this Bluetooth device.
    ConnectedBluetooth(String),
    /// This Bluetooth device dropped out; trying to connect again (this try).
    Reconnecting(String, u32),
    /// The last connection ended or failed, and why.
    Ended(String),
}

/// The open link, whichever kind.
#[derive(Debug, Clone)]
pub(crate) enum Link {
    Serial(SerialLink),
    Radio(BluetoothLink),
}

impl Link {
    pub(crate) async fn write(&self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Link::Serial(port) => port.write(bytes).await,
            Link::Radio(device) => device.write(bytes).await,
        }
    }
}

/// Writes bytes to whatever link is open.
pub type Writer = Rc<dyn Fn(Vec<u8>)>;

/// Tries to connect again to a Bluetooth device that dropped out.
pub(crate) const RECONNECT_TRIES: u32 = 3;
/// Wait before the first try, ms (twice that before the second…).
pub(crate) const RECONNECT_WAIT_MILLIS: u32 = 1_000;

/// Which of a Bluetooth device's notification listeners is the live one: a browser may hand
/// back the same characteristic after a reconnection, whose earlier listener must then fall
/// silent.
#[derive(Clone, Copy)]
pub(crate) struct Listeners(StoredValue<u32>);

impl Listeners {
    pub(crate) fn new() -> Self {
        Listeners(StoredValue::new(0))
    }

    /// What takes the notifications from now on: `on_bytes`, while no later listener is made.
    pub(crate) fn current(
        self,
        on_bytes: impl Fn(Vec<u8>) + 'static,
    ) -> impl Fn(Vec<u8>) + 'static {
        let mine = self.0.get_value().wrapping_add(1);
        self.0.set_value(mine);
        move |bytes: Vec<u8>| {
            if self.0.get_value() == mine {
                on_bytes(bytes);
            }
        }
    }
}

/// Connects again to a Bluetooth device that dropped out: up to [`RECONNECT_TRIES`] tries,
/// waiting longer before each, telling `trying` each try's number. Gives up early once
/// `given_up` says so. The device listening again (its notifications to `on_bytes`), or `None`.
pub(crate) async fn reconnect_bluetooth(
    device: &BluetoothLink,
    listeners: Listeners,
    on_bytes: Rc<dyn Fn(Vec<u8>)>,
    trying: impl Fn(u32),
    given_up: impl Fn() -> bool,
) -> Option<BluetoothLink> {
    for attempt in 1..=RECONNECT_TRIES {
        trying(attempt);
        sleep_ms(RECONNECT_WAIT_MILLIS * attempt).await;
        if given_up() {
            return None;
        }
        let Ok(again) = device.reopen().await else {
            continue;
        };
        let on_bytes = on_bytes.clone();
        if again
            .listen(listeners.current(move |bytes| on_bytes(bytes)))
            .await
            .is_ok()
        {
            return Some(again);
        }
    }
    None
}

/// Waits `ms` milliseconds.
pub(crate) async fn sleep_ms(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(ms).unwrap_or(i32::MAX),
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Milliseconds between looks at whether a request is due.
const POLL_TICK_MILLIS: u32 = 50;

/// Sends `session`'s requests through `send` whenever one is due, until dropped.
pub(crate) fn poll_timer(
    session: RwSignal<Session>,
    send: impl Fn(Vec<u8>) + 'static,
) -> gloo::timers::callback::Interval {
    gloo::timers::callback::Interval::new(POLL_TICK_MILLIS, move || {
        let now = js_sys::Date::now();
        if let Some(Some(request)) = session.try_update(|s| s.due_request(now)) {
            send(request);
        }
    })
}

/// Where the last baud rate that worked is kept.
const BAUD_KEY: &str = "cellsight-baud";
/// Where the protocol last chosen is kept.
const PROTOCOL_KEY: &str = "cellsight-protocol";

/// The baud rate that worked last time on this browser, or the default.
pub(crate) fn stored_baud() -> u32 {
    crate::js::remembered(BAUD_KEY)
        .and_then(|b| b.parse().ok())
        .filter(|b| crate::serial::BAUD_RATES.contains(b))
        .unwrap_or(crate::serial::DEFAULT_BAUD)
}

/// The protocol chosen last time (`None`: find out from the bytes).
pub(crate) fn stored_protocol() -> Option<Protocol> {
    crate::js::remembered(PROTOCOL_KEY).and_then(|key| Protocol::from_key(&key))
}

/// Whether the dashboard can set this protocol's switches.
fn has_switch_control(protocol: Protocol) -> bool {
    matches!(protocol, Protocol::Jbd | Protocol::Jk | Protocol::Daly)
}

/// The writes that set one switch (`charge`: the charge switch, else the discharge switch) of
/// a vendor BMS that has switch control, leaving the other as it is; JBD sets both in one
/// register, so it is told both.
fn switch_requests(
    protocol: Protocol,
    charge: bool,
    charge_on: bool,
    discharge_on: bool,
) -> Vec<Vec<u8>> {
    let one = |both: Vec<Vec<u8>>| {
        both.into_iter()
            .nth(usize::from(!charge))
            .into_iter()
            .collect()
    };
    match protocol {
        Protocol::Jbd => vec![jbd::switch_request(charge_on, discharge_on)],
        Protocol::Jk => one(jk::switch_requests(charge_on, discharge_on)),
        Protocol::Daly => one(daly::switch_requests(charge_on, discharge_on)),
        Protocol::Cellsight | Protocol::DalyModbus => Vec::new(),
    }
}

/// The device panel.
#[component]
pub fn DevicePanel(
    /// What the dashboard shows (reset when the source changes).
    session: RwSignal<Session>,
    /// Whether the session shows the device, not the emulator.
    showing_device: RwSignal<bool>,
    /// Takes the device's bytes, with the name of the recording they belong to.
    deliver: Rc<dyn Fn(Vec<u8>, String)>,
    /// Pauses (true) or resumes the emulator.
    emulator_paused: Rc<dyn Fn(bool)>,
    /// Set to a writer to the open link (for the configuration panel), cleared when it ends.
    writer: StoredValue<Option<Writer>, LocalStorage>,
    /// The serial baud rate chosen (the packs added beside this one open at it too).
    baud: RwSignal<u32>,
) -> impl IntoView {
    let state = RwSignal::new(DeviceState::Idle);
    let choice = RwSignal::new(stored_protocol());
    // Whether the port chooser offers only USB-serial adapters, and which those are.
    let adapters_only = RwSignal::new(true);
    let adapter_vendors = crate::serial::USB_SERIAL_VENDORS
        .iter()
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    // How the present serial connection came about, for the status line.
    let reconnected = RwSignal::new(None::<&'static str>);
    // A request the device could not be sent, in words.
    let write_error = RwSignal::new(None::<String>);
    let link = StoredValue::new_local(None::<Link>);
    let poll_timer = StoredValue::new_local(None::<gloo::timers::callback::Interval>);
    // The user ended the link (so a drop-out is not reconnected).
    let user_closed = StoredValue::new(false);
    let listeners = Listeners::new();
    let missing = crate::serial::unavailable();
    let missing_ble = crate::bluetooth::unavailable();
    let busy = move || {
        matches!(
            state.get_untracked(),
            DeviceState::Connecting
                | DeviceState::Connected(_)
                | DeviceState::ConnectedBluetooth(_)
                | DeviceState::Reconnecting(..)
        )
    };
    // Writes `bytes` to the open link; a failure is shown once a protocol that needs requests
    // is known (a streaming Cellsight device needs none, and its port may not be writable).
    // Configuration writes (`always_report`) fail visibly on any device.
    let write = move |bytes: Vec<u8>, always_report: bool| {
        let Some(open) = link.get_value() else { return };
        spawn_local(async move {
            match open.write(&bytes).await {
                Ok(()) => write_error.set(None),
                Err(e) => {
                    let needs_requests =
                        session.with_untracked(|s| s.protocol() != Some(Protocol::Cellsight));
                    if needs_requests || always_report {
                        write_error.set(Some(format!("A request could not be sent: {e}.")));
                    }
                }
            }
        });
    };
    let send = move |bytes: Vec<u8>| write(bytes, false);
    // The link requests and configuration writes go to from now on.
    let adopt = move |opened: Link| {
        link.set_value(Some(opened));
        writer.set_value(Some(Rc::new(move |bytes| write(bytes, true))));
    };
    // A device is connected: the emulator steps aside, the session starts afresh for the
    // protocol, and requests go out whenever the session says one is due.
    let take_over: Rc<dyn Fn(Link, Option<Protocol>)> = {
        let emulator_paused = emulator_paused.clone();
        Rc::new(move |opened: Link, protocol: Option<Protocol>| {
            emulator_paused(true);
            showing_device.set(true);
            session.set(Session::for_protocol(protocol));
            write_error.set(None);
            adopt(opened);
            poll_timer.set_value(Some(self::poll_timer(session, send)));
        })
    };
    // The link is gone: stop asking, drop any half-received frame.
    let ended = move |why: String| {
        poll_timer.set_value(None);
        link.set_value(None);
        writer.set_value(None);
        session.update(Session::link_ended);
        state.set(DeviceState::Ended(why));
    };
    // Connects again to a device that dropped out, a few times, waiting longer each time.
    let reconnect = move |device: BluetoothLink, on_bytes: Rc<dyn Fn(Vec<u8>)>| async move {
        let trying = |attempt| state.set(DeviceState::Reconnecting(device.name.clone(), attempt));
        let given_up = move || user_closed.get_value();
        match reconnect_bluetooth(&device, listeners, on_bytes, trying, given_up).await {
            Some(again) => {
                adopt(Link::Radio(again.clone()));
                state.set(DeviceState::ConnectedBluetooth(format!(
                    "{} (reconnected)",
                    again.name
                )));
            }
            None if user_closed.get_value() => ended("Disconnected.".to_owned()),
            None => ended(format!(
                "Disconnected: the device went away and did not come back after {RECONNECT_TRIES} tries."
            )),
        }
    };
    // Connects a Bluetooth device: the one the user picks in the browser's chooser, or one
    // allowed before (`granted`), and reads it until it ends.
    let run_bluetooth: Rc<dyn Fn(Option<wasm_bindgen::JsValue>)> = {
        let take_over = take_over.clone();
        let deliver = deliver.clone();
        Rc::new(move |granted| {
            if busy() {
                return;
            }
            let deliver = deliver.clone();
            let take_over = take_over.clone();
            let chosen = choice.get_untracked();
            user_closed.set_value(false);
            state.set(DeviceState::Connecting);
            spawn_local(async move {
                let was_granted = granted.is_some();
                let opening = match granted {
                    Some(device) => BluetoothLink::reconnect_granted(device).await,
                    None => BluetoothLink::connect(chosen).await,
                };
                let opened = match opening {
                    Ok(opened) => opened,
                    Err(e) if was_granted => {
                        // Out of range or switched off: the user can still connect by hand.
                        state.set(DeviceState::Ended(format!(
                            "The Bluetooth device allowed before did not connect ({e}); connect it by hand."
                        )));
                        return;
                    }
                    Err(e) => {
                        state.set(DeviceState::Ended(format!("Not connected: {e}.")));
                        return;
                    }
                };
                // The service tells the protocol, except Daly's two dialects.
                let protocol = if was_granted {
                    opened.profile.protocol
                } else {
                    chosen.or(opened.profile.protocol)
                };
                take_over(Link::Radio(opened.clone()), protocol);
                let name = format!("device {} over Web Bluetooth", opened.name);
                let on_bytes: Rc<dyn Fn(Vec<u8>)> =
                    Rc::new(move |bytes| deliver(bytes, name.clone()));
                // A drop-out the user did not ask for: connect again to the same device.
                let dropped = {
                    let on_bytes = on_bytes.clone();
                    let device = opened.clone();
                    move || {
                        if user_closed.get_value() || !showing_device.get_untracked() {
                            ended("Disconnected.".to_owned());
                            return;
                        }
                        // What was half received is dropped, never shown.
                        session.update(Session::link_ended);
                        let on_bytes = on_bytes.clone();
                        let device = device.clone();
                        spawn_local(async move {
                            reconnect(device, on_bytes).await;
                        });
                    }
                };
                let listening = match opened.on_disconnect(dropped) {
                    Ok(()) => {
                        let on_bytes = on_bytes.clone();
                        opened
                            .listen(listeners.current(move |bytes| on_bytes(bytes)))
                            .await
                    }
                    Err(e) => Err(e),
                };
                match listening {
                    Ok(()) => state.set(DeviceState::ConnectedBluetooth(if was_granted {
                        format!("{} (allowed before)", opened.name)
                    } else {
                        opened.name.clone()
                    })),
                    Err(e) => {
                        user_closed.set_value(true);
                        opened.disconnect();
                        ended(format!("Not connected: {e}."));
                    }
                }
            });
        })
    };
    let connect_bluetooth = {
        let run_bluetooth = run_bluetooth.clone();
        move |_| run_bluetooth(None)
    };
    // A Bluetooth device allowed before connects by itself (where the browser offers
    // `getDevices`; Chromium still keeps it behind a flag).
    if missing_ble.is_none() {
        let at_start = run_bluetooth.clone();
        spawn_local(async move {
            if let Some(device) = BluetoothLink::granted().await {
                at_start(Some(device));
            }
        });
    }
    // Opens a serial port and reads it until it ends; `how` says in words how it came.
    let run_serial: Rc<dyn Fn(crate::serial::PortChoice, &'static str)> =
        Rc::new(move |port, how| {
            if busy() {
                return;
            }
            let deliver = deliver.clone();
            let take_over = take_over.clone();
            let rate = baud.get_untracked();
            let chosen = choice.get_untracked();
            state.set(DeviceState::Connecting);
            spawn_local(async move {
                match SerialLink::open(port, rate).await {
                    Ok(opened) => {
                        take_over(Link::Serial(opened.clone()), chosen);
                        crate::js::remember(BAUD_KEY, &rate.to_string());
                        state.set(DeviceState::Connected(rate));
                        reconnected.set(Some(how));
                        let name = format!("device over Web Serial at {rate} baud");
                        let why = opened.read(|bytes| deliver(bytes, name.clone())).await;
                        opened.disconnect().await;
                        ended(match why {
                            Some(why) => format!("Disconnected: {why}."),
                            None => "Disconnected.".to_owned(),
                        });
                    }
                    Err(e) => state.set(DeviceState::Ended(format!("Not connected: {e}."))),
                }
            });
        });
    // The port the user allowed last time connects by itself, at startup and when plugged in.
    if missing.is_none() {
        let at_start = run_serial.clone();
        spawn_local(async move {
            if let Some(port) = crate::serial::granted_port().await {
                at_start(
                    crate::serial::PortChoice::Granted(port),
                    "the port you allowed before",
                );
            }
        });
        let plugged = run_serial.clone();
        crate::serial::on_port_plugged(move |port| {
            plugged(
                crate::serial::PortChoice::Granted(port),
                "the port, plugged in again",
            );
        });
    }
    let connect = move |_| {
        run_serial(
            crate::serial::PortChoice::Ask {
                adapters_only: adapters_only.get_untracked(),
            },
            "the port you chose",
        );
    };
    let close_link = move || match link.get_value() {
        Some(Link::Serial(open)) => spawn_local(async move { open.disconnect().await }),
        Some(Link::Radio(open)) => open.disconnect(),
        None => {}
    };
    let disconnect = move |_| {
        user_closed.set_value(true);
        if matches!(state.get_untracked(), DeviceState::Reconnecting(..)) {
            ended("Disconnected.".to_owned());
        }
        close_link();
    };
    let back_to_emulator = move |_| {
        user_closed.set_value(true);
        close_link();
        poll_timer.set_value(None);
        showing_device.set(false);
        session.set(Session::default());
        emulator_paused(false);
        state.set(DeviceState::Idle);
    };
    let status = move || match state.get() {
        DeviceState::Idle => "No device connected.".to_owned(),
        DeviceState::Connecting => "Choose the device in the browser's window…".to_owned(),
        DeviceState::Connected(rate) => format!(
            "Connected over Web Serial at {rate} baud ({}).",
            reconnected.get().unwrap_or("the port you chose")
        ),
        DeviceState::ConnectedBluetooth(name) => format!("Connected to {name} over Web Bluetooth."),
        DeviceState::Reconnecting(name, attempt) => {
            format!("{name} dropped out; connecting again (try {attempt} of {RECONNECT_TRIES})…")
        }
        DeviceState::Ended(why) => why,
    };
    let connected = move || {
        matches!(
            state.get(),
            DeviceState::Connected(_)
                | DeviceState::ConnectedBluetooth(_)
                | DeviceState::Reconnecting(..)
        )
    };
    // Which protocol the device speaks, and how polling goes.
    let protocol_status = move || {
        if !showing_device.get() {
            return None;
        }
        let (protocol, polling) = session.with(|s| (s.protocol(), s.polling()));
        let mut text = match protocol {
            Some(p) if choice.get().is_none() => format!("Protocol: {} (detected).", p.label()),
            Some(p) => format!("Protocol: {}.", p.label()),
            None => "Finding out which protocol the device speaks…".to_owned(),
        };
        if let (Some(_), Some((retries, missed, in_a_row))) = (protocol, polling) {
            if in_a_row > 0 {
                text.push_str(&format!(
                    " No answer to the last {in_a_row} request(s); asking again."
                ));
            }
            if retries + missed > 0 {
                text.push_str(&format!(
                    " Requests sent again: {retries}; never answered: {missed}."
                ));
            }
        }
        Some(text)
    };
    let rejected = move || session.with(|s| s.frames_rejected);
    let last_rejection = move || session.with(Session::last_rejection);
    // Vendor switch control, behind a confirmation.
    let vendor = move || {
        session
            .with(|s| s.protocol())
            .filter(|p| has_switch_control(*p))
    };
    let toggle = move |charge: bool| {
        let Some(protocol) = vendor() else { return };
        let (charge_on, discharge_on) = session.with_untracked(|s| {
            let r = s.latest.as_ref();
            (
                r.and_then(|r| r.charge_switch_on).unwrap_or(true),
                r.and_then(|r| r.discharge_switch_on).unwrap_or(true),
            )
        });
        let (charge_on, discharge_on) = if charge {
            (!charge_on, discharge_on)
        } else {
            (charge_on, !discharge_on)
        };
        let (what, on) = if charge {
            ("charge", charge_on)
        } else {
            ("discharge", discharge_on)
        };
        let question = format!(
            "Turn the {what} switch {} on this {} BMS?{}",
            if on { "ON" } else { "OFF" },
            protocol.label(),
            if on {
                ""
            } else if charge {
                " Nothing can charge the battery until it is turned on again."
            } else {
                " Everything the battery powers loses power until it is turned on again."
            }
        );
        let agreed = crate::js::confirm(&question);
        if agreed {
            for request in switch_requests(protocol, charge, charge_on, discharge_on) {
                send(request);
            }
        }
    };
    let switch_label = move |charge: bool| {
        let on = session.with(|s| {
            s.latest.as_ref().and_then(|r| {
                if charge {
                    r.charge_switch_on
                } else {
                    r.discharge_switch_on
                }
            })
        });
        let what = if charge { "charging" } else { "discharging" };
        match on {
            Some(false) => format!("Turn {what} on…"),
            _ => format!("Turn {what} off…"),
        }
    };
    view! {
        <section class="card console device" aria-label="Device" data-testid="mode-device">
            <h2>"Your battery"</h2>
            <p class="note">"A Cellsight device, or a JBD, JK or Daly BMS, on a USB serial port or over Bluetooth: the dashboard reads it directly, nothing to install."</p>
            {missing.clone().map(|why| view! { <p class="notice" data-testid="serial-unavailable">{why}</p> })}
            {missing_ble.clone().map(|why| view! { <p class="notice" data-testid="bluetooth-unavailable">{why}</p> })}
            <div class="console-row">
                <label>"Protocol "
                    <select data-testid="protocol-select" disabled=connected
                        on:change=move |ev| {
                            let value = event_target_value(&ev);
                            crate::js::remember(PROTOCOL_KEY, &value);
                            choice.set(Protocol::from_key(&value));
                        }>
                        <option value="auto" selected=move || choice.get().is_none()>"Find out from the device"</option>
                        {Protocol::ALL.iter().map(|&p| view! {
                            <option value=p.key() selected=move || choice.get() == Some(p)>{p.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label title=adapter_vendors>
                    <input type="checkbox" data-testid="port-filter" prop:checked=move || adapters_only.get()
                        on:change=move |ev| adapters_only.set(event_target_checked(&ev))/>
                    " Only USB-serial adapters"
                </label>
                <label>"Baud rate "
                    <select data-testid="baud-select" disabled=connected
                        on:change=move |ev| baud.set(event_target_value(&ev).parse().unwrap_or(crate::serial::DEFAULT_BAUD))>
                        {crate::serial::BAUD_RATES.iter().map(|&b| view! {
                            <option value=b.to_string() selected=move || baud.get() == b>{b.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="console-row">
                <button data-testid="connect-serial" on:click=connect disabled=move || missing.is_some() || connected()>
                    "Connect over USB serial"
                </button>
                <button data-testid="connect-bluetooth" on:click=connect_bluetooth disabled=move || missing_ble.is_some() || connected()>
                    "Connect over Bluetooth"
                </button>
                <button data-testid="disconnect" on:click=disconnect disabled=move || !connected()>"Disconnect"</button>
                <button data-testid="use-emulator" on:click=back_to_emulator
                    style:display=move || if showing_device.get() { "" } else { "none" }>
                    "Back to the emulator"
                </button>
            </div>
            <p class="console-message" role="status" data-testid="device-status">{status}</p>
            {move || protocol_status().map(|t| view! { <p class="note" data-testid="protocol-status">{t}</p> })}
            {move || write_error.get().map(|e| view! { <p class="error" role="alert" data-testid="write-error">{e}</p> })}
            <p class="note" style:display=move || if showing_device.get() { "" } else { "none" }>
                "Rejected frames (bad checksum, cut off, unknown): "
                <strong data-testid="link-errors">{rejected}</strong>
                {move || last_rejection().map(|e| format!(" · last: {e}"))}
            </p>
            {move || (connected() && vendor().is_some()).then(|| view! {
                <div class="console-row">
                    <button data-testid="switch-charge" on:click=move |_| toggle(true)>{move || switch_label(true)}</button>
                    <button data-testid="switch-discharge" on:click=move |_| toggle(false)>{move || switch_label(false)}</button>
                </div>
            })}
            {move || (connected() && session.with(|s| s.protocol()) == Some(Protocol::DalyModbus)).then(|| view! {
                <p class="note" data-testid="switch-control-unavailable">
                    "The switches are shown, but this Daly dialect's command to set them is not published: switch them from Daly's own app."
                </p>
            })}
        </section>
    }
}
