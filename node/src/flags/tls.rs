//! etcd's TLS flags for the client port (`--cert-file --key-file --trusted-ca-file
//! --client-cert-auth`) and the peer port (the same with `--peer-`), and how they must
//! agree with `https://` listen URLs. Only paths are checked here; the files are read
//! when the member starts (`crate::tls`), so a bad file is an error at start.

use super::{FlagError, Scheme, Url};
use std::path::PathBuf;

/// The TLS files of one port (client or peer), as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub trusted_ca_file: Option<PathBuf>,
    /// Only clients (or peers) whose certificate chains to `trusted_ca_file` connect.
    pub client_cert_auth: bool,
}

/// Which port a set of TLS flags is for: it names the flags in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Client,
    Peer,
}

impl Port {
    /// The prefix of this port's TLS flags (`peer-` or nothing).
    pub fn prefix(self) -> &'static str {
        match self {
            Port::Client => "",
            Port::Peer => "peer-",
        }
    }

    /// The word etcd uses for the URLs of this port.
    pub fn noun(self) -> &'static str {
        match self {
            Port::Client => "client",
            Port::Peer => "peer",
        }
    }
}

impl TlsFiles {
    /// True when a certificate and key are given, so the port can serve TLS.
    pub fn has_identity(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// Checks the flags of one port against its listen URLs, in etcd's words where
    /// etcd has them.
    pub fn check(&self, port: Port, listen: &[Url]) -> Result<(), FlagError> {
        let p = port.prefix();
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(FlagError::TlsPair { prefix: p });
        }
        if self.client_cert_auth && self.trusted_ca_file.is_none() {
            return Err(FlagError::TlsClientCertAuthWithoutCa { prefix: p });
        }
        if let Some(url) = listen.iter().find(|u| u.scheme() == Scheme::Https) {
            if !self.has_identity() {
                return Err(FlagError::TlsMissing {
                    prefix: p,
                    noun: port.noun(),
                    url: url.to_string(),
                });
            }
        }
        Ok(())
    }
}
