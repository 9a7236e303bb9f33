//! Recordings and audit trails on S3-compatible object storage
//! (`--recordings s3://bucket/prefix`).
//!
//! A call is written to the data directory as always — only ever from
//! cleared, redacted audio — and indexed in the store; then its recording
//! and audit trail are uploaded to `prefix/recordings/<id>.wav` and
//! `prefix/audit/<id>.jsonl` (and its report to `prefix/reports/<id>.json`)
//! and the local recording and trail removed. Whoever reads them later
//! (`audit verify`, `GetRecording`, `GetAuditTrail`, `ExportCall`, the
//! console) on any node takes their paths from [`local_files`], which downloads a missing file back into the data
//! directory (0600), which so acts as a cache. `purge` deletes the purged
//! calls' objects.
//!
//! Credentials and the endpoint come from the usual `AWS_*` variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for MinIO, Ceph or another S3-compatible service).
//! HTTPS always, except an `http://` endpoint on a loopback address (a
//! local test service).
//!
//! The object-store client is async; callers here are synchronous (store
//! writes run on blocking threads or in a command), so its futures run on a
//! small runtime of its own and the caller waits for the answer.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

/// Why object storage could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectsError {
    /// The URL or the endpoint is wrong: stop and fix the setting.
    #[error("--recordings {url}: {detail}")]
    Config {
        /// The URL given.
        url: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The service failed or did not answer; the files stay local.
    #[error("object storage {url}: {detail}")]
    Service {
        /// The bucket URL.
        url: String,
        /// The client's reason.
        detail: String,
    },
}

/// The bucket and prefix this process writes to.
struct Objects {
    store: Arc<dyn ObjectStore>,
    url: String,
    prefix: String,
}

static OBJECTS: OnceLock<Objects> = OnceLock::new();

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("callscope-objects")
            .enable_all()
            .build()
            .expect("start the object-storage runtime")
    })
}

/// Runs `f` on the object-storage runtime and waits for it (from any
/// synchronous context, including a blocking thread of another runtime).
fn block<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the object-storage runtime answers")
}

/// Makes this process keep recordings and trails in the bucket at `url`
/// (`s3://bucket/prefix`); checks now that the bucket answers.
pub fn use_bucket(url: &str) -> Result<(), ObjectsError> {
    let config = |detail: String| ObjectsError::Config {
        url: url.to_string(),
        detail,
    };
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        config("give s3://BUCKET[/PREFIX] (S3 or an S3-compatible service)".into())
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(config("no bucket name".into()));
    }
    // The HTTP client takes the process's rustls provider: ring, as for
    // every other TLS connection of callscope (an error means one is set).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    // Bounded: a slow or absent service must not hold a call's end for long.
    let retry = object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .with_client_options(
            object_store::ClientOptions::new()
                .with_connect_timeout(std::time::Duration::from_secs(5))
                .with_timeout(std::time::Duration::from_secs(60)),
        );
    if let Ok(endpoint) =
        std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"))
    {
        let plain = endpoint.starts_with("http://");
        if plain {
            let host = endpoint
                .trim_start_matches("http://")
                .split(['/', ':'])
                .next()
                .unwrap_or("");
            if !crate::security::tls::loopback_host(host) {
                return Err(config(format!(
                    "AWS_ENDPOINT_URL {endpoint}: plain http:// is only allowed on a loopback address (recordings are call audio); use https://"
                )));
            }
        }
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(plain)
            .with_virtual_hosted_style_request(false);
    }
    let store = builder
        .build()
        .map_err(|e| config(format!("{e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (and AWS_ENDPOINT_URL for a service other than AWS)")))?;
    let objects = Objects {
        store: Arc::new(store),
        url: url.to_string(),
        prefix: prefix.trim_matches('/').to_string(),
    };
    // The bucket answers (a missing object is an answer).
    let probe = objects.key("callscope-probe");
    let store = Arc::clone(&objects.store);
    match block(async move { store.head(&probe).await }) {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => {
            return Err(ObjectsError::Service {
                url: url.to_string(),
                detail: format!("{e}; is the bucket there and are the credentials right?"),
            });
        }
    }
    let _ = OBJECTS.set(objects);
    Ok(())
}

/// Whether recordings live in object storage.
pub fn active() -> bool {
    OBJECTS.get().is_some()
}

impl Objects {
    fn key(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn service(&self, e: impl std::fmt::Display) -> ObjectsError {
        ObjectsError::Service {
            url: self.url.clone(),
            detail: e.to_string(),
        }
    }
}

/// A call's files in the data directory and their object names.
fn call_files(data_dir: &Path, call_id: &str) -> [(PathBuf, String, bool); 3] {
    [
        (
            super::recording::recording_path(data_dir, call_id),
            format!("recordings/{call_id}.wav"),
            true,
        ),
        (
            super::audit::audit_path(data_dir, call_id),
            format!("audit/{call_id}.jsonl"),
            true,
        ),
        (
            crate::analyze::report_path(data_dir, call_id),
            format!("reports/{call_id}.json"),
            false,
        ),
    ]
}

/// Uploads a stored call's recording, trail and report, then removes the
/// local recording and trail (the report stays: it is small and the store
/// has it too). Without object storage, does nothing. On failure the files
/// stay local, where every reader still finds them on this node.
pub fn upload_call(data_dir: &Path, call_id: &str) -> Result<(), ObjectsError> {
    let Some(o) = OBJECTS.get() else {
        return Ok(());
    };
    let mut uploaded = Vec::new();
    for (local, name, remove) in call_files(data_dir, call_id) {
        if !local.exists() {
            continue;
        }
        let key = o.key(&name);
        let store = Arc::clone(&o.store);
        let path = local.clone();
        block(async move {
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| e.to_string())?;
            let mut w = object_store::buffered::BufWriter::new(store, key);
            tokio::io::copy(&mut file, &mut w)
                .await
                .map_err(|e| e.to_string())?;
            w.shutdown().await.map_err(|e| e.to_string())
        })
        .map_err(|e| o.service(format!("uploading {name}: {e}")))?;
        if remove {
            uploaded.push(local);
        }
    }
    for f in uploaded {
        let _ = std::fs::remove_file(f);
    }
    info!(
        call_id,
        "recording and audit trail stored in object storage"
    );
    Ok(())
}

/// A stored call's recording and audit trail in the data directory, the
/// paths every reader of them takes from here: downloads what is missing
/// there from object storage first (0600). Without object storage, or when
/// the files are here, only the paths; a call whose objects are missing
/// too stays missing (readers say so).
pub fn local_files(data_dir: &Path, call_id: &str) -> LocalFiles {
    let [recording, trail, _] = call_files(data_dir, call_id);
    let files = LocalFiles {
        recording: recording.0,
        trail: trail.0,
    };
    fetch(data_dir, call_id);
    files
}

/// A stored call's files as [`local_files`] finds them.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    /// `DIR/recordings/<id>.wav` (redacted).
    pub recording: PathBuf,
    /// `DIR/audit/<id>.jsonl`.
    pub trail: PathBuf,
}

/// Downloads a stored call's recording and trail where missing.
fn fetch(data_dir: &Path, call_id: &str) {
    let Some(o) = OBJECTS.get() else { return };
    for (local, name, _) in call_files(data_dir, call_id).into_iter().take(2) {
        if local.exists() {
            continue;
        }
        let key = o.key(&name);
        let store = Arc::clone(&o.store);
        let to = local.clone();
        let got = block(async move {
            let r = store.get(&key).await?;
            let dir = to
                .parent()
                .expect("a call file has a directory")
                .to_path_buf();
            // One temporary file per fetch: readers may fetch at once.
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = to.with_extension(format!("download-{}-{n}", std::process::id()));
            let io = |e: std::io::Error| object_store::Error::Generic {
                store: "local",
                source: Box::new(e),
            };
            super::create_private_dir(&dir).map_err(io)?;
            let f = super::create_private_file(&tmp, false).map_err(io)?;
            let mut f = tokio::fs::File::from_std(f);
            let mut s = r.into_stream();
            while let Some(chunk) = s.next().await {
                f.write_all(&chunk?).await.map_err(io)?;
            }
            f.sync_all().await.map_err(io)?;
            tokio::fs::rename(&tmp, &to).await.map_err(io)
        });
        match got {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                warn!(call_id, file = %name, error = %e, "cannot fetch a call's file from object storage")
            }
        }
    }
}

/// Deletes purged calls' objects; returns the calls whose objects could
/// not all be deleted now (logged; [`super::pending`] retries them with
/// [`delete_purged`]).
pub fn delete_calls(data_dir: &Path, call_ids: &[String]) -> Vec<String> {
    call_ids
        .iter()
        .filter(|id| match delete_objects(data_dir, id, None) {
            Ok(()) => false,
            Err(e) => {
                warn!(call_id = %id, error = %e, "cannot delete a purged call's objects; retried later");
                true
            }
        })
        .cloned()
        .collect()
}

/// Deletes the objects of a call purged at `purged_unix` (seconds) that
/// were written no later than that: a newer object belongs to a new call
/// that has taken the id since, and stays.
pub fn delete_purged(data_dir: &Path, call_id: &str, purged_unix: i64) -> Result<(), ObjectsError> {
    delete_objects(data_dir, call_id, Some(purged_unix))
}

/// Deletes a call's objects (only those written no later than
/// `written_by`, Unix seconds, when given); tries each and returns the
/// first failure. A missing object is deleted already.
fn delete_objects(
    data_dir: &Path,
    call_id: &str,
    written_by: Option<i64>,
) -> Result<(), ObjectsError> {
    let Some(o) = OBJECTS.get() else {
        return Ok(());
    };
    let mut first = None;
    for (_, name, _) in call_files(data_dir, call_id) {
        let key = o.key(&name);
        let store = Arc::clone(&o.store);
        let done = block(async move {
            if let Some(t) = written_by
                && store.head(&key).await?.last_modified.timestamp() > t
            {
                return Ok(());
            }
            store.delete(&key).await
        });
        match done {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                first.get_or_insert_with(|| o.service(format!("deleting {name}: {e}")));
            }
        }
    }
    first.map_or(Ok(()), Err)
}
