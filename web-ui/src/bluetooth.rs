//! A Cellsight device over Web Bluetooth: the wire protocol carried by a Nordic-UART-style GATT
//! service, the device notifying on its TX characteristic. Frames arrive cut into
//! notification-sized pieces; the session's frame decoder puts them back together, exactly as
//! for a serial port. Reached through `navigator.bluetooth` by name (no unstable web-sys).

use crate::js::{call, describe, get, method};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The Nordic UART service a Cellsight device offers.
pub const UART_SERVICE: &str = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
/// Its TX characteristic: the device notifies its wire bytes here.
pub const UART_TX: &str = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
/// The advertised name a Cellsight device starts with.
pub const NAME_PREFIX: &str = "Cellsight";

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
    /// The device's advertised name.
    pub name: String,
}

impl BluetoothLink {
    /// Asks the user for a device (the browser's chooser, Cellsight devices only) and opens its
    /// UART service.
    pub async fn connect() -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let bluetooth = web_sys::window()
            .and_then(|w| get(&w.navigator(), "bluetooth"))
            .ok_or("no Web Bluetooth")?;
        // Devices that advertise the service, or only their name; the service is named either
        // way, since the browser refuses access to any service not asked for here.
        let by_service = Object::new();
        let services: js_sys::Array = std::iter::once(JsValue::from(UART_SERVICE)).collect();
        let _ = Reflect::set(&by_service, &"services".into(), &services);
        let by_name = Object::new();
        let _ = Reflect::set(&by_name, &"namePrefix".into(), &NAME_PREFIX.into());
        let filters: js_sys::Array = [JsValue::from(by_service), JsValue::from(by_name)]
            .into_iter()
            .collect();
        let options = Object::new();
        let _ = Reflect::set(&options, &"filters".into(), &filters);
        let _ = Reflect::set(&options, &"optionalServices".into(), &services);
        let device = call(&bluetooth, "requestDevice", &[options.into()]).await?;
        let gatt = get(&device, "gatt").ok_or("the device has no GATT server")?;
        let server = call(&gatt, "connect", &[]).await?;
        let service = call(&server, "getPrimaryService", &[UART_SERVICE.into()])
            .await
            .map_err(|e| format!("it offers no Cellsight UART service ({e})"))?;
        let tx = call(&service, "getCharacteristic", &[UART_TX.into()]).await?;
        let name = get(&device, "name")
            .and_then(|n| n.as_string())
            .unwrap_or_else(|| "unnamed device".to_owned());
        Ok(BluetoothLink { device, tx, name })
    }

    /// Starts the notifications: each piece goes to `on_bytes`; `on_end` hears when the device
    /// disconnects (by itself or through [`BluetoothLink::disconnect`]).
    pub async fn listen(
        &self,
        on_bytes: impl Fn(Vec<u8>) + 'static,
        on_end: impl Fn() + 'static,
    ) -> Result<(), String> {
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
        let ended = Closure::<dyn Fn(JsValue)>::new(move |_event: JsValue| on_end());
        for (target, event, handler) in [
            (&self.tx, "characteristicvaluechanged", &notified),
            (&self.device, "gattserverdisconnected", &ended),
        ] {
            if let Some(add) = method(target, "addEventListener") {
                add.call2(target, &event.into(), handler.as_ref().unchecked_ref())
                    .map_err(|e| describe(&e))?;
            }
        }
        // The device object may fire after this link is gone: the handlers live as long as
        // the page (two small closures per connection).
        notified.forget();
        ended.forget();
        call(&self.tx, "startNotifications", &[]).await.map(|_| ())
    }

    /// Disconnects from the device (its `gattserverdisconnected` then ends the link).
    pub fn disconnect(&self) {
        if let Some(gatt) = get(&self.device, "gatt")
            && let Some(disconnect) = method(&gatt, "disconnect")
        {
            let _ = disconnect.call0(&gatt);
        }
    }
}
