//! Editing a Cellsight device's configuration: every setting as a field with its unit, an
//! edit checked as the engine checks it (the engine's own `violations`), the changes against
//! what the device has, and a backup file that restores only when it is a whole, valid
//! configuration. Plain Rust, tested natively; the panel is in `config_panel.rs`.

use bms_engine::PackConfig;
use bms_engine::protocol::{HostMessage, MAX_FRAME_LEN, encode_frame};
use serde_json::Value;

/// What a backup file says it is.
pub const BACKUP_KIND: &str = "cellsight-configuration";
/// The backup format's version.
pub const BACKUP_VERSION: u64 = 1;

/// One setting: where it is (`cell_over_voltage.trip`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Dotted path, as the engine names fields in its rules.
    pub path: String,
    /// The value as text.
    pub value: String,
    /// Whether it can be edited here (numbers and yes/no; a hardware kind cannot).
    pub editable: bool,
}

/// One difference between two configurations.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Dotted path.
    pub path: String,
    /// The value before, as text (with its unit).
    pub before: String,
    /// The value after, as text (with its unit).
    pub after: String,
}

fn json(config: &PackConfig) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

/// Every setting of `config`, by path in alphabetical order.
pub fn fields(config: &PackConfig) -> Vec<Field> {
    let mut out = Vec::new();
    flatten("", &json(config), &mut out);
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<Field>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&join(key), v, out);
            }
        }
        Value::Number(n) => out.push(Field {
            path: prefix.to_owned(),
            value: n.to_string(),
            editable: true,
        }),
        Value::Bool(b) => out.push(Field {
            path: prefix.to_owned(),
            value: b.to_string(),
            editable: true,
        }),
        other => out.push(Field {
            path: prefix.to_owned(),
            value: other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned),
            editable: false,
        }),
    }
}

/// The unit a setting is in, from its name (the engine's fields end in their unit; a graded
/// limit is in its parent's unit).
pub fn unit(path: &str) -> &'static str {
    let parent_unit = |p: &str| -> &'static str {
        match p {
            "cell_over_voltage" | "cell_under_voltage" | "pack_over_voltage"
            | "pack_under_voltage" | "cell_imbalance" => "mV",
            "charge_over_current" | "discharge_over_current" => "mA",
            p if p.ends_with("temperature") => "0.1 °C",
            _ => "",
        }
    };
    let last = path.rsplit('.').next().unwrap_or(path);
    if last.ends_with("_ms") {
        return "ms";
    }
    for (suffix, unit) in [
        ("_mv", "mV"),
        ("_mah", "mAh"),
        ("_ma", "mA"),
        ("_us", "µs"),
        ("_deci_c", "0.1 °C"),
        ("_permille", "‰"),
    ] {
        if last.ends_with(suffix) {
            return unit;
        }
    }
    match path.split_once('.') {
        Some((parent, _)) => parent_unit(parent),
        None => "",
    }
}

/// The graded limits, in the order a protection table reads: voltages, currents,
/// temperatures, balance. Each is a row of the settings' limit table.
pub const LIMITS: [(&str, &str); 11] = [
    ("cell_over_voltage", "Cell over-voltage"),
    ("cell_under_voltage", "Cell under-voltage"),
    ("pack_over_voltage", "Pack over-voltage"),
    ("pack_under_voltage", "Pack under-voltage"),
    ("charge_over_current", "Charge current"),
    ("discharge_over_current", "Discharge current"),
    ("charge_over_temperature", "Too hot to charge"),
    ("charge_under_temperature", "Too cold to charge"),
    ("discharge_over_temperature", "Too hot to run"),
    ("discharge_under_temperature", "Too cold to discharge"),
    ("cell_imbalance", "Cell imbalance (highest − lowest)"),
];

/// A graded limit's fields: the columns of the limit table, with their headings.
pub const LIMIT_COLUMNS: [(&str, &str); 8] = [
    ("warn", "Warning"),
    ("derate", "Derate"),
    ("trip", "Trip"),
    ("trip_release", "Trip release"),
    ("hysteresis", "Hysteresis"),
    ("warn_delay_ms", "Warn delay"),
    ("trip_delay_ms", "Trip delay"),
    ("release_delay_ms", "Release delay"),
];

/// The other settings, by group, each with what it means in words. A path not listed here
/// still shows (in "Other"), under its own name.
const GROUPS: [(&str, &[(&str, &str)]); 8] = [
    (
        "Pack",
        &[
            ("cell_count", "Series cells"),
            ("temperature_count", "Temperature sensors"),
            ("capacity_mah", "Nominal capacity"),
            ("cell_voltage_max_mv", "Cell absolute maximum (datasheet)"),
            ("cell_voltage_min_mv", "Cell absolute minimum (datasheet)"),
        ],
    ),
    (
        "Charging and discharging (told to the inverter)",
        &[
            ("absorption_cell_mv", "Charge target per cell (absorption)"),
            (
                "absorption_tail_current_ma",
                "Absorption ends below this current",
            ),
            (
                "absorption_tail_ms",
                "Absorption ends after this long below it",
            ),
            ("float_cell_mv", "Float voltage per cell"),
            (
                "float_exit_soc_permille",
                "Back to absorption below this SOC",
            ),
            ("discharge_cell_mv", "Discharge voltage limit per cell"),
            ("max_charge_current_ma", "Largest charge current"),
            ("max_discharge_current_ma", "Largest discharge current"),
        ],
    ),
    (
        "Balancing",
        &[
            ("balance_min_cell_mv", "Balance only cells at or above"),
            (
                "balance_start_delta_mv",
                "Balance a cell this far above the lowest",
            ),
            ("balance_stop_delta_mv", "Stop balancing it within"),
            ("rest_current_ma", "At rest below this current"),
            ("rest_time_ms", "At rest after this long"),
            (
                "balance_max_temperature_deci_c",
                "No balancing with a sensor at or above",
            ),
            (
                "balancer.Passive.bleed_current_ma",
                "Bleed current per cell",
            ),
            (
                "balancer.Passive.max_channels",
                "Most cells bleeding at once",
            ),
            (
                "balancer.Passive.no_adjacent",
                "Never two neighbours at once",
            ),
            ("balancer.Active.max_current_ma", "Largest transfer current"),
            ("balancer", "Balancer"),
        ],
    ),
    (
        "Heater and fan",
        &[
            ("heater_on_below_deci_c", "Heater on below"),
            ("heater_off_at_deci_c", "Heater off at"),
            ("fan_on_above_deci_c", "Fan on above"),
            ("fan_off_at_deci_c", "Fan off at"),
        ],
    ),
    (
        "Switches",
        &[
            (
                "switches.Contactor.voltage_match_mv",
                "Pre-charge must match the pack within",
            ),
            (
                "switches.Contactor.precharge_timeout_ms",
                "Pre-charge fails after",
            ),
            ("switches", "Switches"),
            (
                "shared_bus",
                "Other packs share the bus (open the charge switch while full)",
            ),
        ],
    ),
    (
        "Sensor and hardware faults",
        &[
            ("short_circuit_current_ma", "Short circuit at (front end)"),
            ("short_circuit_delay_us", "Short-circuit delay (front end)"),
            ("open_wire_mv", "Open sense wire below"),
            ("cell_reading_max_mv", "Cell reading out of range above"),
            (
                "temperature_reading_limit_deci_c",
                "Temperature out of range beyond ±",
            ),
            (
                "pack_voltage_mismatch_mv",
                "Pack voltage may differ from the cells' sum by",
            ),
            (
                "temperature_disagreement_deci_c",
                "Temperature sensors may differ by",
            ),
            ("stuck_sensor_ms", "Stuck sensor after (0: off)"),
            ("afe_timeout_ms", "Front end lost after"),
        ],
    ),
    (
        "Self-discharge check (internal short)",
        &[
            (
                "self_discharge_warn_ma",
                "Warn when a cell loses more than the others by (0: off)",
            ),
            (
                "self_discharge_trip_ma",
                "Stop charging when it loses more by (0: off)",
            ),
        ],
    ),
    (
        "Repeated trips",
        &[
            ("repeat_trip_count", "Latch a fault after this many trips"),
            ("repeat_window_ms", "Trips counted within"),
        ],
    ),
];

/// What the setting at `path` means, in words ("Cell over-voltage: Trip"), if this page knows.
pub fn describe(path: &str) -> Option<String> {
    if let Some((parent, column)) = path.split_once('.')
        && let Some(&(_, limit)) = LIMITS.iter().find(|(p, _)| *p == parent)
    {
        let (_, heading) = LIMIT_COLUMNS.iter().find(|(c, _)| *c == column)?;
        return Some(format!("{limit}: {heading}"));
    }
    GROUPS
        .iter()
        .flat_map(|(_, entries)| entries.iter())
        .find(|(p, _)| *p == path)
        .map(|(_, label)| (*label).to_owned())
}

/// One row of the limit table: a graded limit's name, unit and fields in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitRow {
    /// The limit's path, `cell_over_voltage`.
    pub path: &'static str,
    /// What it limits, in words.
    pub label: &'static str,
    /// The unit of its thresholds (its delays are in ms).
    pub unit: &'static str,
    /// Its fields, in the order of [`LIMIT_COLUMNS`] (`None` where a column is missing).
    pub fields: Vec<Option<Field>>,
}

/// A titled group of settings, each with its meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's heading.
    pub title: &'static str,
    /// Its settings with their meanings in words.
    pub fields: Vec<(String, Field)>,
}

/// `fields` laid out for reading: the graded limits as a table, the rest in groups. Every
/// field lands in exactly one place; one this code does not know goes to "Other" under its
/// path, so a new setting is never hidden.
pub fn layout(fields: &[Field]) -> (Vec<LimitRow>, Vec<Group>) {
    let mut placed = vec![false; fields.len()];
    let mut take = |path: &str| {
        let i = fields.iter().position(|f| f.path == path)?;
        placed[i] = true;
        fields.get(i).cloned()
    };
    let rows = LIMITS
        .iter()
        .map(|&(path, label)| LimitRow {
            path,
            label,
            unit: unit(&format!("{path}.trip")),
            fields: LIMIT_COLUMNS
                .iter()
                .map(|(column, _)| take(&format!("{path}.{column}")))
                .collect(),
        })
        .filter(|row| row.fields.iter().any(Option::is_some))
        .collect();
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|&(title, entries)| Group {
            title,
            fields: entries
                .iter()
                .filter_map(|&(path, label)| take(path).map(|f| (label.to_owned(), f)))
                .collect(),
        })
        .filter(|g| !g.fields.is_empty())
        .collect();
    let other: Vec<(String, Field)> = fields
        .iter()
        .zip(&placed)
        .filter(|(_, placed)| !**placed)
        .map(|(f, _)| (f.path.clone(), f.clone()))
        .collect();
    if !other.is_empty() {
        groups.push(Group {
            title: "Other",
            fields: other,
        });
    }
    (rows, groups)
}

/// `config` with the setting at `path` set to `text`; an error in words when `text` is not a
/// value that setting can hold (nothing changes then).
pub fn edit(config: &PackConfig, path: &str, text: &str) -> Result<PackConfig, String> {
    let mut value = json(config);
    let mut slot = &mut value;
    for key in path.split('.') {
        slot = slot
            .get_mut(key)
            .ok_or_else(|| format!("there is no setting `{path}`"))?;
    }
    let text = text.trim();
    *slot = match slot {
        Value::Bool(_) => match text {
            "true" | "yes" => Value::Bool(true),
            "false" | "no" => Value::Bool(false),
            _ => return Err(format!("{path}: `{text}` is not yes or no")),
        },
        Value::Number(_) => {
            let n: i64 = text
                .parse()
                .map_err(|_| format!("{path}: `{text}` is not a whole number"))?;
            Value::from(n)
        }
        _ => return Err(format!("{path} cannot be edited here")),
    };
    serde_json::from_value(value).map_err(|e| {
        // serde says e.g. "invalid value: integer `70000`, expected u16".
        let why = e.to_string();
        let range = [
            ("u8", "0 to 255"),
            ("u16", "0 to 65 535"),
            ("u32", "0 to 4 294 967 295"),
            ("i16", "−32 768 to 32 767"),
            ("i32", "−2 147 483 648 to 2 147 483 647"),
        ]
        .iter()
        .find(|(t, _)| why.ends_with(&format!("expected {t}")))
        .map_or(why.clone(), |(_, r)| format!("must be from {r}"));
        format!("{path}: `{text}` {range}")
    })
}

/// The rules `config` breaks, as the engine checks them: (field, rule).
pub fn violations(config: &PackConfig) -> Vec<(String, String)> {
    config
        .violations()
        .iter()
        .map(|v| (v.field.to_owned(), v.rule.to_owned()))
        .collect()
}

/// What differs from `before` to `after`, setting by setting.
pub fn diff(before: &PackConfig, after: &PackConfig) -> Vec<Change> {
    let (a, b) = (fields(before), fields(after));
    let with_unit = |f: &Field| {
        let unit = unit(&f.path);
        if unit.is_empty() {
            f.value.clone()
        } else {
            format!("{} {unit}", f.value)
        }
    };
    let mut changes: Vec<Change> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.path == y.path && x.value != y.value)
        .map(|(x, y)| Change {
            path: x.path.clone(),
            before: with_unit(x),
            after: with_unit(y),
        })
        .collect();
    // A hardware kind that changed shape (e.g. FETs to a contactor) changes its fields.
    if a.len() != b.len() || a.iter().zip(&b).any(|(x, y)| x.path != y.path) {
        changes.retain(|c| !c.path.starts_with("switches") && !c.path.starts_with("balancer"));
        for part in ["switches", "balancer"] {
            let text = |fs: &[Field]| {
                fs.iter()
                    .filter(|f| f.path.starts_with(part))
                    .map(|f| format!("{}={}", f.path, f.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (x, y) = (text(&a), text(&b));
            if x != y {
                changes.push(Change {
                    path: part.to_owned(),
                    before: x,
                    after: y,
                });
            }
        }
    }
    changes
}

/// A backup file of `config` read from `source` (pretty JSON).
pub fn backup(config: &PackConfig, source: &str) -> String {
    let doc = serde_json::json!({
        "kind": BACKUP_KIND,
        "version": BACKUP_VERSION,
        "source": source,
        "config": config,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The configuration in a backup file; an error that says what and where when the file is not
/// one, is damaged, or holds a configuration the engine would refuse.
pub fn restore(text: &str) -> Result<PackConfig, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a JSON file: {} at line {}, column {}",
            reason(&e),
            e.line(),
            e.column()
        )
    })?;
    if doc.get("kind").and_then(Value::as_str) != Some(BACKUP_KIND) {
        return Err(format!(
            "not a Cellsight configuration backup (no \"kind\": \"{BACKUP_KIND}\")"
        ));
    }
    match doc.get("version").and_then(Value::as_u64) {
        Some(BACKUP_VERSION) => {}
        other => {
            return Err(format!(
                "backup version {} is not one this dashboard reads (it reads {BACKUP_VERSION})",
                other.map_or("missing".to_owned(), |v| v.to_string())
            ));
        }
    }
    let config = doc.get("config").ok_or("the backup holds no \"config\"")?;
    let config: PackConfig = serde_json::from_value(config.clone())
        .map_err(|e| format!("the configuration in the backup is incomplete or wrong: {e}"))?;
    if let Some((field, rule)) = violations(&config).into_iter().next() {
        return Err(format!(
            "the configuration in the backup breaks a rule the engine checks: {field}: {rule}"
        ));
    }
    Ok(config)
}

/// Why JSON could not be read, in words.
fn reason(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "it ends too soon",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a wrong value",
        serde_json::error::Category::Io => "it could not be read",
    }
}

/// The frame asking a device for its configuration.
pub fn read_request(request_id: u16) -> Vec<u8> {
    frame(&HostMessage::ReadConfig { request_id })
}

/// The frame writing `config` to a device.
pub fn write_request(request_id: u16, config: PackConfig) -> Vec<u8> {
    frame(&HostMessage::WriteConfig { request_id, config })
}

/// The frame sending `command` to a device.
pub fn command_request(request_id: u16, command: bms_engine::protocol::Command) -> Vec<u8> {
    frame(&HostMessage::Command {
        request_id,
        command,
    })
}

fn frame(message: &HostMessage) -> Vec<u8> {
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let len = encode_frame(message, &mut buffer).unwrap_or(0);
    buffer.get(..len).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator::{EmulatedDevice, Scenario, SimulationConfig};

    fn config() -> PackConfig {
        EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 1, 16))
            .unwrap()
            .simulation()
            .engine()
            .config()
            .to_owned()
    }

    #[test]
    fn every_setting_is_a_field_with_its_unit() {
        let fs = fields(&config());
        assert!(fs.len() > 60, "{}", fs.len());
        let trip = fs
            .iter()
            .find(|f| f.path == "cell_over_voltage.trip")
            .unwrap();
        assert!(trip.editable);
        assert_eq!(unit("cell_over_voltage.trip"), "mV");
        assert_eq!(unit("cell_over_voltage.trip_delay_ms"), "ms");
        assert_eq!(unit("charge_under_temperature.warn"), "0.1 °C");
        assert_eq!(unit("capacity_mah"), "mAh");
        assert_eq!(unit("float_exit_soc_permille"), "‰");
    }

    #[test]
    fn every_setting_is_laid_out_once_in_words_whatever_the_hardware() {
        let contactor = EmulatedDevice::new(SimulationConfig::new(Scenario::ContactorRack, 1, 16))
            .unwrap()
            .simulation()
            .engine()
            .config()
            .to_owned();
        let active = PackConfig {
            balancer: bms_engine::BalancerKind::Active {
                max_current_ma: 2_000,
            },
            ..config()
        };
        for c in [config(), contactor, active] {
            let fs = fields(&c);
            let (rows, groups) = layout(&fs);
            let mut shown: Vec<&str> = rows
                .iter()
                .flat_map(|r| r.fields.iter().flatten())
                .chain(groups.iter().flat_map(|g| g.fields.iter().map(|(_, f)| f)))
                .map(|f| f.path.as_str())
                .collect();
            shown.sort_unstable();
            let mut all: Vec<&str> = fs.iter().map(|f| f.path.as_str()).collect();
            all.sort_unstable();
            assert_eq!(shown, all, "each setting exactly once");
            assert_eq!(rows.len(), LIMITS.len());
            assert!(rows.iter().all(|r| r.fields.iter().all(Option::is_some)));
            assert!(
                groups.iter().all(|g| g.title != "Other"),
                "a setting without words: {:?}",
                groups.last()
            );
        }
        assert_eq!(
            describe("cell_over_voltage.trip").as_deref(),
            Some("Cell over-voltage: Trip")
        );
        assert_eq!(
            describe("balance_min_cell_mv").as_deref(),
            Some("Balance only cells at or above")
        );
        assert_eq!(describe("new_setting_mv"), None);
        let (rows, _) = layout(&fields(&config()));
        assert_eq!(rows[0].label, "Cell over-voltage");
        assert_eq!(rows[0].unit, "mV");
        assert_eq!(rows[8].unit, "0.1 °C");
        // A setting this page does not know yet is still shown, under its path.
        let mut fs = fields(&config());
        fs.push(Field {
            path: "new_setting_mv".to_owned(),
            value: "1".to_owned(),
            editable: true,
        });
        let (_, groups) = layout(&fs);
        let other = groups.last().unwrap();
        assert_eq!(other.title, "Other");
        assert_eq!(other.fields[0].0, "new_setting_mv");
    }

    #[test]
    fn an_edit_is_checked_like_the_engine_checks_it_and_shows_as_a_change() {
        let before = config();
        let after = edit(&before, "cell_over_voltage.trip", "3640").unwrap();
        assert_eq!(after.cell_over_voltage.trip, 3640);
        assert!(violations(&after).is_empty());
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "cell_over_voltage.trip");
        assert!(changes[0].after == "3640 mV", "{:?}", changes[0]);
        // Beyond the cell's absolute maximum: the engine's own rule says no.
        let unsafe_trip = edit(&before, "cell_over_voltage.trip", "3900").unwrap();
        let broken = violations(&unsafe_trip);
        assert!(
            broken
                .iter()
                .any(|(f, _)| f.starts_with("cell_over_voltage")),
            "{broken:?}"
        );
        // Values the setting cannot hold never become a configuration.
        let e = edit(&before, "cell_count", "300").unwrap_err();
        assert!(e.contains("cell_count") && e.contains("0 to 255"), "{e}");
        assert!(
            edit(&before, "capacity_mah", "lots")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(edit(&before, "no_such", "1").is_err());
    }

    #[test]
    fn a_backup_restores_and_a_bad_file_says_what_and_where() {
        let c = config();
        let text = backup(&c, "device over Web Serial");
        assert_eq!(restore(&text), Ok(c));
        let cut = &text[..text.len() / 2];
        let e = restore(cut).unwrap_err();
        assert!(e.contains("line") && e.contains("column"), "{e}");
        let e = restore("{\"kind\": \"something else\"}").unwrap_err();
        assert!(e.contains("not a Cellsight configuration backup"), "{e}");
        let wrong = text.replace(
            &format!("\"cell_count\": {}", c.cell_count),
            "\"cell_count\": -1",
        );
        assert!(restore(&wrong).unwrap_err().contains("incomplete or wrong"));
        let unsafe_one = backup(&edit(&c, "cell_over_voltage.trip", "3900").unwrap(), "x");
        assert!(restore(&unsafe_one).unwrap_err().contains("breaks a rule"));
        // A backup from before `shared_bus` (protocol v8) restores as a pack alone on its bus.
        let shared = PackConfig {
            shared_bus: true,
            ..c
        };
        let text = backup(&shared, "x");
        assert_eq!(restore(&text), Ok(shared));
        let older = text.replace(",\n    \"shared_bus\": true", "");
        assert!(!older.contains("shared_bus"), "{older}");
        assert_eq!(restore(&older), Ok(c));
    }

    #[test]
    fn requests_round_trip_through_the_emulated_device() {
        let mut dev =
            EmulatedDevice::new(SimulationConfig::new(Scenario::SolarDay, 1, 16)).unwrap();
        let mut session = crate::session::Session::default();
        session.ingest(&dev.hello(), 0.0);
        session.ingest(&dev.receive(&read_request(7)), 1.0);
        let read = session.config.device.unwrap();
        assert_eq!(session.config.answered, Some(7));
        let wanted = edit(
            &read,
            "balance_start_delta_mv",
            &(read.balance_start_delta_mv + 5).to_string(),
        )
        .unwrap();
        session.ingest(&dev.receive(&write_request(8, wanted)), 2.0);
        assert_eq!(session.config.device, Some(wanted));
        assert_eq!(
            session.config.ack,
            Some((8, bms_engine::protocol::AckResult::Ok))
        );
        // A write the engine refuses changes nothing and says why.
        let bad = edit(&wanted, "cell_over_voltage.trip", "3900").unwrap();
        session.ingest(&dev.receive(&write_request(9, bad)), 3.0);
        assert!(matches!(
            session.config.ack,
            Some((9, bms_engine::protocol::AckResult::ConfigRejected { .. }))
        ));
        assert!(!session.config.violations.is_empty());
        assert_eq!(dev.simulation().engine().config(), &wanted);
    }
}
