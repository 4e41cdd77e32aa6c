//! The emulated device as the page reaches it: commands go out, reports come back. It runs in
//! its Web Worker; if the worker has not answered within [`WORKER_GRACE_MILLIS`] (a browser
//! that refuses workers, a page served without the worker's files), the same host runs in the
//! page instead and the console says so. Either way the page sees only [`Report`]s.

use crate::host::{Command, DeviceHost, Report};
use std::cell::RefCell;
use std::rc::Rc;

/// How long the worker has to send its first report, ms.
pub const WORKER_GRACE_MILLIS: u32 = 4_000;

/// Where the emulated device runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Waiting for the worker's first report.
    Starting,
    /// In its Web Worker.
    Worker,
    /// In the page (the worker did not start).
    Page,
}

struct Inner {
    #[cfg(target_family = "wasm")]
    bridge: Option<gloo::worker::WorkerBridge<crate::worker::EmulatorWorker>>,
    in_page: Option<DeviceHost>,
    placement: Placement,
    /// Commands since the last start, replayed if the device moves into the page.
    sent: Vec<Command>,
}

/// A handle on the emulated device; cheap to clone.
#[derive(Clone)]
pub struct EmulatorHandle {
    inner: Rc<RefCell<Inner>>,
    on_report: Rc<dyn Fn(Report)>,
    on_placement: Rc<dyn Fn(Placement)>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("placement", &self.inner.borrow().placement)
            .finish()
    }
}

impl EmulatorHandle {
    /// Starts the worker; every report goes to `on_report`, and `on_placement` hears where
    /// the device ended up.
    pub fn spawn(
        on_report: impl Fn(Report) + 'static,
        on_placement: impl Fn(Placement) + 'static,
    ) -> Self {
        let handle = EmulatorHandle {
            inner: Rc::new(RefCell::new(Inner {
                #[cfg(target_family = "wasm")]
                bridge: None,
                in_page: None,
                placement: Placement::Starting,
                sent: Vec::new(),
            })),
            on_report: Rc::new(on_report),
            on_placement: Rc::new(on_placement),
        };
        handle.spawn_worker();
        handle
    }

    #[cfg(target_family = "wasm")]
    fn spawn_worker(&self) {
        use gloo::worker::Spawnable;
        let weak = Rc::downgrade(&self.inner);
        let this = self.clone();
        let bridge = crate::worker::EmulatorWorker::spawner()
            .callback(move |report| {
                let Some(inner) = weak.upgrade() else { return };
                let first = inner.borrow().placement == Placement::Starting;
                if first {
                    inner.borrow_mut().placement = Placement::Worker;
                    (this.on_placement)(Placement::Worker);
                }
                if inner.borrow().placement == Placement::Worker {
                    (this.on_report)(report);
                }
            })
            .with_loader(true)
            .spawn(crate::worker::WORKER_SCRIPT);
        self.inner.borrow_mut().bridge = Some(bridge);
        let this = self.clone();
        gloo::timers::callback::Timeout::new(WORKER_GRACE_MILLIS, move || {
            if this.inner.borrow().placement == Placement::Starting {
                this.move_into_page();
            }
        })
        .forget();
    }

    #[cfg(not(target_family = "wasm"))]
    fn spawn_worker(&self) {
        self.move_into_page();
    }

    /// Runs the device in the page from now on, replaying what the worker was told.
    fn move_into_page(&self) {
        let sent = {
            let mut inner = self.inner.borrow_mut();
            #[cfg(target_family = "wasm")]
            {
                inner.bridge = None;
            }
            inner.placement = Placement::Page;
            inner.in_page = Some(DeviceHost::new());
            inner.sent.clone()
        };
        (self.on_placement)(Placement::Page);
        for command in sent {
            self.run_in_page(command);
        }
        let this = self.clone();
        start_clock(move || {
            let report = this
                .inner
                .borrow_mut()
                .in_page
                .as_mut()
                .and_then(DeviceHost::tick_in_budget);
            if let Some(report) = report {
                (this.on_report)(report);
            }
        });
    }

    fn run_in_page(&self, command: Command) {
        let report = self
            .inner
            .borrow_mut()
            .in_page
            .as_mut()
            .map(|host| host.handle(command));
        if let Some(report) = report {
            (self.on_report)(report);
        }
    }

    /// Sends `command` to the device; its report arrives through `on_report`.
    pub fn send(&self, command: Command) {
        let placement = {
            let mut inner = self.inner.borrow_mut();
            if matches!(command, Command::Start { .. }) {
                inner.sent.clear();
            }
            inner.sent.push(command.clone());
            inner.placement
        };
        match placement {
            Placement::Page => self.run_in_page(command),
            #[cfg(target_family = "wasm")]
            Placement::Starting | Placement::Worker => {
                if let Some(bridge) = self.inner.borrow().bridge.as_ref() {
                    bridge.send(command);
                }
            }
            #[cfg(not(target_family = "wasm"))]
            Placement::Starting | Placement::Worker => {}
        }
    }
}

#[cfg(target_family = "wasm")]
fn start_clock(tick: impl FnMut() + 'static) {
    gloo::timers::callback::Interval::new(crate::link::TICK_MILLIS, tick).forget();
}

#[cfg(not(target_family = "wasm"))]
fn start_clock(_tick: impl FnMut() + 'static) {}
