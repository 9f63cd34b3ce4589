//! A throw-away certificate authority and a server certificate for 127.0.0.1 and localhost,
//! written as PEM files for a test server's `tls_cert_file`/`tls_key_file` and its clients'
//! CA bundle.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// PEM files of one generated CA and the server certificate it signed.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate: what clients must trust (`BAO_CACERT`, hvac `verify=`).
    pub ca_cert: PathBuf,
    /// The server certificate (leaf only).
    pub cert: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
}

/// Generates a fresh CA and server certificate into `dir` (created if missing).
pub fn generate(dir: &Path) -> TlsFiles {
    fs::create_dir_all(dir).expect("create tls dir");

    let ca_key = KeyPair::generate().expect("generate CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "coffer black-box test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).expect("self-sign CA");

    let server_key = KeyPair::generate().expect("generate server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server cert params");
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&server_key, &ca, &ca_key)
        .expect("sign server cert");

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    fs::write(&files.ca_cert, ca.pem()).expect("write CA cert");
    fs::write(&files.cert, cert.pem()).expect("write server cert");
    fs::write(&files.key, server_key.serialize_pem()).expect("write server key");
    files
}
