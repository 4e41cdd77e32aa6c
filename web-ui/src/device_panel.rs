//! Device mode: connect a Cellsight device over Web Serial or Web Bluetooth. While a device is connected the
//! emulator is paused and its reports are not shown; the device's bytes take the same path
//! (session, history, recording) the emulator's took.

use crate::session::Session;
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
    /// The last connection ended or failed, and why.
    Ended(String),
}

/// Where the last baud rate that worked is kept.
const BAUD_KEY: &str = "cellsight-baud";

/// The baud rate that worked last time on this browser, or the default.
fn stored_baud() -> u32 {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(BAUD_KEY).ok().flatten())
        .and_then(|b| b.parse().ok())
        .filter(|b| crate::serial::BAUD_RATES.contains(b))
        .unwrap_or(crate::serial::DEFAULT_BAUD)
}

fn remember_baud(baud: u32) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(BAUD_KEY, &baud.to_string());
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
) -> impl IntoView {
    let state = RwSignal::new(DeviceState::Idle);
    let baud = RwSignal::new(stored_baud());
    // How the present serial connection came about, for the status line.
    let reconnected = RwSignal::new(None::<&'static str>);
    let link = StoredValue::new_local(None::<crate::serial::SerialLink>);
    let radio = StoredValue::new_local(None::<crate::bluetooth::BluetoothLink>);
    let missing = crate::serial::unavailable();
    let missing_ble = crate::bluetooth::unavailable();
    let busy = move || {
        matches!(
            state.get_untracked(),
            DeviceState::Connecting
                | DeviceState::Connected(_)
                | DeviceState::ConnectedBluetooth(_)
        )
    };
    // A device is connected: the emulator steps aside and the session starts afresh.
    let take_over: Rc<dyn Fn()> = {
        let emulator_paused = emulator_paused.clone();
        Rc::new(move || {
            emulator_paused(true);
            showing_device.set(true);
            session.set(Session::default());
        })
    };
    let connect_bluetooth = {
        let take_over = take_over.clone();
        let deliver = deliver.clone();
        move |_| {
            if busy() {
                return;
            }
            let deliver = deliver.clone();
            let take_over = take_over.clone();
            state.set(DeviceState::Connecting);
            spawn_local(async move {
                match crate::bluetooth::BluetoothLink::connect().await {
                    Ok(opened) => {
                        take_over();
                        let name = format!("device {} over Web Bluetooth", opened.name);
                        let listening = opened
                            .listen(
                                move |bytes| deliver(bytes, name.clone()),
                                move || {
                                    radio.set_value(None);
                                    state.set(DeviceState::Ended("Disconnected.".to_owned()));
                                },
                            )
                            .await;
                        match listening {
                            Ok(()) => {
                                state.set(DeviceState::ConnectedBluetooth(opened.name.clone()));
                                radio.set_value(Some(opened));
                            }
                            Err(e) => {
                                opened.disconnect();
                                state.set(DeviceState::Ended(format!("Not connected: {e}.")));
                            }
                        }
                    }
                    Err(e) => state.set(DeviceState::Ended(format!("Not connected: {e}."))),
                }
            });
        }
    };
    // Opens a serial port and reads it until it ends; `how` says in words how it came.
    let run_serial: Rc<dyn Fn(crate::serial::PortChoice, &'static str)> =
        Rc::new(move |choice, how| {
            if busy() {
                return;
            }
            let deliver = deliver.clone();
            let take_over = take_over.clone();
            let rate = baud.get_untracked();
            state.set(DeviceState::Connecting);
            spawn_local(async move {
                match crate::serial::SerialLink::open(choice, rate).await {
                    Ok(opened) => {
                        take_over();
                        remember_baud(rate);
                        state.set(DeviceState::Connected(rate));
                        reconnected.set(Some(how));
                        link.set_value(Some(opened.clone()));
                        let name = format!("device over Web Serial at {rate} baud");
                        let why = opened.read(|bytes| deliver(bytes, name.clone())).await;
                        opened.disconnect().await;
                        link.set_value(None);
                        state.set(DeviceState::Ended(match why {
                            Some(why) => format!("Disconnected: {why}."),
                            None => "Disconnected.".to_owned(),
                        }));
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
    let connect = move |_| run_serial(crate::serial::PortChoice::Ask, "the port you chose");
    let disconnect = move |_| {
        if let Some(open) = link.get_value() {
            spawn_local(async move { open.disconnect().await });
        }
        if let Some(open) = radio.get_value() {
            open.disconnect();
        }
    };
    let back_to_emulator = move |_| {
        if let Some(open) = link.get_value() {
            spawn_local(async move { open.disconnect().await });
        }
        if let Some(open) = radio.get_value() {
            open.disconnect();
        }
        showing_device.set(false);
        session.set(Session::default());
        emulator_paused(false);
        state.set(DeviceState::Idle);
    };
    let status = move || match state.get() {
        DeviceState::Idle => "No device connected.".to_owned(),
        DeviceState::Connecting => "Choose the port in the browser's window…".to_owned(),
        DeviceState::Connected(rate) => format!(
            "Connected over Web Serial at {rate} baud ({}).",
            reconnected.get().unwrap_or("the port you chose")
        ),
        DeviceState::ConnectedBluetooth(name) => format!("Connected to {name} over Web Bluetooth."),
        DeviceState::Ended(why) => why,
    };
    let connected = move || {
        matches!(
            state.get(),
            DeviceState::Connected(_) | DeviceState::ConnectedBluetooth(_)
        )
    };
    let rejected = move || session.with(|s| s.frames_rejected);
    view! {
        <section class="card console device" aria-label="Device" data-testid="mode-device">
            <h2>"Your battery"</h2>
            <p class="note">"A Cellsight device on a USB serial port or over Bluetooth: the dashboard reads it directly, nothing to install."</p>
            {missing.clone().map(|why| view! { <p class="error" role="alert" data-testid="serial-unavailable">{why}</p> })}
            {missing_ble.clone().map(|why| view! { <p class="error" role="alert" data-testid="bluetooth-unavailable">{why}</p> })}
            <div class="console-row">
                <label>"Baud rate "
                    <select data-testid="baud-select" disabled=connected
                        on:change=move |ev| baud.set(event_target_value(&ev).parse().unwrap_or(crate::serial::DEFAULT_BAUD))>
                        {crate::serial::BAUD_RATES.iter().map(|&b| view! {
                            <option value=b.to_string() selected=move || baud.get() == b>{b.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
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
            <p class="note" style:display=move || if showing_device.get() { "" } else { "none" }>
                "Rejected frames (bad checksum, cut off, unknown): "
                <strong data-testid="link-errors">{rejected}</strong>
            </p>
        </section>
    }
}
