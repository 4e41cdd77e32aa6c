//! The wire format, frozen: golden bytes for every message of both directions, the stream
//! decoder's promises, and the device side of the protocol (`respond`).
//!
//! Golden files are written only on purpose: `CELLSIGHT_BLESS=1 cargo test -p bms-engine --test
//! wire` after a deliberate format change (which also needs a new PROTOCOL_VERSION).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bms_engine::balancing::Transfer;
use bms_engine::limits::{ChargePhase, Limits};
use bms_engine::protocol::{
    AckResult, Capabilities, Command, DeviceInfo, DeviceMessage, FrameDecoder, HostMessage,
    MAX_FRAME_LEN, PROTOCOL_VERSION, Telemetry, WireViolation, decode_frame, encode_frame,
    encode_frame_with_version, respond,
};
use bms_engine::switches::ContactorState;
use bms_engine::{
    BalancerKind, Engine, Error, Event, EventKind, Fault, Level, Measurement, PackConfig,
    SwitchKind,
};
use heapless::{String, Vec};
use proptest::prelude::*;
use std::path::PathBuf;

fn device_info() -> DeviceInfo {
    DeviceInfo {
        protocol_version: PROTOCOL_VERSION,
        firmware: String::try_from("cellsight 0.1").unwrap(),
        emulated: true,
        cell_count: 4,
        temperature_count: 2,
        capacity_mah: 280_000,
        capabilities: Capabilities {
            switches: SwitchKind::Fets,
            balancer: BalancerKind::Passive {
                bleed_current_ma: 60,
                max_channels: 2,
                no_adjacent: true,
            },
            heater: true,
            fan: false,
            inverter_can: true,
        },
    }
}

fn telemetry() -> Telemetry {
    Telemetry {
        uptime_ms: 60_000,
        pack_voltage_mv: 13_200,
        current_ma: -1_500,
        soc_permille: 873,
        soc_bound_permille: Some(24),
        usable_soc_permille: 861,
        cell_soc_permille: Vec::from_slice(&[870, 880, 861, 881]).unwrap(),
        soh_permille: Some(968),
        current_bias_ma: Some(-120),
        cell_voltages_mv: Vec::from_slice(&[3_300, 3_301, 3_299, 3_300]).unwrap(),
        temperatures_deci_c: Vec::from_slice(&[Some(251), None]).unwrap(),
        charge_switch_on: true,
        discharge_switch_on: false,
        contactor: None,
        trip_bits: 2,
        derate_bits: 0,
        warning_bits: 3,
        latched_bits: 0,
        balance_mask: 0b0010,
        transfer: None,
        limits: Limits {
            charge_voltage_mv: 13_800,
            charge_current_ma: 140_000,
            discharge_current_ma: 0,
            discharge_voltage_mv: 11_600,
            phase: ChargePhase::Absorption,
            full_charge_requested: false,
            force_charge_requested: true,
        },
        heater_on: false,
        fan_on: false,
        events_recorded: 7,
        switches_held_open: false,
        cell_r0_micro_ohm: Vec::from_slice(&[301, 5_298, 0, 299]).unwrap(),
        cell_capacity_deci_ah: Vec::from_slice(&[2_795, 0, 1_962, 2_801]).unwrap(),
        current_bias_sigma_ma: Some(250),
        charge_standby: true,
    }
}

fn event() -> Event {
    Event {
        time_ms: 3_600_000,
        kind: EventKind::Tripped,
        fault: Fault::CellOverVoltage,
        level: Level::Trip,
        location: Some(6),
        value: 3_702,
        limit: 3_650,
        delay_ms: 2_000,
    }
}

/// Device messages version 3 could not send (so they have no version 3 golden bytes): the log's
/// record of a host holding the switches open and giving them back, and of the contactor
/// closing and opening.
const NEW_IN_VERSION_4: [&str; 4] = [
    "event_switches_held",
    "event_switches_given_back",
    "event_contactor_closed",
    "event_contactor_opened",
];

/// Device messages older versions could not send: the charge switch's standby on a shared bus
/// (new in version 8).
const NEW_IN_VERSION_8: [&str; 2] = ["event_charge_standby", "event_charge_resumed"];

/// Every device message variant (and every acknowledgement result), with its golden file name.
fn device_messages() -> std::vec::Vec<(&'static str, DeviceMessage)> {
    let mut contactor_telemetry = telemetry();
    contactor_telemetry.contactor = Some(ContactorState::Precharging { elapsed_ms: 300 });
    contactor_telemetry.transfer = Some(Transfer {
        from_cell: 1,
        to_cell: 2,
        current_ma: 2_000,
    });
    contactor_telemetry.limits.phase = ChargePhase::Float;
    contactor_telemetry.switches_held_open = true;
    vec![
        ("device_info", DeviceMessage::DeviceInfo(device_info())),
        ("telemetry", DeviceMessage::Telemetry(telemetry())),
        (
            "telemetry_contactor",
            DeviceMessage::Telemetry(contactor_telemetry),
        ),
        (
            "event",
            DeviceMessage::Event {
                sequence: 41,
                event: event(),
            },
        ),
        (
            "event_switches_held",
            DeviceMessage::Event {
                sequence: 42,
                event: Event::switch_command(3_660_000, true),
            },
        ),
        (
            "event_switches_given_back",
            DeviceMessage::Event {
                sequence: 43,
                event: Event::switch_command(3_720_000, false),
            },
        ),
        (
            "event_contactor_closed",
            DeviceMessage::Event {
                sequence: 44,
                event: Event::contactor(
                    3_721_200,
                    EventKind::ContactorClosed,
                    52_500,
                    52_800,
                    1_200,
                ),
            },
        ),
        (
            "event_contactor_opened",
            DeviceMessage::Event {
                sequence: 45,
                event: Event::contactor(3_780_000, EventKind::ContactorOpened, 52_790, 0, 0),
            },
        ),
        (
            "event_charge_standby",
            DeviceMessage::Event {
                sequence: 46,
                event: Event::standby(3_790_000, EventKind::ChargeStandby, 55_120),
            },
        ),
        (
            "event_charge_resumed",
            DeviceMessage::Event {
                sequence: 47,
                event: Event::standby(3_800_000, EventKind::ChargeResumed, -12_400),
            },
        ),
        (
            "config",
            DeviceMessage::Config {
                request_id: 9,
                config: PackConfig::lfp_280ah(4),
            },
        ),
        (
            "ack_ok",
            DeviceMessage::Ack {
                request_id: 9,
                result: AckResult::Ok,
            },
        ),
        (
            "ack_rejected",
            DeviceMessage::Ack {
                request_id: 9,
                result: AckResult::ConfigRejected { count: 2 },
            },
        ),
        (
            "ack_unsupported",
            DeviceMessage::Ack {
                request_id: 9,
                result: AckResult::Unsupported,
            },
        ),
        (
            "config_violation",
            DeviceMessage::ConfigViolation {
                request_id: 9,
                index: 1,
                violation: WireViolation {
                    field: String::try_from("capacity_mah").unwrap(),
                    rule: String::try_from("must be greater than 0").unwrap(),
                },
            },
        ),
        (
            "version_mismatch",
            DeviceMessage::VersionMismatch {
                device_version: 2,
                host_version: 1,
            },
        ),
    ]
}

/// Every host message variant (and every command), with its golden file name.
fn host_messages() -> std::vec::Vec<(&'static str, HostMessage)> {
    let mut config = PackConfig::lfp_280ah(4);
    config.switches = SwitchKind::Contactor {
        voltage_match_mv: 2_000,
        precharge_timeout_ms: 5_000,
    };
    config.balancer = BalancerKind::Active {
        max_current_ma: 2_000,
    };
    let command = |command| HostMessage::Command {
        request_id: 5,
        command,
    };
    vec![
        ("hello", HostMessage::Hello { request_id: 1 }),
        ("read_config", HostMessage::ReadConfig { request_id: 2 }),
        (
            "write_config",
            HostMessage::WriteConfig {
                request_id: 3,
                config,
            },
        ),
        ("command_reset_latched", command(Command::ResetLatched)),
        ("command_force_off", command(Command::ForceSwitchesOff)),
        ("command_release", command(Command::ReleaseSwitches)),
        (
            "command_send_events",
            command(Command::SendEvents { since: 300 }),
        ),
    ]
}

fn encode<T: serde::Serialize>(message: &T) -> std::vec::Vec<u8> {
    let mut out = [0; MAX_FRAME_LEN];
    let n = encode_frame(message, &mut out).unwrap();
    out[..n].to_vec()
}

fn golden_path(name: &str) -> PathBuf {
    golden_path_of(PROTOCOL_VERSION, name)
}

fn golden_path_of(version: u8, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/v{version}"))
        .join(format!("{name}.bin"))
}

fn check_golden<T>(name: &str, message: &T)
where
    T: serde::Serialize + bms_engine::protocol::WireMessage + PartialEq + std::fmt::Debug,
{
    let bytes = encode(message);
    let path = golden_path(name);
    if std::env::var_os("CELLSIGHT_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless deliberately to create it)", path.display()));
    assert_eq!(bytes, golden, "wire bytes of `{name}` changed");
    assert_eq!(
        &decode_frame::<T>(&golden[..golden.len() - 1]).unwrap(),
        message
    );
}

#[test]
fn every_device_message_matches_its_golden_bytes() {
    for (name, message) in device_messages() {
        check_golden(name, &message);
    }
}

#[test]
fn every_host_message_matches_its_golden_bytes() {
    for (name, message) in host_messages() {
        check_golden(name, &message);
    }
}

#[test]
fn golden_telemetry_layout_is_as_documented() {
    let golden = std::fs::read(golden_path("telemetry")).unwrap();
    let mut body = golden[..golden.len() - 1].to_vec();
    let n = cobs_decode(&mut body);
    let body = &body[..n];
    assert_eq!(body[0], PROTOCOL_VERSION, "version byte");
    assert_eq!(body[1], 1, "variant index of Telemetry");
    assert_eq!(&body[2..5], &[0xE0, 0xD4, 0x03], "uptime 60000 as varint");
    assert_eq!(&body[5..7], &[0x90, 0x67], "pack voltage 13200 as varint");
    assert_eq!(
        &body[7..9],
        &[0xB7, 0x17],
        "current -1500 zig-zag (2999) varint"
    );
    assert_eq!(&body[9..11], &[0xE9, 0x06], "soc 873 as varint");
    assert_eq!(&body[11..13], &[0x01, 24], "bound Some(24)");
    assert_eq!(&body[13..15], &[0xDD, 0x06], "usable soc 861 as varint");
    assert_eq!(body[15], 4, "four cell SOCs follow");
    let before_crc = &body[..body.len() - 2];
    assert_eq!(
        &before_crc[before_crc.len() - 22..],
        &[
            7, // events recorded
            0, // switches held open: false
            4, // four cells' resistances follow
            0xAD, 0x02, // 301 µΩ
            0xB2, 0x29, // 5298
            0,    // not yet learnt
            0xAB, 0x02, // 299
            4,    // four cells' capacities follow
            0xEB, 0x15, // 279.5 Ah
            0,    // not yet learnt
            0xAA, 0x0F, // 196.2 Ah
            0xF1, 0x15, // 280.1 Ah
            0x01, 0xFA, 0x01, // the bias's σ: Some(250 mA)
            1,    // charge standby: true, the last field
        ]
    );
}

/// `message` as a device of an older `version` sent it, read by this one: what that version
/// could not say is at its "nothing" — version 7 sent no charge standby, and a configuration
/// alone on its bus; version 6 no σ of the current bias; version 5 no
/// capacities; version 4 no resistances
/// either; version 3 no switches held open, and a configuration without the self-discharge
/// check (off).
fn as_sent_by(version: u8, message: DeviceMessage) -> DeviceMessage {
    match message {
        DeviceMessage::Telemetry(t) => DeviceMessage::Telemetry(Telemetry {
            switches_held_open: t.switches_held_open && version >= 4,
            cell_r0_micro_ohm: if version >= 5 {
                t.cell_r0_micro_ohm
            } else {
                Vec::new()
            },
            cell_capacity_deci_ah: if version >= 6 {
                t.cell_capacity_deci_ah
            } else {
                Vec::new()
            },
            current_bias_sigma_ma: t.current_bias_sigma_ma.filter(|_| version >= 7),
            charge_standby: false,
            ..t
        }),
        DeviceMessage::Config { request_id, config } => DeviceMessage::Config {
            request_id,
            config: PackConfig {
                self_discharge_warn_ma: if version >= 4 {
                    config.self_discharge_warn_ma
                } else {
                    0
                },
                self_discharge_trip_ma: if version >= 4 {
                    config.self_discharge_trip_ma
                } else {
                    0
                },
                shared_bus: false,
                ..config
            },
        },
        DeviceMessage::DeviceInfo(info) => DeviceMessage::DeviceInfo(DeviceInfo {
            protocol_version: version,
            ..info
        }),
        other => other,
    }
}

/// Recordings keep the bytes as they came: every device message of versions 3 to 7 (the
/// golden bytes frozen when each was current) still reads, as the message it was.
#[test]
fn older_device_messages_still_decode() {
    for version in [3_u8, 4, 5, 6, 7] {
        for (name, message) in device_messages() {
            if (version == 3 && NEW_IN_VERSION_4.contains(&name))
                || NEW_IN_VERSION_8.contains(&name)
            {
                continue;
            }
            let golden = std::fs::read(golden_path_of(version, name)).unwrap();
            assert_eq!(
                decode_frame::<DeviceMessage>(&golden[..golden.len() - 1]),
                Ok(as_sent_by(version, message)),
                "version {version}: {name}"
            );
        }
        // A device (which answers older hosts with a version mismatch) reads only its own.
        let golden = std::fs::read(golden_path_of(version, "hello")).unwrap();
        assert_eq!(
            decode_frame::<HostMessage>(&golden[..golden.len() - 1]),
            Err(Error::UnsupportedVersion { found: version })
        );
    }
    // Older than 3 is not read at all.
    let mut out = [0; MAX_FRAME_LEN];
    let n = encode_frame_with_version(2, &DeviceMessage::Telemetry(telemetry()), &mut out).unwrap();
    assert_eq!(
        decode_frame::<DeviceMessage>(&out[..n - 1]),
        Err(Error::UnsupportedVersion { found: 2 })
    );
}

/// An older report cut short by its last byte (version 3's events recorded, version 4's
/// switches held open, version 5's last resistance, version 6's last capacity, version 7's
/// σ of the bias) is malformed, not read as the next version's.
#[test]
fn a_truncated_older_report_is_rejected() {
    for version in [3_u8, 4, 5, 6, 7] {
        let golden = std::fs::read(golden_path_of(version, "telemetry")).unwrap();
        let mut body = golden[..golden.len() - 1].to_vec();
        let n = cobs_decode(&mut body);
        // Drop the last field (one byte) and re-frame with a fresh CRC.
        let payload = &body[1..n - 3];
        let mut out = [0; MAX_FRAME_LEN];
        let message: Result<DeviceMessage, _> = {
            let mut frame = vec![version];
            frame.extend_from_slice(payload);
            let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(&frame);
            frame.extend_from_slice(&crc.to_le_bytes());
            let len = cobs::try_encode(&frame, &mut out).unwrap();
            decode_frame(&out[..len])
        };
        assert_eq!(message, Err(Error::MalformedPayload), "version {version}");
    }
}

/// Minimal COBS decoder for the layout test, written independently of the crate under test.
fn cobs_decode(buf: &mut [u8]) -> usize {
    let mut out = std::vec::Vec::new();
    let mut i = 0;
    while i < buf.len() {
        let code = buf[i] as usize;
        out.extend_from_slice(&buf[i + 1..i + code]);
        i += code;
        if code < 0xFF && i < buf.len() {
            out.push(0);
        }
    }
    buf[..out.len()].copy_from_slice(&out);
    out.len()
}

#[test]
fn frames_after_garbage_are_recovered() {
    let info = DeviceMessage::DeviceInfo(device_info());
    let tele = DeviceMessage::Telemetry(telemetry());
    let mut stream = vec![0x12, 0x00, 0xFF, 0x13, 0x37, 0x42];
    stream.extend(encode(&tele));
    stream.extend([0x99; 40]);
    stream.push(0);
    stream.extend(encode(&info));
    let mut decoder = FrameDecoder::<DeviceMessage>::new();
    let mut ok = vec![];
    let mut rejected = 0;
    decoder.feed(&stream, |r| match r {
        Ok(m) => ok.push(m),
        Err(_) => rejected += 1,
    });
    // The bytes before the first frame glue onto it: that frame is lost, the rest survive.
    assert_eq!(ok, vec![info]);
    assert_eq!(rejected, 3);
}

#[test]
fn a_frame_split_at_every_byte_boundary_decodes() {
    let tele = DeviceMessage::Telemetry(telemetry());
    let frame = encode(&tele);
    for split in 0..frame.len() {
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut got = vec![];
        decoder.feed(&frame[..split], |r| got.push(r));
        decoder.feed(&frame[split..], |r| got.push(r));
        assert_eq!(got, vec![Ok(tele.clone())], "split at {split}");
    }
}

#[test]
fn a_host_frame_is_not_a_device_frame() {
    let frame = encode(&HostMessage::Hello { request_id: 1 });
    // Hello is variant 0 with a u16: as a DeviceMessage it is a truncated DeviceInfo.
    assert_eq!(
        decode_frame::<DeviceMessage>(&frame[..frame.len() - 1]),
        Err(Error::MalformedPayload)
    );
}

#[test]
fn an_old_host_is_told_which_versions_differ() {
    let mut out = [0; MAX_FRAME_LEN];
    let n = encode_frame_with_version(1, &HostMessage::Hello { request_id: 1 }, &mut out).unwrap();
    assert_eq!(
        decode_frame::<HostMessage>(&out[..n - 1]),
        Err(Error::UnsupportedVersion { found: 1 })
    );
    assert_eq!(
        Error::UnsupportedVersion { found: 1 }.to_string(),
        "frame has protocol version 1, this build speaks 8"
    );
}

fn engine() -> Engine {
    Engine::new(PackConfig::lfp_280ah(4), 500).unwrap()
}

fn replies(engine: &mut Engine, request: HostMessage) -> std::vec::Vec<DeviceMessage> {
    let mut out = vec![];
    respond(engine, &request, |m| out.push(m));
    out
}

#[test]
fn a_valid_configuration_write_is_acknowledged_and_confirmed() {
    let mut e = engine();
    let mut config = *e.config();
    config.balance_start_delta_mv = 30;
    let out = replies(
        &mut e,
        HostMessage::WriteConfig {
            request_id: 7,
            config,
        },
    );
    assert_eq!(
        out,
        vec![
            DeviceMessage::Ack {
                request_id: 7,
                result: AckResult::Ok
            },
            DeviceMessage::Config {
                request_id: 7,
                config
            },
        ]
    );
    assert_eq!(*e.config(), config);
}

#[test]
fn an_invalid_configuration_write_changes_nothing_and_returns_every_violation() {
    let mut e = engine();
    let before = *e.config();
    let mut config = before;
    config.capacity_mah = 0;
    config.fan_off_at_deci_c = 500;
    config.discharge_under_temperature.trip_release = -300;
    let out = replies(
        &mut e,
        HostMessage::WriteConfig {
            request_id: 8,
            config,
        },
    );
    assert_eq!(*e.config(), before);
    assert_eq!(
        out[0],
        DeviceMessage::Ack {
            request_id: 8,
            result: AckResult::ConfigRejected { count: 3 }
        }
    );
    let fields: std::vec::Vec<&str> = out[1..]
        .iter()
        .map(|m| match m {
            DeviceMessage::ConfigViolation { violation, .. } => violation.field.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            "capacity_mah",
            "discharge_under_temperature.trip_release",
            "fan_off_at_deci_c"
        ]
    );
    // And each reply fits a frame.
    for m in &out {
        encode(m);
    }
}

#[test]
fn commands_are_carried_out_and_acknowledged() {
    let mut e = engine();
    let healthy = Measurement::new(&[3_300; 4], 0)
        .unwrap()
        .with_temperatures(&[Some(250), Some(250)])
        .unwrap();
    let mut short = healthy.clone();
    short.short_circuit = true;
    e.step(&short, 100);
    let out = replies(
        &mut e,
        HostMessage::Command {
            request_id: 4,
            command: Command::SendEvents { since: 0 },
        },
    );
    assert!(matches!(
        out[0],
        DeviceMessage::Event {
            sequence: 0,
            event: Event {
                fault: Fault::ShortCircuit,
                ..
            }
        }
    ));
    assert_eq!(
        out.last(),
        Some(&DeviceMessage::Ack {
            request_id: 4,
            result: AckResult::Ok
        })
    );
    replies(
        &mut e,
        HostMessage::Command {
            request_id: 5,
            command: Command::ResetLatched,
        },
    );
    let mut o = e.step(&healthy, 100);
    for _ in 0..20 {
        o = e.step(&healthy, 100);
    }
    assert!(o.trips.is_empty() && o.charge_switch_on);
    replies(
        &mut e,
        HostMessage::Command {
            request_id: 6,
            command: Command::ForceSwitchesOff,
        },
    );
    let o = e.step(&healthy, 100);
    assert!(!o.charge_switch_on && !o.discharge_switch_on);
    assert!(
        o.switches_held_open,
        "the report says why the switches are open"
    );
    replies(
        &mut e,
        HostMessage::Command {
            request_id: 7,
            command: Command::ReleaseSwitches,
        },
    );
    let o = e.step(&healthy, 100);
    assert!(o.charge_switch_on && !o.switches_held_open);
    let out = replies(&mut e, HostMessage::ReadConfig { request_id: 9 });
    assert_eq!(
        out,
        vec![DeviceMessage::Config {
            request_id: 9,
            config: *e.config()
        }]
    );
}

proptest! {
    /// Arbitrary bytes never panic, and practically never decode into a message.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2_000)) {
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut decoded = 0;
        decoder.feed(&bytes, |r| if r.is_ok() { decoded += 1 });
        prop_assert!(decoded <= 1);
        let mut host = FrameDecoder::<HostMessage>::new();
        host.feed(&bytes, |_| {});
    }

    /// Truncated frames never yield a message.
    #[test]
    fn truncated_frames_never_decode(cut in 1_usize..60) {
        let frame = encode(&DeviceMessage::Telemetry(telemetry()));
        let cut = cut.min(frame.len() - 2);
        let mut truncated = frame[..frame.len() - 1 - cut].to_vec();
        truncated.push(0);
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut got = vec![];
        decoder.feed(&truncated, |r| got.push(r));
        prop_assert!(got.iter().all(|r| r.is_err()));
    }

    /// Any garbage followed by a delimiter and a valid frame yields that frame.
    #[test]
    fn valid_frames_after_garbage_are_recovered(
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        uptime in any::<u64>(),
        cells in proptest::collection::vec(any::<u16>(), 0..=32),
    ) {
        let mut t = telemetry();
        t.uptime_ms = uptime;
        t.cell_voltages_mv = Vec::from_slice(&cells).unwrap();
        let msg = DeviceMessage::Telemetry(t);
        let mut stream = garbage;
        stream.push(0);
        stream.extend(encode(&msg));
        let mut decoder = FrameDecoder::<DeviceMessage>::new();
        let mut last = None;
        decoder.feed(&stream, |r| last = Some(r));
        prop_assert_eq!(last, Some(Ok(msg)));
    }
}

#[test]
fn telemetry_says_what_the_inverter_is_told_over_can() {
    let mut t = telemetry();
    t.warning_bits = 0b1; // cell over-voltage warning
    let r = t.inverter_report();
    assert_eq!(r.charge_voltage_mv, 13_800);
    assert_eq!(r.soh_permille, 968);
    assert_eq!(
        r.mean_temperature_deci_c,
        Some(251),
        "the missing sensor is left out"
    );
    assert!(r.charge_enabled, "switch on and a charge limit above 0");
    assert!(!r.discharge_enabled, "switch off");
    assert!(r.alarms.contains(bms_engine::Fault::CellOverVoltage));
    let frames = bms_engine::can::pylontech_frames(&r);
    assert_eq!(frames[0].id, 0x351);
    assert_eq!(
        &frames[0].data[..2],
        &138_u16.to_le_bytes(),
        "13.8 V in 0.1 V"
    );
    let flags = frames[4].data[0];
    assert_eq!(
        flags & 0b1100_0000,
        0b1000_0000,
        "0x35C: charge enabled, discharge not"
    );
    assert_eq!(
        flags & 0b0010_0000 != 0,
        t.limits.force_charge_requested,
        "force-charge request I follows the limits"
    );
    let unknown = Telemetry {
        soh_permille: None,
        ..telemetry()
    };
    assert_eq!(
        unknown.inverter_report().soh_permille,
        1000,
        "100 % until estimated"
    );
}
