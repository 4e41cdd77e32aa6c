//! A battery over Web Bluetooth: a Cellsight device (its wire protocol carried by a
//! Nordic-UART-style service, the device notifying on TX) or a JBD, JK or Daly BMS on its own
//! service. Frames arrive cut into notification-sized pieces; the session's decoders put them
//! back together, exactly as for a serial port. Requests to BMSs that only answer go to the
//! profile's write characteristic. Reached through `navigator.bluetooth` by name (no unstable
//! web-sys).

use crate::js::{call, describe, get, method};
use crate::vendor::Protocol;
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The Nordic UART service a Cellsight device offers.
pub const UART_SERVICE: &str = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
/// Its TX characteristic: the device notifies its wire bytes here.
pub const UART_TX: &str = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
/// The advertised name a Cellsight device starts with.
pub const NAME_PREFIX: &str = "Cellsight";

/// How one kind of device is reached over Bluetooth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The protocol it speaks; `None` when the service is shared by two (Daly's A5 and D2).
    pub protocol: Option<Protocol>,
    /// Its GATT service.
    pub service: &'static str,
    /// The characteristic it notifies on.
    pub notify: &'static str,
    /// The characteristic requests are written to (`None`: it only streams).
    pub write: Option<&'static str>,
    /// Names it advertises (many BMSs do not advertise their service).
    pub name_prefixes: &'static [&'static str],
}

/// Every device the dashboard can talk to over Bluetooth (UUIDs from ../shared/DOMAIN.md §4).
pub const PROFILES: [Profile; 4] = [
    Profile {
        protocol: Some(Protocol::Cellsight),
        service: UART_SERVICE,
        notify: UART_TX,
        write: None,
        name_prefixes: &[NAME_PREFIX],
    },
    Profile {
        protocol: Some(Protocol::Jbd),
        service: "0000ff00-0000-1000-8000-00805f9b34fb",
        notify: "0000ff01-0000-1000-8000-00805f9b34fb",
        write: Some("0000ff02-0000-1000-8000-00805f9b34fb"),
        name_prefixes: &["JBD-", "xiaoxiang", "SP"],
    },
    Profile {
        protocol: Some(Protocol::Jk),
        service: "0000ffe0-0000-1000-8000-00805f9b34fb",
        notify: "0000ffe1-0000-1000-8000-00805f9b34fb",
        write: Some("0000ffe1-0000-1000-8000-00805f9b34fb"),
        name_prefixes: &["JK-", "JK_"],
    },
    Profile {
        protocol: None,
        service: "0000fff0-0000-1000-8000-00805f9b34fb",
        notify: "0000fff1-0000-1000-8000-00805f9b34fb",
        write: Some("0000fff2-0000-1000-8000-00805f9b34fb"),
        name_prefixes: &["DL-", "Daly"],
    },
];

/// The profiles to offer for the protocol the user chose (`None`: all of them).
pub fn profiles_for(choice: Option<Protocol>) -> Vec<Profile> {
    PROFILES
        .into_iter()
        .filter(|p| match (choice, p.protocol) {
            (None, _) => true,
            (Some(Protocol::Daly | Protocol::DalyModbus), None) => true,
            (Some(c), Some(p)) => c == p,
            _ => false,
        })
        .collect()
}

/// Why this page cannot use Web Bluetooth, in words; `None` when it can.
pub fn unavailable() -> Option<String> {
    crate::js::unavailable(
        "bluetooth",
        "Web Bluetooth",
        "Chrome, Edge or Opera on a computer or on Android",
    )
}

/// A connected device and the listeners that keep it talking.
#[derive(Debug, Clone)]
pub struct BluetoothLink {
    device: JsValue,
    tx: JsValue,
    rx: Option<JsValue>,
    /// The device's advertised name.
    pub name: String,
    /// How it was reached.
    pub profile: Profile,
}

impl BluetoothLink {
    /// Asks the user for a device (the browser's chooser, offering the devices of the chosen
    /// protocol, or of all) and opens its service.
    pub async fn connect(choice: Option<Protocol>) -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let bluetooth = web_sys::window()
            .and_then(|w| get(&w.navigator(), "bluetooth"))
            .ok_or("no Web Bluetooth")?;
        let profiles = profiles_for(choice);
        // Devices that advertise a service, or only their name; every service is named either
        // way, since the browser refuses access to any service not asked for here.
        let services: js_sys::Array = profiles.iter().map(|p| JsValue::from(p.service)).collect();
        let filters = js_sys::Array::new();
        for profile in &profiles {
            let by_service = Object::new();
            let one: js_sys::Array = std::iter::once(JsValue::from(profile.service)).collect();
            let _ = Reflect::set(&by_service, &"services".into(), &one);
            filters.push(&by_service);
            for prefix in profile.name_prefixes {
                let by_name = Object::new();
                let _ = Reflect::set(&by_name, &"namePrefix".into(), &(*prefix).into());
                filters.push(&by_name);
            }
        }
        let options = Object::new();
        let _ = Reflect::set(&options, &"filters".into(), &filters);
        let _ = Reflect::set(&options, &"optionalServices".into(), &services);
        let device = call(&bluetooth, "requestDevice", &[options.into()]).await?;
        Self::open(device, profiles).await
    }

    /// A device this page was allowed to use before, offered by the browser without asking
    /// (`getDevices`, where the browser has it).
    pub async fn granted() -> Option<JsValue> {
        let bluetooth = web_sys::window().and_then(|w| get(&w.navigator(), "bluetooth"))?;
        method(&bluetooth, "getDevices")?;
        let devices = call(&bluetooth, "getDevices", &[]).await.ok()?;
        let first = js_sys::Array::from(&devices).get(0);
        (!first.is_undefined()).then_some(first)
    }

    /// Connects to a device allowed before (see [`BluetoothLink::granted`]), with any profile.
    pub async fn reconnect_granted(device: JsValue) -> Result<Self, String> {
        Self::open(device, PROFILES.to_vec()).await
    }

    /// Connects to `device` and opens the first of `profiles` it offers.
    async fn open(device: JsValue, profiles: Vec<Profile>) -> Result<Self, String> {
        let gatt = get(&device, "gatt").ok_or("the device has no GATT server")?;
        let server = call(&gatt, "connect", &[]).await?;
        let mut found = None;
        for profile in profiles {
            if let Ok(service) = call(&server, "getPrimaryService", &[profile.service.into()]).await
            {
                found = Some((profile, service));
                break;
            }
        }
        let Some((profile, service)) = found else {
            disconnect_gatt(&device);
            return Err("it offers none of the services this dashboard knows".to_owned());
        };
        let tx = call(&service, "getCharacteristic", &[profile.notify.into()]).await?;
        let rx = match profile.write {
            Some(uuid) if uuid == profile.notify => Some(tx.clone()),
            Some(uuid) => Some(call(&service, "getCharacteristic", &[uuid.into()]).await?),
            None => None,
        };
        let name = get(&device, "name")
            .and_then(|n| n.as_string())
            .unwrap_or_else(|| "unnamed device".to_owned());
        Ok(BluetoothLink {
            device,
            tx,
            rx,
            name,
            profile,
        })
    }

    /// Writes a request to the device's write characteristic.
    pub async fn write(&self, bytes: &[u8]) -> Result<(), String> {
        let rx = self.rx.as_ref().ok_or("this device takes no requests")?;
        let data: JsValue = Uint8Array::from(bytes).into();
        let without_response = get(rx, "properties")
            .and_then(|p| get(&p, "writeWithoutResponse"))
            .and_then(|w| w.as_bool())
            .unwrap_or(false);
        if without_response && method(rx, "writeValueWithoutResponse").is_some() {
            call(rx, "writeValueWithoutResponse", &[data])
                .await
                .map(|_| ())
        } else {
            call(rx, "writeValue", &[data]).await.map(|_| ())
        }
    }

    /// Starts the notifications: each piece goes to `on_bytes`.
    pub async fn listen(&self, on_bytes: impl Fn(Vec<u8>) + 'static) -> Result<(), String> {
        let tx = self.tx.clone();
        let notified = Closure::<dyn Fn(JsValue)>::new(move |_event: JsValue| {
            // The characteristic's value is a DataView over the notification's bytes.
            if let Some(view) = get(&tx, "value") {
                let buffer = get(&view, "buffer").unwrap_or(JsValue::UNDEFINED);
                let offset = get(&view, "byteOffset")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                let length = get(&view, "byteLength")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                let bytes = Uint8Array::new_with_byte_offset_and_length(
                    &buffer,
                    offset as u32,
                    length as u32,
                );
                on_bytes(bytes.to_vec());
            }
        });
        listen_to(&self.tx, "characteristicvaluechanged", notified)?;
        call(&self.tx, "startNotifications", &[]).await.map(|_| ())
    }

    /// Calls `on_end` whenever the device disconnects (by itself or through
    /// [`BluetoothLink::disconnect`]); register once per device.
    pub fn on_disconnect(&self, on_end: impl Fn() + 'static) -> Result<(), String> {
        let ended = Closure::<dyn Fn(JsValue)>::new(move |_event: JsValue| on_end());
        listen_to(&self.device, "gattserverdisconnected", ended)
    }

    /// Connects again to the same device (after a drop-out; no chooser needed, the user
    /// allowed it) and opens the same service.
    pub async fn reopen(&self) -> Result<BluetoothLink, String> {
        Self::open(self.device.clone(), vec![self.profile]).await
    }

    /// Disconnects from the device (its `gattserverdisconnected` then ends the link).
    pub fn disconnect(&self) {
        disconnect_gatt(&self.device);
    }
}

/// Adds `handler` for `event` on `target`. The object may fire after its link is gone, so the
/// handler lives as long as the page (one small closure per connection).
fn listen_to(
    target: &JsValue,
    event: &str,
    handler: Closure<dyn Fn(JsValue)>,
) -> Result<(), String> {
    if let Some(add) = method(target, "addEventListener") {
        add.call2(target, &event.into(), handler.as_ref().unchecked_ref())
            .map_err(|e| describe(&e))?;
    }
    handler.forget();
    Ok(())
}

fn disconnect_gatt(device: &JsValue) {
    if let Some(gatt) = get(device, "gatt")
        && let Some(disconnect) = method(&gatt, "disconnect")
    {
        let _ = disconnect.call0(&gatt);
    }
}
