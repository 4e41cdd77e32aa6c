//! Recordings in the browser's IndexedDB (through `rexie`): one object store of descriptions,
//! keyed by recording number, and one of byte chunks keyed `[recording, sequence]`, so a
//! recording is read back or deleted with one key range. Each chunk is stored together with the
//! description that counts it, in one transaction: after a crash the two still agree.

use crate::recording::RecordingMeta;
use js_sys::{Array, Object, Reflect, Uint8Array};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};

const DATABASE: &str = "cellsight";
const META: &str = "recordings";
const CHUNKS: &str = "chunks";

/// Why storage failed, in words for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The browser's storage quota for this page is used up.
    Full(String),
    /// Anything else (storage disabled, private mode, a broken database…).
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Full(e) => write!(f, "no room to store it ({e})"),
            StoreError::Other(e) => write!(f, "the browser refused to store it ({e})"),
        }
    }
}

fn error(e: rexie::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("Quota") || text.contains("quota") {
        StoreError::Full(text)
    } else {
        StoreError::Other(text)
    }
}

/// The open recordings database.
#[derive(Debug)]
pub struct RecordingStore {
    db: Rexie,
}

fn set(object: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value);
}

fn get_f64(object: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(object, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_f64())
}

fn meta_to_js(meta: &RecordingMeta) -> JsValue {
    let o = Object::new();
    set(&o, "id", JsValue::from(meta.id));
    set(&o, "started_ms", JsValue::from(meta.started_ms));
    set(&o, "source", JsValue::from_str(&meta.source));
    set(&o, "bytes", JsValue::from(meta.bytes as f64));
    set(&o, "reports", JsValue::from(meta.reports as f64));
    set(&o, "duration_s", JsValue::from(meta.duration_s));
    set(
        &o,
        "last_device_time_s",
        meta.last_device_time_s.map_or(JsValue::NULL, JsValue::from),
    );
    o.into()
}

/// A description read back; `None` for a record this version cannot read.
fn meta_from_js(value: &JsValue) -> Option<RecordingMeta> {
    let source = Reflect::get(value, &JsValue::from_str("source"))
        .ok()?
        .as_string()?;
    Some(RecordingMeta {
        id: get_f64(value, "id")? as u32,
        started_ms: get_f64(value, "started_ms")?,
        source,
        bytes: get_f64(value, "bytes")? as u64,
        reports: get_f64(value, "reports")? as u64,
        duration_s: get_f64(value, "duration_s").unwrap_or(0.0),
        last_device_time_s: get_f64(value, "last_device_time_s"),
    })
}

fn chunk_key(id: u32, sequence: f64) -> JsValue {
    Array::of2(&JsValue::from(id), &JsValue::from(sequence)).into()
}

fn chunks_of(id: u32) -> Result<KeyRange, StoreError> {
    KeyRange::bound(
        &chunk_key(id, 0.0),
        &chunk_key(id, f64::MAX),
        Some(false),
        Some(false),
    )
    .map_err(|e| StoreError::Other(e.to_string()))
}

impl RecordingStore {
    /// Opens (and on first use creates) the database.
    pub async fn open() -> Result<Self, StoreError> {
        let db = Rexie::builder(DATABASE)
            .version(1)
            .add_object_store(ObjectStore::new(META).key_path("id"))
            .add_object_store(ObjectStore::new(CHUNKS))
            .build()
            .await
            .map_err(error)?;
        Ok(RecordingStore { db })
    }

    /// Starts a new recording of `source`, numbered after the newest one.
    pub async fn create(
        &self,
        started_ms: f64,
        source: String,
    ) -> Result<RecordingMeta, StoreError> {
        let newest = self.list().await?.iter().map(|m| m.id).max().unwrap_or(0);
        let meta = RecordingMeta::new(newest + 1, started_ms, source);
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(error)?;
        tx.store(META)
            .map_err(error)?
            .add(&meta_to_js(&meta), None)
            .await
            .map_err(error)?;
        tx.done().await.map_err(error)?;
        Ok(meta)
    }

    /// Stores chunk number `sequence` of a recording together with its updated description.
    pub async fn append(
        &self,
        meta: &RecordingMeta,
        sequence: u32,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[META, CHUNKS], TransactionMode::ReadWrite)
            .map_err(error)?;
        let chunk: JsValue = Uint8Array::from(bytes).into();
        tx.store(CHUNKS)
            .map_err(error)?
            .put(&chunk, Some(&chunk_key(meta.id, f64::from(sequence))))
            .await
            .map_err(error)?;
        tx.store(META)
            .map_err(error)?
            .put(&meta_to_js(meta), None)
            .await
            .map_err(error)?;
        let result = tx.done().await.map_err(error)?;
        if result.is_committed() {
            Ok(())
        } else {
            // The browser aborts a transaction that would exceed the quota without saying why
            // through this API; that is by far the common cause.
            Err(StoreError::Full(
                "the browser aborted the write, most often because storage is full".to_owned(),
            ))
        }
    }

    /// Everything in object store `name` (within `range`), in key order.
    async fn read_all(
        &self,
        name: &str,
        range: Option<KeyRange>,
    ) -> Result<Vec<JsValue>, StoreError> {
        let tx = self
            .db
            .transaction(&[name], TransactionMode::ReadOnly)
            .map_err(error)?;
        tx.store(name)
            .map_err(error)?
            .get_all(range, None)
            .await
            .map_err(error)
    }

    /// Every recording's description, newest first.
    pub async fn list(&self) -> Result<Vec<RecordingMeta>, StoreError> {
        let all = self.read_all(META, None).await?;
        let mut metas: Vec<RecordingMeta> = all.iter().filter_map(meta_from_js).collect();
        metas.sort_by_key(|m| std::cmp::Reverse(m.id));
        Ok(metas)
    }

    /// A recording's bytes, in the order they arrived.
    pub async fn load(&self, id: u32) -> Result<Vec<u8>, StoreError> {
        let chunks = self.read_all(CHUNKS, Some(chunks_of(id)?)).await?;
        let mut bytes = Vec::new();
        for chunk in chunks {
            if let Ok(chunk) = chunk.dyn_into::<Uint8Array>() {
                bytes.extend(chunk.to_vec());
            }
        }
        Ok(bytes)
    }

    /// Deletes the recordings sessions left behind with nothing stored (see
    /// [`RecordingMeta::is_leftover`]), as of `now_ms`.
    pub async fn delete_leftovers(&self, now_ms: f64) -> Result<(), StoreError> {
        for meta in self.list().await? {
            if meta.is_leftover(now_ms) {
                self.delete(meta.id).await?;
            }
        }
        Ok(())
    }

    /// Deletes a recording, description and bytes.
    pub async fn delete(&self, id: u32) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[META, CHUNKS], TransactionMode::ReadWrite)
            .map_err(error)?;
        tx.store(CHUNKS)
            .map_err(error)?
            .delete(chunks_of(id)?.into())
            .await
            .map_err(error)?;
        tx.store(META)
            .map_err(error)?
            .delete(JsValue::from(id))
            .await
            .map_err(error)?;
        tx.done().await.map_err(error)?;
        Ok(())
    }
}

/// What the browser says this page stores and may store, bytes: `(usage, quota)`.
pub async fn storage_estimate() -> Option<(f64, f64)> {
    let navigator = web_sys::window()?.navigator();
    let estimate = wasm_bindgen_futures::JsFuture::from(navigator.storage().estimate().ok()?)
        .await
        .ok()?;
    Some((get_f64(&estimate, "usage")?, get_f64(&estimate, "quota")?))
}

/// Offers `content` to the user as a downloaded file called `name`.
pub fn download(name: &str, mime: &str, content: &[u8]) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let parts = Array::of1(&Uint8Array::from(content));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // The download reads the blob after this returns: let it go once it surely has.
    gloo::timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}
