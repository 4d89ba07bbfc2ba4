//! The peer network between members: one TCP proxy in front of each member's peer
//! port. Members advertise the proxy's port, so every peer connection passes through
//! one; the proxy learns which member dialed (see [`crate::origin`]) and so knows, for
//! each direction of the connection, which directed link (from, to) its bytes travel.
//!
//! A cut link stops forwarding in that direction only, without reading: the bytes wait
//! in the kernel's buffers and the sender's window closes, as behind a black hole, and
//! the stream resumes intact when the link heals (a closed TCP stream would make the
//! fault a disconnect, which members notice at once). A delayed link holds each chunk
//! until its arrival time plus the delay, in order.

use crate::origin;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};

const CHUNK_BYTES_MAX: usize = 16 * 1024;
/// Chunks in flight per direction of a delayed connection.
const CHUNKS_IN_FLIGHT_MAX: usize = 256;
/// How often a stopped direction looks again whether its link has healed.
const BLOCKED_POLL: Duration = Duration::from_millis(20);
/// Attempts to find a connection's dialer before dropping the connection (the dialer
/// retries; an unidentified connection would leak past a partition).
const IDENTIFY_ATTEMPTS_MAX: u32 = 5;

/// The state of the peer network: which directed links are cut and which delayed.
#[derive(Default, Debug)]
pub struct LinkRules {
    cut: BTreeSet<(usize, usize)>,
    delay: BTreeMap<(usize, usize), Duration>,
}

impl LinkRules {
    pub fn cut(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }
    pub fn delay(&mut self, from: usize, to: usize, d: Duration) {
        self.delay.insert((from, to), d);
    }
    pub fn heal(&mut self) {
        self.cut.clear();
        self.delay.clear();
    }
    fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut.contains(&(from, to))
    }
    fn delay_of(&self, from: usize, to: usize) -> Duration {
        self.delay.get(&(from, to)).copied().unwrap_or_default()
    }
}

/// What every proxy shares: the rules, and the current pid of each member (for
/// identifying dialers).
#[derive(Default)]
pub struct Network {
    pub rules: Mutex<LinkRules>,
    pub pids: Mutex<Vec<Option<u32>>>,
}

impl Network {
    fn is_cut(&self, from: usize, to: usize) -> bool {
        self.rules.lock().expect("rules lock").is_cut(from, to)
    }
    fn delay_of(&self, from: usize, to: usize) -> Duration {
        self.rules.lock().expect("rules lock").delay_of(from, to)
    }
}

/// Binds the proxy for member `to` on `listen_port`, forwarding to its peer port
/// `member_port`; the returned task serves until aborted.
pub async fn start(
    net: Arc<Network>,
    to: usize,
    listen_port: u16,
    member_port: u16,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(("127.0.0.1", listen_port)).await?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((inbound, addr)) = listener.accept().await else { continue };
            let net = net.clone();
            tokio::spawn(async move {
                let _ = serve(net, to, inbound, addr.port(), listen_port, member_port).await;
            });
        }
    }))
}

async fn identify(net: &Network, from_port: u16, to_port: u16) -> Option<usize> {
    for _ in 0..IDENTIFY_ATTEMPTS_MAX {
        let pids = net.pids.lock().expect("pids lock").clone();
        let found =
            tokio::task::spawn_blocking(move || origin::dialer(&pids, from_port, to_port)).await;
        if let Ok(Some(i)) = found {
            return Some(i);
        }
        sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn serve(
    net: Arc<Network>,
    to: usize,
    inbound: TcpStream,
    from_port: u16,
    listen_port: u16,
    member_port: u16,
) -> std::io::Result<()> {
    let Some(from) = identify(&net, from_port, listen_port).await else {
        return Ok(());
    };
    let outbound = TcpStream::connect(("127.0.0.1", member_port)).await?;
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    // Bytes the dialer writes travel from -> to; the answers travel to -> from.
    let up = pump(net.clone(), from, to, in_read, out_write);
    let down = pump(net, to, from, out_read, in_write);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
    Ok(())
}

/// Forwards one direction of a connection along link (from, to), obeying its rules.
async fn pump(
    net: Arc<Network>,
    from: usize,
    to: usize,
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut write: tokio::net::tcp::OwnedWriteHalf,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT_MAX);
    let reader_net = net.clone();
    let reader = async move {
        let mut buf = vec![0u8; CHUNK_BYTES_MAX];
        loop {
            while reader_net.is_cut(from, to) {
                sleep(BLOCKED_POLL).await;
            }
            let n = match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((arrived, chunk)) = rx.recv().await {
            loop {
                if net.is_cut(from, to) {
                    sleep(BLOCKED_POLL).await;
                    continue;
                }
                let due = arrived + net.delay_of(from, to);
                if Instant::now() >= due {
                    break;
                }
                sleep(due.saturating_duration_since(Instant::now()).min(BLOCKED_POLL)).await;
            }
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// An echo server standing in for member 1; this test process dials as member 0.
    async fn echo() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        port
    }

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    async fn round_trip(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        s.write_all(b"ping").await.ok()?;
        let mut buf = [0u8; 4];
        tokio::time::timeout(limit, s.read_exact(&mut buf)).await.ok()?.ok()?;
        assert_eq!(&buf, b"ping");
        Some(started.elapsed())
    }

    #[test]
    fn cut_links_hold_bytes_until_healed_and_delays_apply_per_direction() {
        runtime().block_on(async {
            let member_port = echo().await;
            let net = Arc::new(Network::default());
            *net.pids.lock().unwrap() = vec![Some(std::process::id()), None];
            let proxy_port = free_port();
            let task = start(net.clone(), 1, proxy_port, member_port).await.unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", proxy_port)).await.unwrap();
            let short = Duration::from_millis(300);
            assert!(round_trip(&mut s, Duration::from_secs(5)).await.is_some(), "open link");

            // One way: the answers (1 -> 0) are held, and arrive once healed, intact.
            net.rules.lock().unwrap().cut(1, 0);
            assert!(round_trip(&mut s, short).await.is_none(), "cut 1 -> 0 still answered");
            net.rules.lock().unwrap().heal();
            let mut buf = [0u8; 4];
            tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf, b"ping");

            // A link cut elsewhere (0 -> 2) does not touch this one.
            net.rules.lock().unwrap().cut(0, 2);
            assert!(round_trip(&mut s, Duration::from_secs(5)).await.is_some());
            net.rules.lock().unwrap().heal();

            net.rules.lock().unwrap().delay(0, 1, Duration::from_millis(200));
            let took = round_trip(&mut s, Duration::from_secs(5)).await.expect("delayed, not cut");
            assert!(took >= Duration::from_millis(200), "delay not applied: {took:?}");
            task.abort();
        });
    }

    #[test]
    fn a_connection_from_no_member_is_dropped() {
        runtime().block_on(async {
            let member_port = echo().await;
            let net = Arc::new(Network::default());
            *net.pids.lock().unwrap() = vec![None, None];
            let proxy_port = free_port();
            let task = start(net, 1, proxy_port, member_port).await.unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", proxy_port)).await.unwrap();
            assert!(round_trip(&mut s, Duration::from_secs(2)).await.is_none());
            task.abort();
        });
    }
}
