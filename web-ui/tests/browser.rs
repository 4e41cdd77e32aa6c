//! In-browser tests (wasm-bindgen-test in headless Chromium): the frame decoder and the mounted
//! dashboard, running on the same wasm32 target as the shipped page.
#![cfg(target_family = "wasm")]

use bms_engine::protocol::{DeviceMessage, FrameDecoder};
use emulator::{EmulatedDevice, Scenario, SimulationConfig};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_ui::session::Session;

wasm_bindgen_test_configure!(run_in_browser);

const GOLDEN_TELEMETRY: &[u8] = include_bytes!("../../bms-engine/tests/golden/v4/telemetry.bin");

#[wasm_bindgen_test]
fn golden_frame_decodes_in_the_browser() {
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut got = Vec::new();
    decoder.feed(GOLDEN_TELEMETRY, |r| got.push(r));
    assert_eq!(got.len(), 1);
    let Ok(DeviceMessage::Telemetry(t)) = &got[0] else {
        panic!("expected telemetry, got {:?}", got[0]);
    };
    assert_eq!(t.uptime_ms, 60_000);
    assert_eq!(t.current_ma, -1_500);
    assert_eq!(t.cell_voltages_mv.as_slice(), &[3_300, 3_301, 3_299, 3_300]);
    assert_eq!(t.temperatures_deci_c.as_slice(), &[Some(251), None]);
}

#[wasm_bindgen_test]
fn garbage_and_split_frames_in_the_browser() {
    let mut device = EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 9, 16)).unwrap();
    let mut stream = vec![0xAB, 0xCD, 0x00];
    stream.extend(device.hello());
    stream.extend(device.advance(10));
    let mut session = Session::default();
    // One byte at a time, as a slow serial port would deliver them.
    for (i, byte) in stream.iter().enumerate() {
        session.ingest(std::slice::from_ref(byte), i as f64);
    }
    assert_eq!(session.frames_ok, 2);
    assert_eq!(session.frames_rejected, 1);
    let reading = session.latest.unwrap();
    assert_eq!(reading.cell_voltages_v.len(), 16);
    assert!(
        reading
            .cell_voltages_v
            .iter()
            .all(|v| (2.5..3.65).contains(v))
    );
}

/// Waits `ms` on the page's clock.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// The emulated device answers asynchronously (from its worker; here, where the test server
/// has no worker files, from the page after the worker's grace time).
#[wasm_bindgen_test]
async fn the_dashboard_mounts_and_shows_every_cell() {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), web_ui::app::App);
    let text = |id: &str| {
        host.query_selector(&format!("[data-testid='{id}']"))
            .unwrap()
            .unwrap_or_else(|| panic!("no element with data-testid {id}"))
            .text_content()
            .unwrap_or_default()
    };
    for _ in 0..150 {
        let shown = host
            .query_selector("[data-testid='cell-voltage-16']")
            .unwrap()
            .and_then(|e| e.text_content())
            .is_some_and(|t| t.parse::<f64>().is_ok());
        if shown {
            break;
        }
        sleep(100).await;
    }
    assert!(text("emulator-placement").contains("in the page"));
    for n in 1..=16 {
        let v: f64 = text(&format!("cell-voltage-{n}")).parse().unwrap();
        assert!((2.5..3.65).contains(&v), "cell {n}: {v}");
    }
    let pack: f64 = text("pack-voltage").parse().unwrap();
    assert!((40.0..58.4).contains(&pack), "pack {pack}");
    assert_eq!(text("charge-switch"), "ON");
    assert!(text("connection-status").starts_with("Connected"));
    let cvl: f64 = text("limits-cvl").parse().unwrap();
    assert!(
        (cvl - 55.2).abs() < 0.05,
        "16 × 3.45 V absorption, got {cvl}"
    );
    assert!(text("temperature-1").ends_with("°C"));
    drop(handle);
}
