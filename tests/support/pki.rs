//! Certificates made by the test itself (rcgen): a CA, member certificates that serve
//! both as server and as client certificates (as etcd's peer certificates do), and
//! client certificates whose common name is the user. Written as PEM files into a
//! directory the caller owns.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate and its key, as files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A certificate authority whose certificate is `ca_file`.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    name: String,
    pub ca_file: PathBuf,
}

impl Authority {
    /// A new CA named `name`; its files go into `dir`.
    pub fn new(dir: &Path, name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-signed CA");
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, issuer.pem()).expect("write CA");
        Authority { issuer, dir: dir.to_owned(), name: name.to_owned(), ca_file }
    }

    /// A certificate for a member on loopback: valid for 127.0.0.1 and localhost, for
    /// serving and for dialling peers.
    pub fn member(&self, file: &str) -> CertFiles {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("member params");
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(file, params)
    }

    /// A client certificate whose common name is `user`.
    pub fn client(&self, user: &str) -> CertFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(&format!("client-{user}"), params)
    }

    fn issue(&self, file: &str, params: CertificateParams) -> CertFiles {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let base = format!("{}-{file}", self.name);
        let files = CertFiles {
            cert: self.dir.join(format!("{base}.pem")),
            key: self.dir.join(format!("{base}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write cert");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }
}

/// The TLS of a test cluster: one CA; a member certificate for the client and peer
/// ports (client and peer certificates required); etcdctl's client certificate.
#[derive(Clone, Debug)]
pub struct ClusterTls {
    pub ca_file: PathBuf,
    pub member: CertFiles,
    pub client: CertFiles,
}

impl ClusterTls {
    /// Made by `ca`, with etcdctl's certificate for `user`.
    pub fn new(ca: &Authority, user: &str) -> ClusterTls {
        ClusterTls {
            ca_file: ca.ca_file.clone(),
            member: ca.member("member"),
            client: ca.client(user),
        }
    }

    /// `detcd serve`'s (or etcd's) flags for TLS on both ports with client certificates
    /// required.
    pub fn serve_flags(&self) -> Vec<String> {
        let p = |p: &PathBuf| p.display().to_string();
        vec![
            format!("--cert-file={}", p(&self.member.cert)),
            format!("--key-file={}", p(&self.member.key)),
            format!("--trusted-ca-file={}", p(&self.ca_file)),
            "--client-cert-auth".to_owned(),
            format!("--peer-cert-file={}", p(&self.member.cert)),
            format!("--peer-key-file={}", p(&self.member.key)),
            format!("--peer-trusted-ca-file={}", p(&self.ca_file)),
            "--peer-client-cert-auth".to_owned(),
        ]
    }

    /// etcdctl's flags to connect with the client certificate.
    pub fn etcdctl_flags(&self) -> Vec<String> {
        let p = |p: &PathBuf| p.display().to_string();
        vec![
            format!("--cacert={}", p(&self.ca_file)),
            format!("--cert={}", p(&self.client.cert)),
            format!("--key={}", p(&self.client.key)),
        ]
    }
}
