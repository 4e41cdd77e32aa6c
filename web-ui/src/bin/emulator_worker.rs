//! Entry point of the emulator's Web Worker (built by trunk with `data-type="worker"`).

fn main() {
    #[cfg(target_family = "wasm")]
    {
        use gloo::worker::Registrable;
        console_error_panic_hook::set_once();
        web_ui::worker::EmulatorWorker::registrar().register();
    }
}
