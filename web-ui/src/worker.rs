//! The emulator's Web Worker: a [`DeviceHost`] behind gloo's worker bridge, with its own
//! clock, so the emulator can fast-forward without taking frames from the page. The page side
//! is [`crate::device`]; the worker's entry point is `src/bin/emulator_worker.rs`, which trunk
//! builds next to the app (`data-type="worker"` in index.html).

use crate::host::{Command, DeviceHost, Report};
use gloo::worker::{HandlerId, Worker, WorkerScope};

/// The file trunk's loader shim for the worker is written to, next to index.html.
pub const WORKER_SCRIPT: &str = "emulator_worker_loader.js";

/// The emulated device, living in the worker.
#[derive(Debug)]
pub struct EmulatorWorker {
    host: DeviceHost,
    /// The page that talks to it (the last to send a command).
    page: Option<HandlerId>,
    _clock: gloo::timers::callback::Interval,
}

impl Worker for EmulatorWorker {
    type Message = ();
    type Input = Command;
    type Output = Report;

    fn create(scope: &WorkerScope<Self>) -> Self {
        let scope = scope.clone();
        EmulatorWorker {
            host: DeviceHost::new(),
            page: None,
            _clock: gloo::timers::callback::Interval::new(crate::link::TICK_MILLIS, move || {
                scope.send_message(());
            }),
        }
    }

    fn update(&mut self, scope: &WorkerScope<Self>, _tick: ()) {
        if let (Some(page), Some(report)) = (self.page, self.host.tick_in_budget()) {
            scope.respond(page, report);
        }
    }

    fn connected(&mut self, _scope: &WorkerScope<Self>, id: HandlerId) {
        self.page = Some(id);
    }

    fn received(&mut self, scope: &WorkerScope<Self>, command: Command, id: HandlerId) {
        self.page = Some(id);
        scope.respond(id, self.host.handle(command));
    }
}
