//! Cellsight's browser dashboard.
//!
//! Data flows one way: a link yields bytes ([`link`]), the session decodes them into a telemetry
//! model ([`session`]), and the views render that model ([`app`]). The dashboard never calls the
//! engine: the emulated device inside the page is, to the views, a source of wire frames exactly
//! like real hardware.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod bank;
pub mod bluetooth;
pub mod chart;
pub mod config_edit;
pub mod config_panel;
mod console;
pub mod device;
pub mod device_panel;
pub mod history;
pub mod host;
pub mod js;
pub mod link;
pub mod notify;
pub mod parallel;
pub mod parallel_panel;
pub mod recording;
pub mod recordings;
pub mod serial;
pub mod session;
pub mod store;
pub mod vendor;
#[cfg(target_family = "wasm")]
pub mod worker;

/// Mounts the dashboard on the page's `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
    register_service_worker();
}

/// Asks the browser to keep the dashboard for offline use (`sw.js`, copied next to
/// `index.html` by trunk). Browsers without service workers, or pages that are not a secure
/// context, simply run online.
fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    let has_workers = js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false);
    if has_workers && window.is_secure_context() {
        let registering = navigator.service_worker().register("sw.js");
        // A refusal only means no offline copy; the page works on. Awaited so it is handled.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(registering).await;
        });
    }
}
