//! The configuration panel for a Cellsight device (or the emulated one, where a write is a dry
//! run): read the configuration, edit it with the engine's own checks, see what would change,
//! write it and see the device confirm it, back it up to a JSON file and restore it.

use crate::config_edit::{self, Change};
use crate::session::Session;
use crate::vendor::Protocol;
use bms_engine::PackConfig;
use bms_engine::protocol::AckResult;
use leptos::prelude::*;
use std::rc::Rc;

/// How long a device has to answer a request before the panel says it did not, ms.
const ANSWER_TIMEOUT_MS: u32 = 5_000;

/// The request waiting for an answer.
#[derive(Debug, Clone, PartialEq)]
enum Waiting {
    Read(u16),
    Write(u16, Box<PackConfig>),
}

/// The configuration panel.
#[component]
pub fn ConfigPanel(
    /// What the dashboard shows.
    session: RwSignal<Session>,
    /// Whether a real device is shown (else the emulated one).
    showing_device: RwSignal<bool>,
    /// Sends host bytes to whatever is shown.
    to_device: Rc<dyn Fn(Vec<u8>)>,
) -> impl IntoView {
    let draft = RwSignal::new(None::<PackConfig>);
    let field_errors = RwSignal::new(Vec::<(String, String)>::new());
    let waiting = RwSignal::new(None::<Waiting>);
    let message = RwSignal::new(None::<String>);
    let next_id = StoredValue::new(1_u16);
    let take_id = move || {
        let id = next_id.get_value();
        next_id.set_value(id.wrapping_add(1).max(1));
        id
    };
    // Memos: the session changes with every report, the configuration hardly ever, and the
    // diff below serialises both configurations.
    let exchange = Memo::new(move |_| session.with(|s| s.config.clone()));
    let device_config = move || exchange.with(|c| c.device);
    let cellsight = move || session.with(|s| s.protocol() == Some(Protocol::Cellsight));
    let target = move || {
        if showing_device.get() {
            "the device"
        } else {
            "the emulated pack"
        }
    };
    // Answers: a read fills the draft (unless the user is editing); a write is confirmed only
    // when the device acknowledges it and sends back exactly what was written.
    Effect::new(move |_| {
        let (config, answered, ack, violations) =
            exchange.with(|c| (c.device, c.answered, c.ack, c.violations.clone()));
        match waiting.get_untracked() {
            Some(Waiting::Read(id)) if answered == Some(id) => {
                waiting.set(None);
                draft.set(config);
                field_errors.set(Vec::new());
                message.set(Some(format!(
                    "Read from {}: {} settings.",
                    target(),
                    config.map_or(0, |c| config_edit::fields(&c).len())
                )));
            }
            Some(Waiting::Write(id, wanted)) => match ack {
                Some((acked, AckResult::Ok)) if acked == id && answered == Some(id) => {
                    waiting.set(None);
                    message.set(Some(if config == Some(*wanted) {
                        format!("Written and confirmed: {} now reports exactly this configuration.", target())
                    } else {
                        format!("Written, but {} reports a different configuration: read it again and compare.", target())
                    }));
                }
                Some((acked, AckResult::ConfigRejected { count }))
                    if acked == id && violations.len() >= usize::from(count) =>
                {
                    waiting.set(None);
                    let rules = violations
                        .iter()
                        .map(|(f, r)| format!("{f}: {r}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    message.set(Some(format!(
                        "Refused by {}, nothing changed: {rules}.",
                        target()
                    )));
                }
                Some((acked, other))
                    if acked == id && !matches!(other, AckResult::ConfigRejected { .. }) =>
                {
                    waiting.set(None);
                    message.set(Some(format!(
                        "{} answered {other:?}; nothing changed.",
                        target()
                    )));
                }
                _ => {}
            },
            _ => {}
        }
    });
    let send = {
        let to_device = to_device.clone();
        move |request: Waiting, bytes: Vec<u8>| {
            waiting.set(Some(request.clone()));
            to_device(bytes);
            gloo::timers::callback::Timeout::new(ANSWER_TIMEOUT_MS, move || {
                if waiting.get_untracked().as_ref() == Some(&request) {
                    waiting.set(None);
                    message.set(Some(format!(
                        "No answer from {} within {} s: is it a Cellsight device, and connected?",
                        target(),
                        ANSWER_TIMEOUT_MS / 1000
                    )));
                }
            })
            .forget();
        }
    };
    let read = {
        let send = send.clone();
        move |_| {
            let id = take_id();
            message.set(Some(format!("Asking {} for its configuration…", target())));
            send(Waiting::Read(id), config_edit::read_request(id));
        }
    };
    let changes_memo = Memo::new(move |_| -> Vec<Change> {
        match (device_config(), draft.get()) {
            (Some(device), Some(draft)) => config_edit::diff(&device, &draft),
            _ => Vec::new(),
        }
    });
    let changes = move || changes_memo.get();
    let broken_memo = Memo::new(move |_| {
        draft
            .get()
            .map(|d| config_edit::violations(&d))
            .unwrap_or_default()
    });
    let broken = move || broken_memo.get();
    let can_write = move || {
        waiting.get().is_none()
            && !changes().is_empty()
            && broken().is_empty()
            && field_errors.with(Vec::is_empty)
    };
    let write = {
        let send = send.clone();
        move |_| {
            let Some(wanted) = draft.get_untracked() else {
                return;
            };
            let n = changes().len();
            let question = format!(
                "Write {n} change(s) to {}? It applies them at once.",
                target()
            );
            let agreed = crate::js::confirm(&question);
            if !agreed {
                return;
            }
            let id = take_id();
            message.set(Some(format!("Writing to {}…", target())));
            send(
                Waiting::Write(id, Box::new(wanted)),
                config_edit::write_request(id, wanted),
            );
        }
    };
    let revert = move |_| {
        draft.set(device_config());
        field_errors.set(Vec::new());
    };
    let backup = move |_| {
        let Some(config) = device_config() else {
            return;
        };
        let source = session.with(|s| {
            s.device.as_ref().map_or_else(
                || "a Cellsight device".to_owned(),
                |d| {
                    format!(
                        "{} ({}, {} cells)",
                        d.firmware.as_str(),
                        if d.emulated { "emulated" } else { "device" },
                        d.cell_count
                    )
                },
            )
        });
        let text = config_edit::backup(&config, &source);
        message.set(Some(
            match crate::store::download(
                "cellsight-configuration.json",
                "application/json",
                text.as_bytes(),
            ) {
                Ok(()) => "Backed up to cellsight-configuration.json.".to_owned(),
                Err(e) => format!("The backup could not be saved: {e}."),
            },
        ));
    };
    let restore = move |ev: leptos::ev::Event| {
        let Some(file) = ev
            .target()
            .and_then(|t| crate::js::get(&t, "files"))
            .map(|files| js_sys::Array::from(&files).get(0))
            .filter(|f| !f.is_undefined())
        else {
            return;
        };
        let name = crate::js::get(&file, "name")
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        leptos::task::spawn_local(async move {
            let text = crate::js::call(&file, "text", &[])
                .await
                .ok()
                .and_then(|t| t.as_string());
            match text.map(|t| config_edit::restore(&t)) {
                Some(Ok(config)) => {
                    draft.set(Some(config));
                    field_errors.set(Vec::new());
                    message.set(Some(format!(
                        "Restored {name} into the editor: check the changes below, then write."
                    )));
                }
                Some(Err(e)) => message.set(Some(format!(
                    "{name} was not restored: {e}. Nothing changed."
                ))),
                None => message.set(Some(format!("{name} could not be read."))),
            }
        });
    };
    let edit = move |path: String, text: String| {
        let Some(current) = draft.get_untracked() else {
            return;
        };
        match config_edit::edit(&current, &path, &text) {
            Ok(next) => {
                draft.set(Some(next));
                field_errors.update(|e| e.retain(|(p, _)| *p != path));
            }
            Err(why) => field_errors.update(|e| {
                e.retain(|(p, _)| *p != path);
                e.push((path, why));
            }),
        }
    };
    let field_rows = move || {
        draft
            .get()
            .map(|d| config_edit::fields(&d))
            .unwrap_or_default()
    };
    view! {
        <section class="card console config" aria-label="Configuration" data-testid="config"
            style:display=move || if cellsight() { "" } else { "none" }>
            <h2>"Configuration"</h2>
            <p class="note">{move || if showing_device.get() {
                "The connected device's settings. To try a change first, go back to the emulator: this draft stays, and Write sends it to the emulated pack (a dry run) while a scenario runs."
            } else {
                "The emulated pack's settings: a write here is a dry run: run a scenario with it, then connect your device and write the same draft (or restore its backup)."
            }}</p>
            <div class="console-row">
                <button data-testid="config-read" on:click=read disabled=move || waiting.get().is_some()>"Read the configuration"</button>
                <button data-testid="config-write" on:click=write disabled=move || !can_write()>"Write the changes…"</button>
                <button data-testid="config-revert" on:click=revert disabled=move || changes().is_empty()>"Undo the changes"</button>
                <button data-testid="config-backup" on:click=backup disabled=move || device_config().is_none()>"Back up to a file"</button>
                <label class="file-button">"Restore from a file "
                    <input type="file" accept=".json,application/json" data-testid="config-restore" on:change=restore/>
                </label>
            </div>
            <p class="console-message" role="status" data-testid="config-status">{move || message.get()}</p>
            {move || draft.get().is_some().then(|| view! {
                <div class="config-diff" data-testid="config-diff">
                    {move || {
                        let list = changes();
                        if list.is_empty() {
                            view! { <p class="quiet">{format!("No changes: the draft is what {} has.", target())}</p> }.into_any()
                        } else {
                            view! {
                                <ul>
                                    {list.into_iter().map(|c| view! {
                                        <li>
                                            {config_edit::describe(&c.path).map(|d| format!("{d} "))}
                                            <code>{c.path}</code>": "{c.before}" → "<strong>{c.after}</strong>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }}
                </div>
            })}
            {move || {
                let problems: Vec<String> = field_errors
                    .get()
                    .into_iter()
                    .map(|(_, why)| why)
                    .chain(broken().into_iter().map(|(f, r)| format!("{f}: {r}")))
                    .collect();
                (!problems.is_empty()).then(|| view! {
                    <ul class="error" role="alert" data-testid="config-violations">
                        {problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                    </ul>
                })
            }}
            {move || draft.get().is_some().then(|| view! {
                <details class="config-fields">
                    <summary>{move || format!("All settings ({})", field_rows().len())}</summary>
                    {move || {
                        let fields = field_rows();
                        let (rows, groups) = config_edit::layout(&fields);
                        let input = move |f: config_edit::Field, label: String| {
                            let path = f.path.clone();
                            view! {
                                <input data-testid=format!("config-field-{}", f.path) value=f.value
                                    disabled=!f.editable aria-label=label
                                    on:change=move |ev| edit(path.clone(), event_target_value(&ev))/>
                            }
                        };
                        view! {
                            <h3>"Protection limits"</h3>
                            <p class="quiet">
                                "Warning: reported, nothing switched. Derate: the limits told to the inverter are reduced. "
                                "Trip: the switches open, and close again once the value has stayed past the trip release "
                                "for the release delay. Warning and derate clear past their level by the hysteresis."
                            </p>
                            <div class="limit-table-wrap">
                                <table class="limit-table" data-testid="config-limits">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Limit"</th>
                                            {config_edit::LIMIT_COLUMNS.iter().map(|&(column, heading)| {
                                                let unit = if column.ends_with("_ms") { " (ms)" } else { "" };
                                                view! { <th scope="col">{heading}{unit}</th> }
                                            }).collect_view()}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows.into_iter().map(|row| {
                                            let label = row.label;
                                            let unit = row.unit;
                                            view! {
                                                <tr>
                                                    <th scope="row">
                                                        {label}" ("{unit}")"
                                                        <code class="config-path">{row.path}</code>
                                                    </th>
                                                    {row.fields.into_iter().zip(config_edit::LIMIT_COLUMNS).map(|(f, (_, heading))| {
                                                        view! { <td>{f.map(|f| input(f, format!("{label}: {heading}")))}</td> }
                                                    }).collect_view()}
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {groups.into_iter().map(|g| view! {
                                <h3>{g.title}</h3>
                                <div class="config-grid">
                                    {g.fields.into_iter().map(|(label, f)| {
                                        let unit = config_edit::unit(&f.path);
                                        let path = f.path.clone();
                                        view! {
                                            <label class="config-field">
                                                <span class="config-label">{label.clone()}<code class="config-path">{path}</code></span>
                                                {input(f, label)}
                                                <span class="unit">{unit}</span>
                                            </label>
                                        }
                                    }).collect_view()}
                                </div>
                            }).collect_view()}
                        }
                    }}
                </details>
            })}
        </section>
    }
}
