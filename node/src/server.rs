//! [`run`]: one etcd member from a checked [`ServeConfig`]. It opens and locks the
//! data dir, recovers the durable state (refusing a corrupt one), builds the core's
//! `EtcdNode`, starts the driver, the peer transport and the client port (gRPC and,
//! in the real build, HTTP `/metrics` `/health` `/version`), says
//! `ready to serve client requests`, and stops gracefully on SIGTERM or SIGINT.

use crate::disk::{DiskError, FileStorage, Storage};
use crate::driver::{Driver, Handle, Stopped, COMMANDS_QUEUED_MAX, PEER_INBOX_MAX};
use crate::flags::{ServeConfig, Url};
use crate::join::{self, Identity, JoinError};
use crate::listen;
use crate::metrics::Metrics;
use crate::pb;
use crate::peer::{PeerService, Peers};
use crate::roster::Roster;
use crate::service::{self, Api};
use crate::tls::{Tls, TlsError};
use detcd_core::process::Process;
use detcd_core::server::EtcdNode;
use detcd_core::types::DurableState;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

/// gRPC accepts this much more than `--max-request-bytes` (etcd's `grpcOverheadBytes`),
/// so that an oversized request reaches the server's own check and gets etcd's error.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Why a member could not start or had to stop.
#[derive(Debug)]
pub enum ServeError {
    Disk(DiskError),
    /// The durable state does not make a member (a record that decodes but is wrong).
    Restore(String),
    Bind {
        url: String,
        source: std::io::Error,
    },
    Unsupported(String),
    Io(std::io::Error),
    /// A TLS file named by a flag is missing or unusable.
    Tls(TlsError),
    /// The member could not find its place in the cluster (or was removed from it).
    Join(JoinError),
    /// The member applied its own removal from the cluster and stopped.
    Removed,
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Disk(e) => write!(f, "{e}"),
            ServeError::Restore(e) => write!(f, "cannot recover the member from its data dir: {e}"),
            ServeError::Bind { url, source } => write!(f, "cannot listen on {url}: {source}"),
            ServeError::Unsupported(what) => f.write_str(what),
            ServeError::Io(e) => write!(f, "{e}"),
            ServeError::Tls(e) => write!(f, "cannot set up TLS: {e}"),
            ServeError::Join(e) => write!(f, "{e}"),
            ServeError::Removed => f.write_str(
                "the member has been permanently removed from the cluster; it stopped (remove \
                 its data dir and add it again to rejoin)",
            ),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<TlsError> for ServeError {
    fn from(e: TlsError) -> Self {
        ServeError::Tls(e)
    }
}

impl From<DiskError> for ServeError {
    fn from(e: DiskError) -> Self {
        ServeError::Disk(e)
    }
}

/// Runs the member on its data dir until it is told to stop (or its disk fails).
pub async fn run(cfg: ServeConfig) -> Result<(), ServeError> {
    // Before the data dir is touched: a bad certificate is a configuration error.
    Tls::load(&cfg)?;
    let options = crate::disk::FileStorageOptions {
        sync_delay: cfg.test_fsync_delay,
        hold_unsynced: cfg.test_unsynced_lost_on_kill,
        ack_before_fsync: cfg.test_ack_before_fsync,
        ..Default::default()
    };
    let mut storage = FileStorage::open_with(&cfg.data_dir, options)?;
    // Load (verify) before counting this start: a start refused on a damaged data dir
    // must leave every byte of it as it was.
    let durable = storage.load()?;
    let fresh = durable == DurableState::default();
    let dialer = Tls::load(&cfg)?.dialer;
    let identity =
        join::resolve(&cfg, fresh, &dialer, Some(&cfg.data_dir)).await.map_err(ServeError::Join)?;
    let incarnation = bump_incarnation(&cfg.data_dir).map_err(ServeError::Io)?;
    let data_dir = cfg.data_dir.clone();
    let stopped = run_loaded(cfg, storage, durable, incarnation, identity).await;
    if let Err(ServeError::Removed) = &stopped {
        join::mark_removed(&data_dir).map_err(ServeError::Io)?;
    }
    stopped
}

/// Runs the member on `storage`, started for the `incarnation`-th time, until it is
/// told to stop (or its disk fails). The simulation gives it a simulated disk.
pub async fn run_on<S: Storage + Send + 'static>(
    cfg: ServeConfig,
    mut storage: S,
    incarnation: u64,
) -> Result<(), ServeError> {
    let dialer = Tls::load(&cfg)?.dialer;
    let durable = storage.load()?;
    let fresh = durable == DurableState::default();
    let identity = join::resolve(&cfg, fresh, &dialer, None).await.map_err(ServeError::Join)?;
    run_loaded(cfg, storage, durable, incarnation, identity).await
}

async fn run_loaded<S: Storage + Send + 'static>(
    cfg: ServeConfig,
    storage: S,
    durable: DurableState,
    incarnation: u64,
    identity: Identity,
) -> Result<(), ServeError> {
    let me = identity.member_id;
    let cluster_id = identity.cluster_id;
    let node_cfg = core_config(&cfg, incarnation, &identity);
    let fresh = durable == DurableState::default();
    let mut node =
        EtcdNode::new(node_cfg, durable).map_err(|e| ServeError::Restore(e.to_string()))?;
    if fresh && identity.voters.len() > 1 {
        // A brand-new cluster has no leader to wait for: as etcd, advance all but one
        // election tick so the first election starts about one heartbeat after start
        // (the randomised part of the timeout still separates the members).
        for _ in 1..cfg.election_ticks() {
            node.tick();
        }
    }
    info!(
        name = %cfg.name,
        member = format_args!("{me:x}"),
        cluster = format_args!("{cluster_id:x}"),
        data_dir = %cfg.data_dir.display(),
        "starting member"
    );

    let quota = cfg.quota_backend_bytes;
    let metrics = Arc::new(Metrics::new(quota));
    // Dial the members the recovered state lists, and those a running member listed.
    let roster = Arc::new(Roster::new(&identity.seed));
    roster.applied(&[], &node.members());
    let tls = Tls::load(&cfg)?;
    let peers = Peers::start(
        me,
        cluster_id,
        &roster.peer_urls(),
        metrics.clone(),
        tls.dialer.clone(),
        roster.clone(),
    );
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMANDS_QUEUED_MAX);
    let (peer_tx, peer_rx) = mpsc::channel(PEER_INBOX_MAX);
    let handle = Handle::new(cmd_tx, roster.clone());
    let (driver, observed) =
        Driver::new(node, storage, peers, roster.clone(), metrics.clone(), quota);
    let (stop_tx, stop_rx) = watch::channel(false);

    // Bind everything before saying ready, so a taken port is an error at start.
    let mut client_listeners = Vec::new();
    for url in &cfg.listen_client_urls {
        client_listeners.push(listen::bind(url).await?);
    }
    let mut peer_listeners = Vec::new();
    for url in &cfg.listen_peer_urls {
        peer_listeners.push(listen::bind(url).await?);
    }

    let directory = service::cluster::Directory::new(
        me,
        cfg.name.clone(),
        cfg.advertise_client_urls.iter().map(Url::to_string).collect(),
        roster.clone(),
        tls.dialer.clone(),
    );
    let api =
        Arc::new(Api { handle: handle.clone(), metrics: metrics.clone(), members: directory });
    let request_bytes_max = usize::try_from(cfg.request_bytes_max).unwrap_or(usize::MAX);
    let decode_max = request_bytes_max.saturating_add(GRPC_OVERHEAD_BYTES);

    for listener in peer_listeners {
        let svc = PeerService {
            me,
            cluster_id,
            roster: roster.clone(),
            initial_members: identity.initial_members.clone(),
            handle: handle.clone(),
            to_driver: peer_tx.clone(),
            metrics: metrics.clone(),
            message_bytes_max: usize::try_from(quota).unwrap_or(usize::MAX).saturating_mul(2),
            attributes: pb::peer::Attributes {
                name: cfg.name.clone(),
                client_urls: cfg.advertise_client_urls.iter().map(Url::to_string).collect(),
            },
        };
        let mut stop = stop_rx.clone();
        let tls = tls.peer.clone();
        tokio::spawn(async move {
            let result = listen::serve_peers(listener, tls, svc, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
            if let Err(e) = result {
                error!(error = %e, "peer listener failed");
            }
        });
    }

    for listener in client_listeners {
        let (api, observed) = (api.clone(), observed.clone());
        let mut stop = stop_rx.clone();
        let tls = tls.client.clone();
        tokio::spawn(async move {
            let result =
                crate::client_port::serve(listener, tls, api, decode_max, observed, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                error!(error = %e, "client listener failed");
            }
        });
    }

    let mut driver_task =
        tokio::spawn(driver.run(cmd_rx, peer_rx, cfg.tick_interval(), stop_rx.clone()));
    // As etcd, ready once the member has joined the cluster: a leader is known, so the
    // first client requests are not refused with `no leader`.
    let mut leader = observed.clone();
    tokio::select! {
        _ = leader.wait_for(|o| o.leader.is_some()) => {}
        _ = shutdown_signal() => {
            let _ = stop_tx.send(true);
            let _ = driver_task.await;
            return Ok(());
        }
        done = &mut driver_task => {
            return match done {
                Ok(Stopped::Disk(e)) => Err(ServeError::Disk(e)),
                Ok(Stopped::Removed) => Err(ServeError::Removed),
                _ => Err(ServeError::Unsupported("the driver stopped before a leader was known".into())),
            };
        }
    }
    info!(
        urls = %cfg.advertise_client_urls.iter().map(Url::to_string).collect::<Vec<_>>().join(","),
        "ready to serve client requests"
    );

    let stopped = tokio::select! {
        _ = shutdown_signal() => {
            info!("received a stop signal; stopping");
            let _ = stop_tx.send(true);
            (&mut driver_task).await
        }
        done = &mut driver_task => done,
    };
    let _ = stop_tx.send(true);
    match stopped {
        Ok(Stopped::Shutdown) => {
            info!("stopped");
            Ok(())
        }
        Ok(Stopped::Disk(e)) => Err(ServeError::Disk(e)),
        Ok(Stopped::Removed) => Err(ServeError::Removed),
        Err(e) => Err(ServeError::Unsupported(format!("driver task failed: {e}"))),
    }
}

/// The core's configuration from etcd's flags. One tick is one heartbeat interval.
fn core_config(
    cfg: &ServeConfig,
    incarnation: u64,
    identity: &Identity,
) -> detcd_core::server::Config {
    let me = identity.member_id;
    let voters = identity.voters.clone();
    // Election timeouts are randomised from a seed, never OS randomness: the member id
    // and the incarnation make each run of each member differ.
    let seed = me ^ incarnation.rotate_left(32);
    let mut raft = detcd_core::raft::Config::new(me, voters, seed);
    raft.election_ticks = cfg.election_ticks();
    raft.heartbeat_ticks = 1;
    raft.pre_vote = true;
    raft.check_quorum = true;
    // The invariant checks cost a leader 1.5-2.5 % of its CPU. The simulator is where
    // they hunt bugs (under faults, on every seed); this binary holds it too, so they
    // are compiled in here and switched off for a real member.
    raft.check_invariants = false;
    let mut c = detcd_core::server::Config::new(raft, identity.cluster_id);
    c.incarnation = incarnation;
    c.initial_members = identity.initial_members.clone();
    c.ticks_per_second = cfg.ticks_per_second().round().max(1.0) as u64;
    c.request_bytes_max = usize::try_from(cfg.request_bytes_max).unwrap_or(usize::MAX);
    c.txn_ops_max = usize::try_from(cfg.txn_ops_max).unwrap_or(usize::MAX);
    c.snapshot_entries = cfg.snapshot_count.max(1);
    c.auth_token_ttl_secs = cfg.auth_token_ttl.as_secs();
    // etcd's request timeout: 5 s plus two election timeouts.
    c.request_timeout_ticks =
        cfg.ticks_in(Duration::from_secs(5) + 2 * cfg.election_timeout).max(1);
    c.lease_checkpoint_ticks = cfg.ticks_in(Duration::from_secs(5)).max(1);
    c.watch_progress_ticks = cfg.ticks_in(Duration::from_secs(600)).max(1);
    c
}

/// Counts the starts of this member in its data dir, so proposal and read ids of one
/// run are never mistaken for another's (the core's `Config::incarnation`). Written
/// atomically: temp file, fsync, rename, directory fsync.
fn bump_incarnation(data_dir: &Path) -> std::io::Result<u64> {
    use std::io::Write;
    let dir = data_dir.join("member");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("incarnation");
    let last = match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let next = last + 1;
    let tmp = dir.join("incarnation.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(next.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(next)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(all(unix, not(madsim)))]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(all(unix, not(madsim))))]
    std::future::pending::<()>().await
}

/// Runs a member on a tokio runtime of its own, for the `detcd serve` command.
#[cfg(not(madsim))]
pub fn run_blocking(cfg: ServeConfig) -> Result<(), ServeError> {
    let threads = match cfg.worker_threads {
        0 => {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            worker_threads_default(cores)
        }
        n => usize::from(n),
    };
    // One thread: a current-thread runtime, whose tasks wake each other without a
    // cross-thread hand-off (no futex, no work stealing). Disk writes and fsyncs run on
    // tokio's blocking pool either way.
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = builder.enable_all().thread_name("detcd").build().map_err(ServeError::Io)?;
    runtime.block_on(run(cfg))
}

/// How many threads run a member's tasks when `--worker-threads` leaves it open: one
/// per two cores, at most [`WORKER_THREADS_DEFAULT_MAX`]. A member's Raft and state
/// machine run in one task; more threads only spread the client and peer connections,
/// and the kernel's network stack and the disk need the other cores.
pub fn worker_threads_default(cores: usize) -> usize {
    (cores / 2).clamp(1, WORKER_THREADS_DEFAULT_MAX)
}

/// See [`worker_threads_default`].
pub const WORKER_THREADS_DEFAULT_MAX: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_worker_count_is_half_the_cores_from_one_to_the_cap() {
        let picked: Vec<usize> = [1, 2, 3, 4, 8, 16, 64].map(worker_threads_default).into();
        assert_eq!(picked, [1, 1, 1, 2, 4, WORKER_THREADS_DEFAULT_MAX, WORKER_THREADS_DEFAULT_MAX]);
    }

    #[test]
    fn a_real_member_runs_without_the_invariant_checks() {
        let cfg = crate::flags::tests::config(&[]);
        let core = core_config(&cfg, 1, &join::bootstrapped(&cfg));
        assert!(!core.raft.check_invariants);
    }
}
