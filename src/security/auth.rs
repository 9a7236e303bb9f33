//! Access file, roles and the check every RPC makes.
//!
//! The access file (`serve --auth FILE`, written by `callscope auth …`) is
//! TOML with `[[token]]` and `[[cert]]` entries. A token is 256 random bits
//! shown once when made; the file keeps only its SHA-256 (a fast hash is
//! enough for a secret that long: there is nothing to guess). A
//! certificate entry keeps the SHA-256 of the client certificate's DER
//! bytes; the server still requires it to chain to `--client-ca`.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::{Request, Status};
use tracing::warn;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A telephony platform or recorder: StreamCall only.
    Ingest,
    /// An agent desktop: its own calls only (WatchCall, GetReport, ListCalls).
    Agent,
    /// The floor and every live call; reports and lists.
    Supervisor,
    /// Reports, search and trends; no audio, no audit trails.
    Qa,
    /// Reports, audit trails and redacted recordings.
    Compliance,
    /// Everything, including replacing a stored call.
    Admin,
}

impl Role {
    /// Every role, in the order documented.
    pub const ALL: [Role; 6] = [
        Role::Ingest,
        Role::Agent,
        Role::Supervisor,
        Role::Qa,
        Role::Compliance,
        Role::Admin,
    ];

    /// The role's name in files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Qa => "qa",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; one of ingest, agent, supervisor, qa, compliance, admin"
                )
            })
    }
}

/// Something a caller asks to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Push a call's audio (StreamCall).
    StreamCall,
    /// Replace a stored call with the same id.
    ReplaceCall,
    /// Follow every live call (WatchFloor; agents see their own only).
    WatchFloor,
    /// Follow one live call handled by this agent id.
    WatchCall(&'a str),
    /// Read a stored call's report; the call's agent id.
    ReadReport(&'a str),
    /// List or search stored calls (agents see their own only).
    ListCalls,
    /// Fetch a redacted recording.
    Recording,
    /// Read and verify an audit trail.
    AuditTrail,
    /// Read trends over stored calls (every agent's figures).
    Trends,
    /// See the cluster's nodes, their calls and load (ClusterStatus).
    Cluster,
}

impl Action<'_> {
    fn name(&self) -> &'static str {
        match self {
            Action::StreamCall => "stream calls",
            Action::ReplaceCall => "replace a stored call",
            Action::WatchFloor => "watch the floor",
            Action::WatchCall(_) => "watch this call",
            Action::ReadReport(_) => "read this call's report",
            Action::ListCalls => "list calls",
            Action::Recording => "fetch recordings",
            Action::AuditTrail => "read audit trails",
            Action::Trends => "read trends",
            Action::Cluster => "see the cluster's status",
        }
    }
}

/// Who is calling: an access-file entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The entry's name (for logs; never the secret).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// For the agent role: whose calls.
    pub agent_id: Option<String>,
}

impl Principal {
    /// Whether this principal may do `what`.
    pub fn may(&self, what: Action<'_>) -> bool {
        use Role::*;
        let own = |agent: &str| self.agent_id.as_deref() == Some(agent);
        match (self.role, what) {
            (Admin, _) => true,
            (Ingest, Action::StreamCall) => true,
            (
                Supervisor,
                Action::WatchFloor | Action::WatchCall(_) | Action::ListCalls | Action::Cluster,
            ) => true,
            (Supervisor | Qa | Compliance, Action::ReadReport(_) | Action::Trends) => true,
            (Qa | Compliance, Action::ListCalls) => true,
            (Compliance, Action::Recording | Action::AuditTrail) => true,
            (Agent, Action::WatchCall(a) | Action::ReadReport(a)) => own(a),
            // Listings and the floor are narrowed to the agent's own calls.
            (Agent, Action::ListCalls | Action::WatchFloor) => true,
            _ => false,
        }
    }

    /// `Ok` when allowed, else PERMISSION_DENIED (logged without secrets).
    pub fn require(&self, rpc: &'static str, what: Action<'_>) -> Result<(), Status> {
        if self.may(what) {
            return Ok(());
        }
        warn!(rpc, who = %self.name, role = %self.role, "permission denied");
        crate::telemetry::denied("permission");
        let whose = match (self.role, what) {
            (Role::Agent, Action::WatchCall(_) | Action::ReadReport(_)) => {
                " (an agent sees only calls with its own agent id)"
            }
            _ => "",
        };
        Err(Status::permission_denied(format!(
            "role {} may not {}{whose}",
            self.role,
            what.name()
        )))
    }

    /// The agent id an agent's listing is limited to (`None` for other roles).
    pub fn only_agent(&self) -> Option<&str> {
        match self.role {
            // An agent entry always has an id (checked on load).
            Role::Agent => Some(self.agent_id.as_deref().unwrap_or("")),
            _ => None,
        }
    }
}

/// One entry of the access file: a `[[token]]` (the hash of a bearer
/// token) or a `[[cert]]` (the hash of a client certificate's DER bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A label for logs and `auth list` (e.g. `pbx-1`, `desk-17`).
    pub name: String,
    /// The role.
    pub role: Role,
    /// For agents: the agent id whose calls they see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// SHA-256 of the token or the certificate, lower-case hex.
    pub sha256: String,
    /// When it was made (RFC 3339).
    #[serde(default)]
    pub created: String,
}

impl Entry {
    fn new(name: &str, role: Role, agent_id: Option<String>, sha256: String) -> Self {
        Entry {
            name: name.into(),
            role,
            agent_id,
            sha256,
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    fn principal(&self) -> Principal {
        Principal {
            name: self.name.clone(),
            role: self.role,
            agent_id: self.agent_id.clone(),
        }
    }
}

/// The access file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    /// Bearer tokens.
    #[serde(default, rename = "token")]
    pub tokens: Vec<Entry>,
    /// Client certificates.
    #[serde(default, rename = "cert")]
    pub certs: Vec<Entry>,
}

/// Why the access file cannot be used. Stop: fix the file named.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// It cannot be read or written.
    #[error("access file {path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// It is not a valid access file.
    #[error("access file {path}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a secret).
        detail: String,
    },
    /// A name is used twice.
    #[error(
        "access file {path}: an entry named {name:?} exists; pick another --name or revoke it first"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
    },
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::store::hex(&Sha256::digest(bytes))
}

impl AccessFile {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let file: AccessFile = toml::from_str(&text).map_err(|e| AuthError::Invalid {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        file.check(path)?;
        Ok(file)
    }

    /// Reads `path`, or an empty file if there is none yet.
    pub fn load_or_new(path: &Path) -> Result<Self, AuthError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::default())
        }
    }

    fn check(&self, path: &Path) -> Result<(), AuthError> {
        let invalid = |detail: String| AuthError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let mut names = std::collections::HashSet::new();
        for e in self.tokens.iter().chain(&self.certs) {
            let (name, role, agent, hash) = (&e.name, e.role, &e.agent_id, &e.sha256);
            if !names.insert(name.clone()) {
                return Err(AuthError::Duplicate {
                    path: path.to_path_buf(),
                    name: name.clone(),
                });
            }
            if !is_hash(hash) {
                return Err(invalid(format!(
                    "entry {name:?}: sha256 must be 64 lower-case hex digits"
                )));
            }
            if role == Role::Agent && agent.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(format!("entry {name:?}: an agent needs agent_id")));
            }
        }
        Ok(())
    }

    /// Writes the file (mode 0600), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        let io = |e: std::io::Error| AuthError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let text = format!(
            "# callscope access file: `callscope auth` writes it, `serve --auth` reads it.\n# Tokens are kept as SHA-256 hashes; keep the file private anyway.\n\n{}",
            toml::to_string(self).map_err(|e| AuthError::Invalid {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?
        );
        let tmp = path.with_extension("tmp");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    fn taken(&self, name: &str) -> bool {
        self.tokens
            .iter()
            .chain(&self.certs)
            .any(|e| e.name == name)
    }

    /// Adds a new token and returns it (the only time it is seen).
    pub fn add_token(
        &mut self,
        path: &Path,
        name: &str,
        role: Role,
        agent_id: Option<String>,
    ) -> Result<String, AuthError> {
        if self.taken(name) {
            return Err(AuthError::Duplicate {
                path: path.to_path_buf(),
                name: name.into(),
            });
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| AuthError::Io {
            path: path.to_path_buf(),
            detail: format!("no randomness from the OS: {e}"),
        })?;
        let token = format!("cs_{}", crate::store::hex(&secret));
        self.tokens.push(Entry::new(
            name,
            role,
            agent_id,
            sha256_hex(token.as_bytes()),
        ));
        self.check(path)?;
        Ok(token)
    }

    /// Adds a client certificate (its first certificate, PEM).
    pub fn add_cert(
        &mut self,
        path: &Path,
        name: &str,
        role: Role,
        agent_id: Option<String>,
        cert_pem: &Path,
    ) -> Result<String, AuthError> {
        if self.taken(name) {
            return Err(AuthError::Duplicate {
                path: path.to_path_buf(),
                name: name.into(),
            });
        }
        let certs = super::tls::certs("--cert", cert_pem).map_err(|e| AuthError::Invalid {
            path: cert_pem.to_path_buf(),
            detail: e.to_string(),
        })?;
        let sha256 = sha256_hex(&certs[0]);
        self.certs
            .push(Entry::new(name, role, agent_id, sha256.clone()));
        self.check(path)?;
        Ok(sha256)
    }

    /// Removes the entry named `name`; whether there was one.
    pub fn revoke(&mut self, name: &str) -> bool {
        let before = self.tokens.len() + self.certs.len();
        self.tokens.retain(|t| t.name != name);
        self.certs.retain(|c| c.name != name);
        before != self.tokens.len() + self.certs.len()
    }
}

/// Credentials by hash.
#[derive(Debug, Default)]
struct Known {
    tokens: HashMap<String, Principal>,
    certs: HashMap<String, Principal>,
}

impl Known {
    fn from_file(file: &AccessFile) -> Self {
        let by_hash = |entries: &[Entry]| {
            entries
                .iter()
                .map(|e| (e.sha256.clone(), e.principal()))
                .collect()
        };
        Known {
            tokens: by_hash(&file.tokens),
            certs: by_hash(&file.certs),
        }
    }
}

/// The server's view of the access file: who each credential is. Clones
/// share it, so [`Access::reload`] (on SIGHUP) reaches every request.
#[derive(Debug, Clone)]
pub struct Access {
    known: Arc<RwLock<Known>>,
    open: bool,
}

impl Access {
    /// No access file: every caller is admin. Only for a server on a
    /// loopback address (the caller of this checks), with a warning.
    pub fn open() -> Self {
        Access {
            known: Arc::default(),
            open: true,
        }
    }

    /// From a loaded access file.
    pub fn from_file(file: &AccessFile) -> Self {
        Access {
            known: Arc::new(RwLock::new(Known::from_file(file))),
            open: false,
        }
    }

    /// Takes the entries of `file` from now on (new tokens work, revoked
    /// ones stop at their next request; streams already open go on).
    pub fn reload(&self, file: &AccessFile) {
        *self.known.write().unwrap_or_else(PoisonError::into_inner) = Known::from_file(file);
    }

    /// Whether every caller is let in (no access file).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Who sent `req`: its bearer token, else its client certificate.
    /// UNAUTHENTICATED (logged, without the token) when neither is known.
    pub fn identify<T>(&self, rpc: &'static str, req: &Request<T>) -> Result<Principal, Status> {
        if self.open {
            return Ok(Principal {
                name: "open".into(),
                role: Role::Admin,
                agent_id: None,
            });
        }
        let peer = req.remote_addr();
        let known = |hash: &str, pick: fn(&Known) -> &HashMap<String, Principal>| {
            pick(&self.known.read().unwrap_or_else(PoisonError::into_inner))
                .get(hash)
                .cloned()
        };
        let deny = |why: &'static str, msg: &'static str| {
            warn!(rpc, peer = ?peer, why, "unauthenticated request refused");
            crate::telemetry::denied("unauthenticated");
            Err(Status::unauthenticated(msg))
        };
        if let Some(h) = req.metadata().get("authorization") {
            let Some(token) = h.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
                return deny(
                    "malformed authorization",
                    "the authorization header must be `Bearer <token>`",
                );
            };
            return match known(&sha256_hex(token.trim().as_bytes()), |k| &k.tokens) {
                Some(p) => Ok(p),
                None => deny(
                    "unknown token",
                    "unknown or revoked token; ask an admin for one (`callscope auth add-token`)",
                ),
            };
        }
        if let Some(certs) = req.peer_certs()
            && let Some(first) = certs.first()
        {
            return match known(&sha256_hex(first), |k| &k.certs) {
                Some(p) => Ok(p),
                None => deny(
                    "unknown certificate",
                    "this client certificate is not in the access file (`callscope auth add-cert`)",
                ),
            };
        }
        deny(
            "no credential",
            "no credential: send `authorization: Bearer <token>` (clients: --token or CALLSCOPE_TOKEN) or a registered client certificate",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, agent: Option<&str>) -> Principal {
        Principal {
            name: "t".into(),
            role,
            agent_id: agent.map(str::to_string),
        }
    }

    #[test]
    fn roles_allow_what_the_docs_say() {
        let agent = who(Role::Agent, Some("a1"));
        assert!(agent.may(Action::WatchCall("a1")));
        assert!(!agent.may(Action::WatchCall("a2")));
        assert!(agent.may(Action::ReadReport("a1")));
        assert!(!agent.may(Action::ReadReport("a2")));
        assert!(agent.may(Action::WatchFloor)); // narrowed to its own calls by the server
        assert!(!agent.may(Action::StreamCall));
        let ingest = who(Role::Ingest, None);
        assert!(ingest.may(Action::StreamCall));
        assert!(!ingest.may(Action::ReplaceCall));
        assert!(!ingest.may(Action::ReadReport("a1")));
        let sup = who(Role::Supervisor, None);
        assert!(sup.may(Action::WatchFloor) && sup.may(Action::WatchCall("a2")));
        assert!(!sup.may(Action::Recording));
        let qa = who(Role::Qa, None);
        assert!(qa.may(Action::ReadReport("a2")) && qa.may(Action::ListCalls));
        assert!(!qa.may(Action::Recording) && !qa.may(Action::AuditTrail));
        assert!(!qa.may(Action::WatchFloor));
        let comp = who(Role::Compliance, None);
        assert!(comp.may(Action::Recording) && comp.may(Action::AuditTrail));
        assert!(!comp.may(Action::StreamCall));
        let admin = who(Role::Admin, None);
        assert!(admin.may(Action::ReplaceCall));
        let e = agent
            .require("WatchCall", Action::WatchCall("a2"))
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        assert!(e.message().contains("own agent id"), "{}", e.message());
    }

    #[test]
    fn tokens_are_stored_hashed_and_identify_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.toml");
        let mut f = AccessFile::load_or_new(&path).unwrap();
        let t = f
            .add_token(&path, "desk-1", Role::Agent, Some("a1".into()))
            .unwrap();
        f.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t), "the token itself is never written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "access file is private: {mode:o}");
        }
        let access = Access::from_file(&AccessFile::load(&path).unwrap());
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
        let p = access.identify("test", &req).unwrap();
        assert_eq!(p.role, Role::Agent);
        assert_eq!(p.agent_id.as_deref(), Some("a1"));
        let mut bad = Request::new(());
        bad.metadata_mut()
            .insert("authorization", "Bearer cs_nope".parse().unwrap());
        let e = access.identify("test", &bad).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert!(!e.message().contains("cs_nope"));
        let e = access.identify("test", &Request::new(())).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        // Revoked and reloaded (as serve does on SIGHUP): refused from the
        // next request, through every clone.
        let shared = access.clone();
        f.revoke("desk-1");
        access.reload(&f);
        let mut again = Request::new(());
        again
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
        let e = shared.identify("test", &again).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        // Names are unique; an agent needs an id.
        f.add_token(&path, "desk-1", Role::Qa, None).unwrap();
        assert!(f.add_token(&path, "desk-1", Role::Qa, None).is_err());
        assert!(f.add_token(&path, "desk-2", Role::Agent, None).is_err());
    }

    #[test]
    fn unknown_fields_and_roles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "[[token]]\nname='x'\nrole='root'\nsha256='00'\n").unwrap();
        assert!(AccessFile::load(&path).is_err());
        std::fs::write(
            &path,
            format!(
                "[[token]]\nname='x'\nrole='qa'\nsha256='{}'\nextra=1\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
        assert!(AccessFile::load(&path).is_err());
    }
}
