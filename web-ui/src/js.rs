//! Calling browser APIs by name (Web Serial and Web Bluetooth are reached this way, so the
//! dashboard needs no unstable web-sys features): property reads, method calls awaited as
//! promises, and browser errors in words.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// `target[key]`, or `None` when it is missing, `undefined` or `null`.
pub fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `target[key]` as a function.
pub fn method(target: &JsValue, key: &str) -> Option<Function> {
    get(target, key).and_then(|f| f.dyn_into().ok())
}

/// Calls `target.name(args…)` and awaits what it returns (a promise or a plain value).
pub async fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let function = method(target, name).ok_or_else(|| format!("`{name}` is missing"))?;
    let array: js_sys::Array = args.iter().collect();
    let value = function.apply(target, &array).map_err(|e| describe(&e))?;
    JsFuture::from(js_sys::Promise::resolve(&value))
        .await
        .map_err(|e| describe(&e))
}

/// A browser error in words ("NotFoundError: No port selected by the user.").
pub fn describe(e: &JsValue) -> String {
    let name = get(e, "name").and_then(|n| n.as_string());
    let message = get(e, "message").and_then(|m| m.as_string());
    match (name, message) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (_, Some(m)) => m,
        _ => format!("{e:?}"),
    }
}

/// Why this page cannot use the browser API `navigator[api]` (called `what` for the user),
/// or `None` when it can; `browsers` says where to find it.
pub fn unavailable(api: &str, what: &str, browsers: &str) -> Option<String> {
    let window = web_sys::window()?;
    if !window.is_secure_context() {
        return Some(format!(
            "{what} needs a secure page: open the dashboard over https:// or from localhost."
        ));
    }
    if get(&window.navigator(), api).is_none() {
        return Some(format!(
            "This browser has no {what}: use {browsers} (Firefox and Safari do not offer it)."
        ));
    }
    None
}

/// What this browser keeps under `key` for the page (`None`: nothing, or storage refused).
pub fn remembered(key: &str) -> Option<String> {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(key).ok().flatten())
}

/// Keeps `value` under `key` for the next visit (storage may be refused: then it is not kept).
pub fn remember(key: &str, value: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(key, value);
    }
}

/// Asks the user `question` with the browser's OK/Cancel dialog; `false` when declined or when
/// no dialog can be shown.
pub fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}
