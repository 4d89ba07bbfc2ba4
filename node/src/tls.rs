//! TLS for the client and peer ports, from etcd's flags ([`crate::flags::TlsFiles`]):
//! the files are read and checked once at start ([`Tls::load`]), so a missing or bad
//! file stops the member before it binds; an `https://` listener then serves TLS only
//! ([`accept`]: a plaintext client fails the handshake and is dropped), and with
//! `--client-cert-auth` only certificates that chain to `--trusted-ca-file`. Peers are
//! dialled with the peer certificate as the client certificate and verified against
//! `--peer-trusted-ca-file` ([`PeerDialer`]).
//!
//! Real build only: madsim's tonic passes messages as values, so under `--cfg madsim`
//! an `https://` URL is refused at start instead.

use crate::flags::ServeConfig;
use std::fmt;
use std::path::PathBuf;

/// Why the TLS files of a port cannot be used.
#[derive(Debug)]
pub struct TlsError {
    /// The flag that named the file, e.g. `--peer-key-file`.
    pub flag: String,
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.flag, self.path.display(), self.reason)
    }
}

impl std::error::Error for TlsError {}

#[cfg(not(madsim))]
pub use real::*;

#[cfg(madsim)]
pub use simulated::*;

#[cfg(madsim)]
mod simulated {
    use super::*;

    /// Under simulation no port serves TLS; the type has no value.
    #[derive(Clone)]
    pub enum ServerTls {}

    /// Dials peers over madsim's simulated network, which carries no TLS.
    #[derive(Clone, Default)]
    pub struct PeerDialer;

    impl PeerDialer {
        pub async fn connect(
            &self,
            url: String,
        ) -> Result<
            crate::pb::peer::peer_client::PeerClient<tonic::transport::Channel>,
            tonic::transport::Error,
        > {
            crate::pb::peer::peer_client::PeerClient::connect(url).await
        }
    }

    /// The TLS of a member: none under simulation.
    pub struct Tls {
        pub client: Option<ServerTls>,
        pub peer: Option<ServerTls>,
        pub dialer: PeerDialer,
    }

    impl Tls {
        pub fn load(cfg: &ServeConfig) -> Result<Tls, TlsError> {
            let https = cfg
                .listen_client_urls
                .iter()
                .chain(&cfg.listen_peer_urls)
                .find(|u| u.scheme() == crate::flags::Scheme::Https);
            if let Some(url) = https {
                return Err(TlsError {
                    flag: "--listen-client-urls/--listen-peer-urls".into(),
                    path: PathBuf::from(url.to_string()),
                    reason: "TLS is not simulated; use http:// URLs under madsim".into(),
                });
            }
            Ok(Tls { client: None, peer: None, dialer: PeerDialer })
        }
    }
}

#[cfg(not(madsim))]
mod real {
    use super::*;
    use crate::flags::{Port, Scheme, TlsFiles};
    use crate::pb::peer::peer_client::PeerClient;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::rustls;
    use tokio_rustls::server::TlsStream;
    use tokio_rustls::TlsAcceptor;

    /// How long a client may take over its TLS handshake before it is dropped.
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Handshakes in progress on one listener at once; further connections wait in
    /// the kernel's accept queue.
    const HANDSHAKES_MAX: usize = 256;
    /// Finished handshakes waiting for the server to take them.
    const ACCEPTED_QUEUED_MAX: usize = 64;

    /// The server side of one TLS port.
    pub type ServerTls = Arc<rustls::ServerConfig>;

    /// The TLS of a member, loaded from its flags.
    pub struct Tls {
        /// Set when a client listen URL is `https://`.
        pub client: Option<ServerTls>,
        /// Set when a peer listen URL is `https://`.
        pub peer: Option<ServerTls>,
        pub dialer: PeerDialer,
    }

    impl Tls {
        /// Reads and checks every TLS file the flags name (whether or not a listener
        /// uses it, as etcd does).
        pub fn load(cfg: &ServeConfig) -> Result<Tls, TlsError> {
            let https =
                |urls: &[crate::flags::Url]| urls.iter().any(|u| u.scheme() == Scheme::Https);
            let client_cfg = server_config(&cfg.client_tls, Port::Client)?;
            let peer_cfg = server_config(&cfg.peer_tls, Port::Peer)?;
            let client = if https(&cfg.listen_client_urls) { client_cfg } else { None };
            let peer = if https(&cfg.listen_peer_urls) { peer_cfg } else { None };
            let dialer = PeerDialer::new(&cfg.peer_tls)?;
            Ok(Tls { client, peer, dialer })
        }
    }

    fn flag(port: Port, name: &str) -> String {
        format!("--{}{name}", port.prefix())
    }

    fn read(port: Port, name: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
        std::fs::read(path).map_err(|e| TlsError {
            flag: flag(port, name),
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    fn certs(
        port: Port,
        name: &str,
        path: &Path,
    ) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let bytes = read(port, name, path)?;
        let bad =
            |reason: String| TlsError { flag: flag(port, name), path: path.to_owned(), reason };
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in the file".into()));
        }
        Ok(certs)
    }

    fn key(port: Port, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
        let bytes = read(port, "key-file", path)?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError {
            flag: flag(port, "key-file"),
            path: path.to_owned(),
            reason: format!("no PEM private key in the file: {e}"),
        })
    }

    fn roots(port: Port, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
        let mut store = rustls::RootCertStore::empty();
        for cert in certs(port, "trusted-ca-file", path)? {
            store.add(cert).map_err(|e| TlsError {
                flag: flag(port, "trusted-ca-file"),
                path: path.to_owned(),
                reason: format!("not a usable CA certificate: {e}"),
            })?;
        }
        Ok(store)
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// The server configuration of one port, or None when it has no certificate.
    fn server_config(files: &TlsFiles, port: Port) -> Result<Option<ServerTls>, TlsError> {
        let (Some(cert_path), Some(key_path)) = (&files.cert_file, &files.key_file) else {
            return Ok(None);
        };
        let chain = certs(port, "cert-file", cert_path)?;
        let key = key(port, key_path)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = match (&files.trusted_ca_file, files.client_cert_auth) {
            (Some(ca), true) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots(port, ca)?),
                    provider(),
                )
                .build()
                .map_err(|e| TlsError {
                    flag: flag(port, "trusted-ca-file"),
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
                builder.with_client_cert_verifier(verifier)
            }
            (Some(ca), false) => {
                // etcd reads the CA even when it does not ask for client certificates.
                roots(port, ca)?;
                builder.with_no_client_auth()
            }
            (None, _) => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| TlsError {
            flag: flag(port, "key-file"),
            path: key_path.clone(),
            reason: format!("cannot be used with {}: {e}", cert_path.display()),
        })?;
        // gRPC needs HTTP/2; the client port also serves /metrics and /health over HTTP/1.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }

    /// Accepted connections on a TLS port, handshakes done. Each handshake runs in a
    /// task of its own (bounded in number and time), so a slow or silent client holds
    /// up no other; one that fails (plaintext, no certificate, a certificate of another
    /// CA) is logged and dropped. Ends when the server stops taking connections.
    pub fn accept(
        listener: TcpListener,
        config: ServerTls,
    ) -> impl futures::Stream<Item = std::io::Result<TlsStream<TcpStream>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_QUEUED_MAX);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_MAX));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
                let conn = tokio::select! {
                    conn = listener.accept() => conn,
                    _ = tx.closed() => return,
                };
                let (stream, addr) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        continue;
                    }
                };
                // As for plaintext connections (see listen::accept_nodelay).
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(Ok(tls)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(remote = %addr, error = %e, "rejected connection: TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::warn!(remote = %addr, "rejected connection: TLS handshake timed out");
                        }
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    /// Dials peers: plaintext for `http://` URLs; for `https://`, the peer certificate
    /// is the client certificate and the peer's certificate must chain to
    /// `--peer-trusted-ca-file` and name the host dialled.
    #[derive(Clone, Default)]
    pub struct PeerDialer {
        tls: Option<tonic::transport::ClientTlsConfig>,
    }

    impl PeerDialer {
        fn new(files: &TlsFiles) -> Result<PeerDialer, TlsError> {
            let Some(ca) = &files.trusted_ca_file else { return Ok(PeerDialer { tls: None }) };
            // Read through the same checks as the server side, so a bad file is named.
            certs(Port::Peer, "trusted-ca-file", ca)?;
            let mut tls = tonic::transport::ClientTlsConfig::new().ca_certificate(
                tonic::transport::Certificate::from_pem(read(Port::Peer, "trusted-ca-file", ca)?),
            );
            if let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) {
                certs(Port::Peer, "cert-file", cert)?;
                self::key(Port::Peer, key)?;
                tls = tls.identity(tonic::transport::Identity::from_pem(
                    read(Port::Peer, "cert-file", cert)?,
                    read(Port::Peer, "key-file", key)?,
                ));
            }
            Ok(PeerDialer { tls: Some(tls) })
        }

        pub async fn connect(
            &self,
            url: String,
        ) -> Result<PeerClient<tonic::transport::Channel>, tonic::transport::Error> {
            let mut endpoint = tonic::transport::Endpoint::from_shared(url)?;
            if endpoint.uri().scheme_str() == Some("https") {
                if let Some(tls) = &self.tls {
                    endpoint = endpoint.tls_config(tls.clone())?;
                }
            }
            Ok(PeerClient::new(endpoint.connect().await?))
        }
    }
}
