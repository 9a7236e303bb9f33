//! Writers for everything a call leaves on disk. Each takes only
//! [`crate::redact::Redacted`] values.
//!
//! Everything the store creates in the data directory is private to the
//! user running callscope: directories mode 0700 ([`create_private_dir`]),
//! files 0600 ([`create_private_file`]); the database is created 0600 before
//! SQLite opens it, so its `-wal` and `-shm` files (which SQLite creates
//! with the database's mode) are 0600 too. See `docs/storage-security.md`.

pub mod anchor;
pub mod audit;
pub mod commands;
pub mod db;
pub mod objects;
pub mod open;
pub mod pending;
pub mod pg;
pub mod purge;
pub mod recording;
pub mod verify;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use db::{CallStore, Store, StoreError};

/// The PostgreSQL store this process uses instead of the data directory's
/// SQLite store, when `--store postgres://…` chose one.
static SHARED: std::sync::OnceLock<pg::PgStore> = std::sync::OnceLock::new();

/// Connections one process keeps to a shared PostgreSQL store.
const POOL: u32 = 8;

/// Makes this process store calls in (and query) the PostgreSQL store at
/// `url` instead of each data directory's SQLite file (`--store`; the
/// recordings and audit trails stay in the data directory). Connects and
/// creates or checks the schema now, so a wrong URL fails at start.
///
/// With `ca` (`--store-ca`) the connections use TLS, checking the server's
/// certificate against it; without it only a server on this machine is
/// accepted.
pub fn use_postgres(url: &str, ca: Option<&Path>) -> Result<(), StoreError> {
    let store = pg::PgStore::connect(url, POOL, ca)?;
    let _ = SHARED.set(store);
    Ok(())
}

/// Whether this process uses a shared PostgreSQL store.
pub fn shared() -> bool {
    SHARED.get().is_some()
}

/// The call store for `data_dir`: the shared PostgreSQL store when one was
/// chosen ([`use_postgres`]), else the SQLite store in `data_dir` (created
/// when missing).
pub fn open(data_dir: &Path) -> Result<Box<dyn Store>, StoreError> {
    match SHARED.get() {
        Some(pg) => Ok(Box::new(pg.clone())),
        None => Ok(Box::new(CallStore::open(data_dir)?)),
    }
}

/// [`open`], but a data directory without a SQLite store is
/// [`StoreError::Missing`] (nothing stored yet).
pub fn open_existing(data_dir: &Path) -> Result<Box<dyn Store>, StoreError> {
    match SHARED.get() {
        Some(pg) => Ok(Box::new(pg.clone())),
        None => Ok(Box::new(CallStore::open_existing(data_dir)?)),
    }
}

/// Lower-case hex of a byte string (e.g. a digest).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of everything `reader` yields, lower-case hex.
pub fn sha256_of(mut reader: impl Read) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Mode of every directory the store creates: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the store creates: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents with mode 0700. Directories that
/// already exist are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Creates (or truncates) `path` for writing (and reading, with `read`) with
/// mode 0600. A file left by an earlier attempt with a wider mode is
/// narrowed to 0600 too.
pub fn create_private_file(path: &Path, read: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(read)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}
