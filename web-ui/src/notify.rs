//! Trips told as browser notifications, for an owner whose dashboard tab is in the background,
//! and a pack in parallel that seems cut off the bus. The Notification API is reached by name
//! (as Web Serial and Web Bluetooth are, see [`js`]), so no web-sys feature is needed; which
//! trips to tell is [`Session::trip_notices`]'s to say, which packs
//! [`crate::parallel::CutOffWatch::fresh_notices`]'s.
//!
//! [`js`]: crate::js
//! [`Session::trip_notices`]: crate::session::Session::trip_notices

use crate::js;
use crate::session::Notice;
use wasm_bindgen::{JsCast, JsValue};

/// Where the page remembers that the owner asked to be told of trips.
pub const REMEMBER_KEY: &str = "cellsight-notify-trips";

/// What the browser allows this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No Notification API here (or not a secure page).
    Unsupported,
    /// Not asked yet.
    Ask,
    /// Allowed.
    Granted,
    /// Refused; only the browser's site settings can change that.
    Denied,
}

fn api() -> Option<JsValue> {
    let window = web_sys::window()?;
    window
        .is_secure_context()
        .then(|| js::get(&window, "Notification"))
        .flatten()
}

fn read(value: Option<JsValue>) -> Permission {
    match value.and_then(|v| v.as_string()).as_deref() {
        Some("granted") => Permission::Granted,
        Some("denied") => Permission::Denied,
        Some(_) => Permission::Ask,
        None => Permission::Unsupported,
    }
}

/// What the browser allows now.
pub fn permission() -> Permission {
    api().map_or(Permission::Unsupported, |n| read(js::get(&n, "permission")))
}

/// Whether the owner has asked for notifications and the browser allows them (what the
/// events card's button last set).
pub fn wanted() -> bool {
    permission() == Permission::Granted
        && crate::js::remembered(REMEMBER_KEY).as_deref() == Some("on")
}

/// Shows each of `notices` if the owner has asked for notifications; one that cannot be shown
/// is left (the trips' own path says why, on the events card).
pub fn show_if_wanted(notices: &[Notice]) {
    if notices.is_empty() || !wanted() {
        return;
    }
    for notice in notices {
        let _ = show(notice);
    }
}

/// Asks the browser (which asks the user, once) and says what it answered.
pub async fn ask() -> Permission {
    let Some(n) = api() else {
        return Permission::Unsupported;
    };
    match js::call(&n, "requestPermission", &[]).await {
        Ok(answer) => read(Some(answer)),
        Err(_) => permission(),
    }
}

/// Shows `notice`; a notice with the same tag replaces the one before. Clicked, it brings the
/// dashboard's tab forward and goes away.
pub fn show(notice: &Notice) -> Result<(), String> {
    let constructor: js_sys::Function = api()
        .ok_or("this browser shows no notifications")?
        .dyn_into()
        .map_err(|_| "Notification is not a constructor")?;
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| js_sys::Reflect::set(&options, &key.into(), &value.into());
    set("body", &notice.body).map_err(|e| js::describe(&e))?;
    set("tag", &notice.tag).map_err(|e| js::describe(&e))?;
    let args = js_sys::Array::of2(&notice.title.as_str().into(), &options);
    let shown = js_sys::Reflect::construct(&constructor, &args).map_err(|e| js::describe(&e))?;
    let closing = shown.clone();
    // Called at most once; one never clicked stays with its notification (a trip is rare).
    let on_click = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Some(window) = web_sys::window() {
            let _ = window.focus();
        }
        if let Some(close) = js::method(&closing, "close") {
            let _ = close.call0(&closing);
        }
    });
    js_sys::Reflect::set(&shown, &"onclick".into(), &on_click)
        .map(|_| ())
        .map_err(|e| js::describe(&e))
}
