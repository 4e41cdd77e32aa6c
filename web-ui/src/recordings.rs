//! Recording every session as it happens, and the panel that lists, exports, replays and
//! deletes recordings. Received bytes are written to IndexedDB every [`FLUSH_MILLIS`], so a
//! reload or a crashed tab loses at most that much. When storage is full, recording pauses, says
//! so, and keeps what arrives in memory until the user frees space: nothing is ever pruned
//! without being asked.

use crate::recording::{Recorder, RecordingMeta, Replay, to_csv};
use crate::session::Ingested;
use crate::store::{RecordingStore, StoreError, download, storage_estimate};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::rc::Rc;

/// How often received bytes are written, ms.
pub const FLUSH_MILLIS: u32 = 2_000;

/// Most bytes held in memory while storage is full (then the oldest waiting bytes are kept and
/// newer ones are not recorded, and the panel says so).
const MAX_WAITING_BYTES: usize = 32 << 20;

/// Where this session's recording stands, for the panel.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordingStatus {
    /// Opening storage.
    Starting,
    /// Recording; the description as last stored.
    Recording(RecordingMeta),
    /// A write was refused (storage full): recording paused, `waiting` bytes held in memory.
    Full {
        /// The recording.
        meta: RecordingMeta,
        /// Bytes received and not stored yet.
        waiting: usize,
        /// Bytes that could not be kept at all.
        lost: usize,
        /// What the browser said.
        message: String,
    },
    /// Recording is impossible here (storage disabled or broken).
    Failed(String),
    /// Playing a recording back: nothing new is recorded.
    Replaying,
    /// What is shown cannot be recorded, and why.
    Off(String),
}

#[derive(Debug, Default)]
struct State {
    store: Option<Rc<RecordingStore>>,
    recorder: Option<Recorder>,
    /// Bytes received before the recording was created, and what they held.
    early: Vec<u8>,
    early_held: Ingested,
    /// Playing a recording back: nothing is recorded.
    replaying: bool,
    source: String,
    /// A recording is being created.
    beginning: bool,
    sequence: u32,
    writing: bool,
    full: bool,
    lost: usize,
}

/// This page's recording and the list of stored ones. Cheap to clone; not `Send` (it holds the
/// database), so views reach it only through event handlers and its signals.
#[derive(Debug, Clone)]
pub struct Recordings {
    state: Rc<RefCell<State>>,
    /// This session's recording.
    pub status: RwSignal<RecordingStatus>,
    /// Stored recordings, newest first.
    pub list: RwSignal<Vec<RecordingMeta>>,
    /// Storage used and allowed for this page, bytes.
    pub estimate: RwSignal<Option<(f64, f64)>>,
    /// The last thing an action (export, delete…) has to say.
    pub message: RwSignal<Option<String>>,
}

impl Recordings {
    /// Opens storage; `record` starts recording (false when replaying).
    pub fn open(record: bool) -> Self {
        let recordings = Recordings {
            state: Rc::new(RefCell::new(State {
                replaying: !record,
                ..State::default()
            })),
            status: RwSignal::new(if record {
                RecordingStatus::Starting
            } else {
                RecordingStatus::Replaying
            }),
            list: RwSignal::new(Vec::new()),
            estimate: RwSignal::new(None),
            message: RwSignal::new(None),
        };
        let this = recordings.clone();
        spawn_local(async move {
            match RecordingStore::open().await {
                Ok(store) => {
                    // What earlier sessions left empty (a reload before the first write) would
                    // be listed as "0 reports" for ever: gone before this one's is begun.
                    let _ = store.delete_leftovers(js_sys::Date::now()).await;
                    let source = {
                        let mut state = this.state.borrow_mut();
                        state.store = Some(Rc::new(store));
                        // Bytes arrived while storage was opening: their recording starts now
                        // (otherwise the first bytes start it, in `receive`).
                        let ready = record && !state.source.is_empty() && !state.beginning;
                        state.beginning |= ready;
                        ready.then(|| state.source.clone())
                    };
                    if let Some(source) = source {
                        this.begin(source).await;
                    }
                    this.refresh().await;
                }
                Err(e) => this.status.set(RecordingStatus::Failed(format!(
                    "Recording is off: {e}. Live data is still shown."
                ))),
            }
        });
        if record {
            let this = recordings.clone();
            start_flushing(move || this.flush());
        }
        recordings
    }

    fn store(&self) -> Option<Rc<RecordingStore>> {
        self.state.borrow().store.clone()
    }

    /// Re-reads the list of recordings and the storage estimate. An empty recording other than
    /// this session's is left out: a leftover not yet old enough to delete, or another tab's
    /// before its first write, with nothing to export or replay either way.
    async fn refresh(&self) {
        if let Some(store) = self.store()
            && let Ok(mut list) = store.list().await
        {
            let current = self.current_id();
            list.retain(|m| m.bytes > 0 || Some(m.id) == current);
            self.list.set(list);
        }
        self.estimate.set(storage_estimate().await);
    }

    /// Creates a new recording of `source` and hands it what arrived so far.
    async fn begin(&self, source: String) {
        let Some(store) = self.store() else { return };
        match store.create(js_sys::Date::now(), source).await {
            Ok(meta) => {
                let mut state = self.state.borrow_mut();
                let mut recorder = Recorder::new(meta.clone());
                let early = std::mem::take(&mut state.early);
                let held = std::mem::take(&mut state.early_held);
                recorder.receive(&early, held);
                state.recorder = Some(recorder);
                state.sequence = 0;
                state.beginning = false;
                drop(state);
                self.status.set(RecordingStatus::Recording(meta));
            }
            Err(e) => {
                self.state.borrow_mut().beginning = false;
                self.fail(&e);
            }
        }
    }

    /// A write failed: pause, keep what waits in memory, and say so. Without a recording to
    /// pause (it could not even be created), recording is off.
    fn fail(&self, e: &StoreError) {
        let mut state = self.state.borrow_mut();
        state.full = true;
        let waiting = state.recorder.as_ref().map_or(0, Recorder::pending_len);
        let meta = state.recorder.as_ref().map(|r| r.meta.clone());
        let lost = state.lost;
        drop(state);
        self.status.set(match meta {
            Some(meta) => RecordingStatus::Full {
                meta,
                waiting,
                lost,
                message: e.to_string(),
            },
            None => RecordingStatus::Failed(format!(
                "Recording could not start: {e}. Export and delete old recordings below, then reload."
            )),
        });
    }

    /// Writes what still waits for a recording that has ended; one that received nothing at
    /// all is deleted, not listed as "0 reports".
    async fn write_out(&self, old: Option<Recorder>) {
        let (Some(mut old), Some(store)) = (old, self.store()) else {
            return;
        };
        let bytes = old.take_pending();
        let sequence = self.state.borrow().sequence;
        if old.meta.bytes == 0 {
            let _ = store.delete(old.meta.id).await;
        } else if !bytes.is_empty() {
            let _ = store.append(&old.meta, sequence, &bytes).await;
        }
    }

    /// Stops recording because what is shown cannot be recorded (`why`, for the user); the
    /// recording that was running is finished. The next source that can be recorded starts a
    /// new one.
    pub fn stop(&self, why: &str) {
        if matches!(
            self.status.get_untracked(),
            RecordingStatus::Off(_) | RecordingStatus::Replaying
        ) {
            return;
        }
        let mut state = self.state.borrow_mut();
        let old = state.recorder.take();
        state.source.clear();
        state.early.clear();
        state.early_held = Ingested::default();
        drop(state);
        self.status.set(RecordingStatus::Off(why.to_owned()));
        let this = self.clone();
        spawn_local(async move {
            this.write_out(old).await;
            this.refresh().await;
        });
    }

    /// Takes in bytes the link delivered from `source` (a new source starts a new recording),
    /// with what the session decoded from them.
    pub fn receive(&self, bytes: &[u8], source: &str, held: Ingested) {
        let mut state = self.state.borrow_mut();
        if state.replaying {
            return;
        }
        if state.source != source {
            state.source = source.to_owned();
            if state.store.is_some() {
                // A new source starts its own recording; what still waits for the old one is
                // written to it first. (Before storage is open, `open` starts the recording.)
                let old = state.recorder.take();
                state.early.clear();
                state.early_held = Ingested::default();
                state.beginning = true;
                drop(state);
                let this = self.clone();
                let source = source.to_owned();
                spawn_local(async move {
                    this.write_out(old).await;
                    this.begin(source).await;
                    this.refresh().await;
                });
                state = self.state.borrow_mut();
            }
        }
        let waiting = state
            .recorder
            .as_ref()
            .map_or(state.early.len(), Recorder::pending_len);
        if waiting + bytes.len() > MAX_WAITING_BYTES {
            state.lost += bytes.len();
            return;
        }
        match state.recorder.as_mut() {
            Some(recorder) => recorder.receive(bytes, held),
            None => {
                state.early.extend_from_slice(bytes);
                state.early_held = state.early_held.then(held);
            }
        }
    }

    /// Writes what is waiting (unless a write is under way or storage is full).
    fn flush(&self) {
        let mut state = self.state.borrow_mut();
        if state.writing || state.full {
            return;
        }
        let (Some(store), Some(recorder)) = (state.store.clone(), state.recorder.as_mut()) else {
            return;
        };
        let bytes = recorder.take_pending();
        if bytes.is_empty() {
            return;
        }
        let meta = recorder.meta.clone();
        let sequence = state.sequence;
        state.writing = true;
        drop(state);
        let this = self.clone();
        spawn_local(async move {
            let result = store.append(&meta, sequence, &bytes).await;
            {
                let mut state = this.state.borrow_mut();
                state.writing = false;
                match &result {
                    Ok(()) => state.sequence += 1,
                    Err(_) => {
                        if let Some(recorder) = state.recorder.as_mut()
                            && recorder.meta.id == meta.id
                        {
                            recorder.restore_pending(bytes);
                        }
                    }
                }
            }
            match result {
                Ok(()) => {
                    // Refresh the storage figures now and then (every 16th write).
                    if sequence.is_multiple_of(16) {
                        this.estimate.set(storage_estimate().await);
                    }
                    this.status.set(RecordingStatus::Recording(meta.clone()));
                    this.list.update(|list| {
                        if let Some(m) = list.iter_mut().find(|m| m.id == meta.id) {
                            *m = meta;
                        }
                    });
                }
                Err(e) => this.fail(&e),
            }
        });
    }

    /// After the user freed space: try writing again.
    pub fn resume(&self) {
        self.state.borrow_mut().full = false;
        let meta = self
            .state
            .borrow()
            .recorder
            .as_ref()
            .map(|r| r.meta.clone());
        if let Some(meta) = meta {
            self.status.set(RecordingStatus::Recording(meta));
        }
        self.flush();
    }

    /// The id of the recording being made, if any.
    fn current_id(&self) -> Option<u32> {
        self.state.borrow().recorder.as_ref().map(|r| r.meta.id)
    }

    /// A recording's bytes: what is stored, plus (for the one being made) what is waiting.
    async fn bytes_of(&self, id: u32) -> Result<Vec<u8>, StoreError> {
        let store = self
            .store()
            .ok_or_else(|| StoreError::Other("storage is not open".to_owned()))?;
        let mut bytes = store.load(id).await?;
        let state = self.state.borrow();
        if let Some(recorder) = state.recorder.as_ref().filter(|r| r.meta.id == id) {
            bytes.extend_from_slice(recorder.pending());
        }
        Ok(bytes)
    }

    /// Offers recording `id` as CSV (`csv`) or as the raw wire capture.
    pub fn export(&self, id: u32, csv: bool) {
        let this = self.clone();
        spawn_local(async move {
            let outcome = match this.bytes_of(id).await {
                Ok(bytes) if csv => {
                    let text = to_csv(&bytes);
                    let rows = text.lines().count().saturating_sub(1);
                    download(
                        &format!("cellsight-recording-{id}.csv"),
                        "text/csv",
                        text.as_bytes(),
                    )
                    .map(|()| format!("Recording #{id} exported: {rows} rows of CSV."))
                }
                Ok(bytes) => download(
                    &format!("cellsight-recording-{id}.bin"),
                    "application/octet-stream",
                    &bytes,
                )
                .map(|()| {
                    format!(
                        "Recording #{id} exported: {} bytes as received.",
                        bytes.len()
                    )
                }),
                Err(e) => Err(e.to_string()),
            };
            this.message.set(Some(outcome.unwrap_or_else(|e| {
                format!("Recording #{id} could not be exported: {e}.")
            })));
        });
    }

    /// Deletes recording `id` (the caller has asked the user).
    pub fn delete(&self, id: u32) {
        let this = self.clone();
        spawn_local(async move {
            let Some(store) = this.store() else { return };
            let message = match store.delete(id).await {
                Ok(()) => format!("Recording #{id} deleted."),
                Err(e) => format!("Recording #{id} could not be deleted: {e}."),
            };
            this.message.set(Some(message));
            this.refresh().await;
        });
    }
}

/// Loads recording `id` for playback.
pub async fn load_replay(id: u32) -> Result<Replay, String> {
    let store = RecordingStore::open().await.map_err(|e| e.to_string())?;
    let bytes = store.load(id).await.map_err(|e| e.to_string())?;
    let replay = Replay::new(&bytes);
    if replay.is_empty() {
        return Err(format!(
            "recording #{id} holds no frames (it may have been deleted)"
        ));
    }
    Ok(replay)
}

#[cfg(target_family = "wasm")]
fn start_flushing(flush: impl FnMut() + 'static) {
    gloo::timers::callback::Interval::new(FLUSH_MILLIS, flush).forget();
}

#[cfg(not(target_family = "wasm"))]
fn start_flushing(_flush: impl FnMut() + 'static) {}

/// Bytes for a person: "812 B", "45.2 KB", "3.1 MB".
pub fn size_text(bytes: f64) -> String {
    if bytes < 1_000.0 {
        format!("{bytes:.0} B")
    } else if bytes < 1e6 {
        format!("{:.1} KB", bytes / 1e3)
    } else if bytes < 1e9 {
        format!("{:.1} MB", bytes / 1e6)
    } else {
        format!("{:.2} GB", bytes / 1e9)
    }
}

/// A local date and time for a person, from ms since the epoch: "24 Nov 11:52".
fn started_text(ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from(ms));
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02}:{:02}",
        date.get_date(),
        MONTHS.get(date.get_month() as usize).unwrap_or(&""),
        date.get_hours(),
        date.get_minutes()
    )
}

fn meta_line(m: &RecordingMeta) -> String {
    format!(
        "{} reports · {} of device time · {}",
        m.reports,
        crate::session::span_text(m.duration_s),
        size_text(m.bytes as f64)
    )
}

/// The recordings panel: this session's recording, storage, and every stored recording.
#[component]
pub fn RecordingsPanel(
    /// This page's recording and the stored ones.
    recordings: Recordings,
) -> impl IntoView {
    let status = recordings.status;
    let list = recordings.list;
    let estimate = recordings.estimate;
    let message = recordings.message;
    let current_id = move || match status.get() {
        RecordingStatus::Recording(m) | RecordingStatus::Full { meta: m, .. } => Some(m.id),
        _ => None,
    };
    let status_text = move || match status.get() {
        RecordingStatus::Starting => "Opening the browser's storage…".to_owned(),
        RecordingStatus::Recording(m) => format!(
            "● Recording this session as #{}: {}. Saved every {} s, so a reload or a crash loses nothing older.",
            m.id,
            meta_line(&m),
            FLUSH_MILLIS / 1000
        ),
        RecordingStatus::Full { meta, .. } => format!(
            "Recording #{} paused: the browser would not store more.",
            meta.id
        ),
        RecordingStatus::Failed(e) => e,
        RecordingStatus::Replaying => "Replaying a recording: nothing new is recorded.".to_owned(),
        RecordingStatus::Off(why) => why,
    };
    let full_alert = move || match status.get() {
        RecordingStatus::Full {
            waiting,
            lost,
            message,
            ..
        } => Some(format!(
            "Recording paused: {message}. {} received since are held in this tab{}. Export and delete old recordings below, then press Resume. Nothing is deleted unless you delete it.",
            size_text(waiting as f64),
            if lost > 0 {
                format!(
                    "; {} more could not be held and are not recorded",
                    size_text(lost as f64)
                )
            } else {
                String::new()
            }
        )),
        _ => None,
    };
    let storage_text = move || {
        estimate.get().map(|(usage, quota)| {
            let share = if quota > 0.0 {
                usage / quota * 100.0
            } else {
                100.0
            };
            format!(
                "Browser storage for this page: {} used of {} ({share:.1} %){}",
                size_text(usage),
                size_text(quota),
                if share > 80.0 {
                    " — nearly full: export and delete old recordings"
                } else {
                    ""
                }
            )
        })
    };
    let export_current = {
        let recordings = recordings.clone();
        move |csv: bool| {
            if let Some(id) = recordings.current_id() {
                recordings.export(id, csv);
            }
        }
    };
    let export_csv = {
        let export_current = export_current.clone();
        move |_| export_current(true)
    };
    let export_raw = move |_| export_current(false);
    // Reactive closures must be `Send`; the recordings are reached through a local handle.
    let handle = StoredValue::new_local(recordings.clone());
    let resume = move |_| handle.with_value(Recordings::resume);
    let rows = {
        move || {
            list.get()
                .into_iter()
                .map(|m| {
                    let id = m.id;
                    let is_current = current_id() == Some(id);
                    view! {
                        <li data-testid="recording-item" data-recording=id.to_string()>
                            <span class="recording-title">
                                {format!("#{id} · {} · {}", started_text(m.started_ms), m.source)}
                                {is_current.then_some(" · recording now")}
                            </span>
                            <span class="note">{meta_line(&m)}</span>
                            <span class="recording-actions">
                                <button data-testid="recording-csv" aria-label=format!("Export recording {id} as CSV")
                                    on:click=move |_| handle.with_value(|r| r.export(id, true))>"CSV"</button>
                                <button data-testid="recording-raw" aria-label=format!("Export recording {id} as a raw wire capture")
                                    on:click=move |_| handle.with_value(|r| r.export(id, false))>"Raw"</button>
                                <a class="button" data-testid="recording-replay" href=format!("?replay={id}")
                                    aria-label=format!("Replay recording {id}")>"Replay"</a>
                                <button data-testid="recording-delete" aria-label=format!("Delete recording {id}")
                                    disabled=is_current
                                    title=if is_current { "This recording is still being made" } else { "" }
                                    on:click=move |_| {
                                        if crate::js::confirm(&format!("Delete recording #{id}? This cannot be undone.")) {
                                            handle.with_value(|r| r.delete(id));
                                        }
                                    }>"Delete"</button>
                            </span>
                        </li>
                    }
                })
                .collect_view()
        }
    };
    view! {
        <section class="card recordings" aria-label="Recordings" data-testid="recordings">
            <h2>"Recordings"</h2>
            <p data-testid="recording-status">{status_text}</p>
            {move || full_alert().map(|text| view! {
                <div class="error" role="alert" data-testid="recording-full">
                    <p>{text}</p>
                    <button data-testid="recording-resume" on:click=resume>"Resume recording"</button>
                </div>
            })}
            <div class="console-row">
                <button data-testid="export-csv" on:click=export_csv disabled=move || current_id().is_none()>
                    "Export this session as CSV"
                </button>
                <button data-testid="export-raw" on:click=export_raw disabled=move || current_id().is_none()>
                    "Export raw capture"
                </button>
            </div>
            <p class="note" data-testid="recording-message" role="status">{move || message.get()}</p>
            <p class="note" data-testid="storage-estimate">{storage_text}</p>
            <ul class="recording-list" data-testid="recording-list">{rows}</ul>
        </section>
    }
}
