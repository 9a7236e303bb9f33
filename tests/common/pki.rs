//! A test PKI made with rcgen: a CA, a server certificate and client certificates.

use std::path::{Path, PathBuf};

/// A CA, a server certificate for 127.0.0.1/localhost and two client
/// certificates, as PEM files in `dir`.
pub struct Pki {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server's certificate (localhost, 127.0.0.1).
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// (cert, key) of a client the access file knows.
    pub known: (PathBuf, PathBuf),
    /// (cert, key) of a client signed by the CA but not registered.
    pub stranger: (PathBuf, PathBuf),
}

/// Makes the PKI's files in `dir`.
pub fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "callscope test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let write = |name: &str, pem: String| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    let leaf = |names: Vec<String>, file: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (
            write(&format!("{file}.pem"), cert.pem()),
            write(&format!("{file}.key"), key.serialize_pem()),
        )
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "server");
    Pki {
        ca: write("ca.pem", ca_cert.pem()),
        server_cert,
        server_key,
        known: leaf(vec!["floor-wall".into()], "known"),
        stranger: leaf(vec!["stranger".into()], "stranger"),
    }
}
