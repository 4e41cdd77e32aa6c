//! Cellsight's browser dashboard.
//!
//! Data flows one way: a link yields bytes ([`link`]), the session decodes them into a telemetry
//! model ([`session`]), and the views render that model ([`app`]). The dashboard never calls the
//! engine: the emulated device inside the page is, to the views, a source of wire frames exactly
//! like real hardware.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod chart;
mod console;
pub mod history;
pub mod link;
pub mod recording;
pub mod recordings;
pub mod store;
pub mod session;

/// Mounts the dashboard on the page's `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
