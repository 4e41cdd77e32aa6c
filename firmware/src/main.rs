//! A minimal firmware image: one engine stepping on snapshots it cannot predict, encoding each
//! result as a wire frame. Exists to measure what bms-engine costs in flash and RAM on a
//! Cortex-M4F; `cargo xtask bench` reports the figures.
#![no_std]
#![no_main]

use bms_engine::protocol::{DeviceMessage, MAX_FRAME_LEN, Telemetry, encode_frame};
use bms_engine::{Engine, Measurement, PackConfig};
use core::hint::black_box;
use cortex_m_rt::entry;
use panic_halt as _;

#[entry]
fn main() -> ! {
    let config = black_box(PackConfig::lfp_280ah(32));
    let Ok(mut engine) = Engine::new(config, 500) else {
        // The default configuration is valid (tested); panic-halt stops here if it ever is not.
        panic!("default configuration rejected");
    };
    let mut frame = [0_u8; MAX_FRAME_LEN];
    loop {
        // black_box stands in for the front end: the compiler cannot know the readings.
        let cells = black_box([3_300_u16; 32]);
        let m = Measurement::new(&cells, black_box(10_000))
            .and_then(|m| m.with_temperatures(&black_box([Some(250_i16), Some(251)])));
        let Ok(m) = m else { continue };
        let out = engine.step(&m, 100);
        let telemetry = Telemetry::from_step(&engine, &m, &out);
        if let Ok(n) = encode_frame(&DeviceMessage::Telemetry(telemetry), &mut frame) {
            black_box(&frame[..n]);
        }
    }
}
