//! TLS for the listeners and the clients (rustls, ring provider).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

/// Why TLS could not be set up. Stop: fix the files or the flags named.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{flag} {path}: {detail}")]
    Pem {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("TLS set-up: {0}; check that --tls-key belongs to --tls-cert")]
    Config(String),
    /// A plain-TCP listener was asked for on an address other machines can reach.
    #[error(
        "{what} on {addr} without TLS: plain TCP is only allowed on a loopback address (127.0.0.1, ::1); give --tls-cert and --tls-key, or listen on 127.0.0.1"
    )]
    PlainOffLoopback {
        /// Which listener.
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Only one half of a client certificate pair was given.
    #[error("--cert and --key go together: give both or neither")]
    HalfIdentity,
}

/// The server's certificate files (`serve --tls-cert --tls-key [--client-ca]`).
#[derive(Debug, Clone)]
pub struct ServerTlsFiles {
    /// The server's certificate chain, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// CA certificates (PEM) whose client certificates are accepted; with
    /// it, clients may identify by certificate (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Pem {
        flag,
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Reads every certificate in a PEM file.
pub fn certs(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs_in(flag, path, &read(flag, path)?)
}

/// The certificates in `pem`, read from `path`.
fn certs_in(
    flag: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            flag,
            path: path.to_path_buf(),
            detail: format!("not a PEM certificate file ({e})"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            flag,
            path: path.to_path_buf(),
            detail: "no CERTIFICATE block in it".into(),
        });
    }
    Ok(certs)
}

/// The private key in `pem`, read from `path`.
fn key_in(flag: &'static str, path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem {
        flag,
        path: path.to_path_buf(),
        detail: format!("no usable PRIVATE KEY block in it ({e})"),
    })
}

/// Whether `host` (a name or address from a URL, IPv6 in brackets or not)
/// is this machine: `localhost` or a loopback address. Plain connections
/// that carry call data are allowed only there.
pub fn loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether plain TCP may be used on `addr` (loopback only).
pub fn plain_allowed(what: &'static str, addr: SocketAddr) -> Result<(), TlsError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(TlsError::PlainOffLoopback { what, addr })
    }
}

impl ServerTlsFiles {
    /// The gRPC server's TLS settings.
    pub fn grpc(&self) -> Result<tonic::transport::ServerTlsConfig, TlsError> {
        // Loaded and checked (the pair too) now, not at the first
        // connection, so a bad file is named before tonic's own error.
        let loaded = self.load()?;
        let identity = tonic::transport::Identity::from_pem(loaded.cert_pem, loaded.key_pem);
        let mut cfg = tonic::transport::ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.client_ca {
            let pem = read("--client-ca", ca)?;
            certs_in("--client-ca", ca, &pem)?;
            cfg = cfg
                .client_ca_root(tonic::transport::Certificate::from_pem(pem))
                // Tokens remain a way in; a certificate is one more.
                .client_auth_optional(true);
        }
        Ok(cfg)
    }

    /// A rustls server configuration for the other listeners (metrics).
    pub fn rustls(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.load().map(|l| l.config)
    }

    /// Reads the certificate and key once: their PEM text, and a rustls
    /// configuration built from them (which checks that they belong together).
    fn load(&self) -> Result<Loaded, TlsError> {
        let cert_pem = read("--tls-cert", &self.cert)?;
        let key_pem = read("--tls-key", &self.key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                certs_in("--tls-cert", &self.cert, &cert_pem)?,
                key_in("--tls-key", &self.key, &key_pem)?,
            )
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Loaded {
            cert_pem,
            key_pem,
            config: Arc::new(cfg),
        })
    }
}

/// The server's certificate and key as read, and checked as a pair.
struct Loaded {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    config: Arc<rustls::ServerConfig>,
}

/// How a client trusts and identifies to the server (`--ca`, `--cert`, `--key`).
#[derive(Debug, Clone, Default)]
pub struct ClientTlsFiles {
    /// CA certificate(s) that signed the server's certificate (PEM);
    /// without it, the system's web roots are not used: give it for a
    /// private CA.
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM), for mutual TLS.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
}

impl ClientTlsFiles {
    /// The channel's TLS settings for `host`.
    pub fn channel(&self, host: &str) -> Result<tonic::transport::ClientTlsConfig, TlsError> {
        let mut cfg = tonic::transport::ClientTlsConfig::new().domain_name(host.to_string());
        if let Some(ca) = &self.ca {
            let pem = read("--ca", ca)?;
            certs_in("--ca", ca, &pem)?;
            cfg = cfg.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => {
                let (cert_pem, key_pem) = (read("--cert", c)?, read("--key", k)?);
                certs_in("--cert", c, &cert_pem)?;
                key_in("--key", k, &key_pem)?;
                cfg = cfg.identity(tonic::transport::Identity::from_pem(cert_pem, key_pem));
            }
            (None, None) => {}
            _ => return Err(TlsError::HalfIdentity),
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tcp_only_on_loopback() {
        assert!(plain_allowed("gRPC", "127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(plain_allowed("gRPC", "[::1]:1".parse().unwrap()).is_ok());
        let e = plain_allowed("gRPC", "0.0.0.0:50051".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("--tls-cert"), "{e}");
        assert!(plain_allowed("gRPC", "10.1.2.3:1".parse().unwrap()).is_err());
    }

    #[test]
    fn missing_files_are_named() {
        let f = ServerTlsFiles {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
            client_ca: None,
        };
        let e = f.grpc().unwrap_err().to_string();
        assert!(e.starts_with("--tls-cert /nonexistent/cert.pem"), "{e}");
    }
}
