//! A real device over Web Serial: the port the user picks, opened at the chosen baud rate, read
//! until it closes or the user disconnects. The bytes go down the same path as the emulator's
//! (frame decoder, session, recording); this module only moves them. Reached through
//! `navigator.serial` by name, so it needs no unstable web-sys features.

use crate::js::{call, describe, get, method};
use js_sys::{Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Baud rates offered (Cellsight devices default to 115 200).
pub const BAUD_RATES: [u32; 5] = [9_600, 19_200, 38_400, 57_600, 115_200];

/// The default baud rate.
pub const DEFAULT_BAUD: u32 = 115_200;

/// USB vendors of the USB-serial bridges BMS cables and boards use, offered by the port
/// chooser when it shows only adapters: WCH (CH340), Silicon Labs (CP210x), FTDI, Prolific
/// (PL2303) and Espressif (boards with native USB).
pub const USB_SERIAL_VENDORS: [(u16, &str); 5] = [
    (0x1a86, "WCH"),
    (0x10c4, "Silicon Labs"),
    (0x0403, "FTDI"),
    (0x067b, "Prolific"),
    (0x303a, "Espressif"),
];

/// Why this page cannot use Web Serial, in words for the user; `None` when it can.
pub fn unavailable() -> Option<String> {
    crate::js::unavailable(
        "serial",
        "Web Serial",
        "Chrome, Edge or Opera on a computer",
    )
}

/// An open port and, while reading, its reader.
#[derive(Debug, Clone)]
pub struct SerialLink {
    port: JsValue,
    reader: Rc<RefCell<Option<JsValue>>>,
    /// The baud rate it was opened at.
    pub baud: u32,
}

/// Which port to open.
#[derive(Debug, Clone)]
pub enum PortChoice {
    /// Ask the user now (the browser's chooser; needs a click), offering only USB-serial
    /// adapters ([`USB_SERIAL_VENDORS`]) or every port.
    Ask {
        /// Offer only USB-serial adapters.
        adapters_only: bool,
    },
    /// One the user allowed before (from `getPorts` or a `connect` event).
    Granted(JsValue),
}

fn serial() -> Option<JsValue> {
    web_sys::window().and_then(|w| get(&w.navigator(), "serial"))
}

/// A port this page was allowed to use before, if one is plugged in.
pub async fn granted_port() -> Option<JsValue> {
    granted_ports().await.into_iter().next()
}

/// Every port this page was allowed to use before that is plugged in, in the browser's order.
pub async fn granted_ports() -> Vec<JsValue> {
    let Some(serial) = serial() else {
        return Vec::new();
    };
    match call(&serial, "getPorts", &[]).await {
        Ok(ports) => js_sys::Array::from(&ports).iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// Calls `on_port` whenever a port the user allowed before is plugged in again.
pub fn on_port_plugged(on_port: impl Fn(JsValue) + 'static) {
    let Some(serial) = serial() else { return };
    let Some(add) = method(&serial, "addEventListener") else {
        return;
    };
    let handler = wasm_bindgen::closure::Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
        if let Some(port) = get(&event, "target").or_else(|| get(&event, "port")) {
            on_port(port);
        }
    });
    let _ = add.call2(&serial, &"connect".into(), handler.as_ref());
    // Listens for the life of the page.
    handler.forget();
}

impl SerialLink {
    /// Opens the chosen port at `baud`.
    pub async fn open(choice: PortChoice, baud: u32) -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let port = match choice {
            PortChoice::Granted(port) => port,
            PortChoice::Ask { adapters_only } => {
                let serial = serial().ok_or("no Web Serial")?;
                let options = Object::new();
                let filters = js_sys::Array::new();
                if adapters_only {
                    for (vendor, _) in USB_SERIAL_VENDORS {
                        let filter = Object::new();
                        Reflect::set(&filter, &"usbVendorId".into(), &JsValue::from(vendor))
                            .map_err(|e| describe(&e))?;
                        filters.push(&filter);
                    }
                }
                Reflect::set(&options, &"filters".into(), &filters).map_err(|e| describe(&e))?;
                call(&serial, "requestPort", &[options.into()]).await?
            }
        };
        let open = Object::new();
        Reflect::set(&open, &"baudRate".into(), &JsValue::from(baud)).map_err(|e| describe(&e))?;
        call(&port, "open", &[open.into()]).await?;
        Ok(SerialLink {
            port,
            reader: Rc::default(),
            baud,
        })
    }

    /// Reads until the port ends or [`SerialLink::disconnect`] is called, handing each chunk
    /// to `on_bytes`; returns why reading stopped (`None`: the user disconnected).
    pub async fn read(&self, on_bytes: impl Fn(Vec<u8>)) -> Option<String> {
        let Some(readable) = get(&self.port, "readable") else {
            return Some("the port cannot be read".to_owned());
        };
        let reader = match method(&readable, "getReader").map(|f| f.call0(&readable)) {
            Some(Ok(reader)) => reader,
            Some(Err(e)) => return Some(describe(&e)),
            None => return Some("the port cannot be read".to_owned()),
        };
        *self.reader.borrow_mut() = Some(reader.clone());
        loop {
            let chunk = match call(&reader, "read", &[]).await {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.reader.borrow_mut().take();
                    return Some(format!("the device stopped answering ({e})"));
                }
            };
            if get(&chunk, "done").and_then(|d| d.as_bool()) == Some(true) {
                let by_user = self.reader.borrow_mut().take().is_none();
                return (!by_user).then(|| "the port closed".to_owned());
            }
            if let Some(value) = get(&chunk, "value") {
                on_bytes(Uint8Array::new(&value).to_vec());
            }
        }
    }

    /// Writes a request to the port (taking and releasing its writer's lock).
    pub async fn write(&self, bytes: &[u8]) -> Result<(), String> {
        let writable = get(&self.port, "writable").ok_or("the port cannot be written")?;
        let writer = match method(&writable, "getWriter").map(|f| f.call0(&writable)) {
            Some(Ok(writer)) => writer,
            Some(Err(e)) => return Err(describe(&e)),
            None => return Err("the port cannot be written".to_owned()),
        };
        let written = call(&writer, "write", &[Uint8Array::from(bytes).into()]).await;
        if let Some(release) = method(&writer, "releaseLock") {
            let _ = release.call0(&writer);
        }
        written.map(|_| ())
    }

    /// Stops reading, releases the port's lock and closes it.
    pub async fn disconnect(&self) {
        let reader = self.reader.borrow_mut().take();
        if let Some(reader) = reader {
            let _ = call(&reader, "cancel", &[]).await;
            if let Some(release) = method(&reader, "releaseLock") {
                let _ = release.call0(&reader);
            }
        }
        let _ = call(&self.port, "close", &[]).await;
    }
}
