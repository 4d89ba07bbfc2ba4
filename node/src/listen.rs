//! Listening sockets, the one place where the two worlds differ in how a server is
//! started: the real build binds a TCP listener and serves the connections it accepts
//! (TCP_NODELAY set); under `--cfg madsim` a server is given its address and madsim's
//! simulated network delivers to it. Everything the servers run is shared.

use crate::flags::Url;
use crate::server::ServeError;

/// A bound client or peer listener.
#[cfg(not(madsim))]
pub type Listener = tokio::net::TcpListener;
/// Under madsim the server binds when it starts serving; the address is all it needs.
#[cfg(madsim)]
pub type Listener = std::net::SocketAddr;

/// Binds `url` (before the member says it is ready, so a taken port fails the start).
#[cfg(not(madsim))]
pub async fn bind(url: &Url) -> Result<Listener, ServeError> {
    tokio::net::TcpListener::bind(url.authority())
        .await
        .map_err(|source| ServeError::Bind { url: url.to_string(), source })
}

#[cfg(madsim)]
pub async fn bind(url: &Url) -> Result<Listener, ServeError> {
    use std::net::ToSocketAddrs;
    url.authority().to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(|| {
        ServeError::Bind {
            url: url.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an address"),
        }
    })
}

/// Serves the peer transport on `listener` (over TLS when `tls` is given) until
/// `signal` resolves.
pub async fn serve_peers(
    listener: Listener,
    tls: Option<crate::tls::ServerTls>,
    svc: crate::peer::PeerService,
    signal: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let server = crate::pb::peer::peer_server::PeerServer::new(svc)
        .max_decoding_message_size(crate::peer::FRAME_BYTES_MAX * 2);
    let router = tonic::transport::Server::builder().add_service(server);
    #[cfg(not(madsim))]
    return match tls {
        Some(tls) => {
            router.serve_with_incoming_shutdown(crate::tls::accept(listener, tls), signal).await
        }
        None => router.serve_with_incoming_shutdown(accept_nodelay(listener), signal).await,
    };
    #[cfg(madsim)]
    {
        // ServerTls has no value under simulation.
        let _: Option<crate::tls::ServerTls> = tls;
        router.serve_with_shutdown(listener, signal).await
    }
}

/// Accepted connections with TCP_NODELAY set. A server given its own incoming stream
/// gets no socket options from tonic, and with Nagle's algorithm on, a small response
/// that follows another still unacknowledged waits for the client's delayed ACK (~40 ms):
/// 64 clients' ranges on loopback ran at ~1,400/s with p50 44 ms, ~31,000/s and 1.8 ms
/// with it set.
#[cfg(not(madsim))]
pub fn accept_nodelay(
    listener: Listener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |conn| {
        if let Ok(c) = &conn {
            // A socket that refuses the option still works, only slower.
            let _ = c.set_nodelay(true);
        }
        conn
    })
}
