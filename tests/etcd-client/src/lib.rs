//! A small launcher for the etcd-client suite: a cluster of `detcd serve` processes on
//! loopback ports, started with etcd's own flags, and a runner that gives each test a
//! tokio runtime and a time limit. Dropping the cluster kills every process it started,
//! by its pid, also when the test panics (and then prints the members' logs).
//!
//! The etcdctl suite's launcher (`tests/support/cluster.rs` of the root crate) names the
//! binary through `CARGO_BIN_EXE_detcd` and the etcdctl tool paths, which exist only in
//! the root crate's test build, so this project has its own, smaller one that takes the
//! binary from `DETCD_BIN`.
//!
//! `DETCD_E2E_TARGET=etcd` runs the same tests against a real etcd (`/usr/bin/etcd`, or
//! `ETCD_BIN`), to check the tests themselves.

use std::collections::HashSet;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use etcd_client;
use etcd_client::{Client, ConnectOptions};

/// How long a member may take to say it serves clients.
pub const READY_LIMIT: Duration = Duration::from_secs(20);
/// The client's limit on one unary request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a member prints once it serves clients (etcd 3.4's capnslog line, also detcd's).
const READY_LINE: &str = "ready to serve client requests";

/// The server the suite drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Detcd,
    Etcd,
}

impl Target {
    pub fn from_env() -> Target {
        match std::env::var("DETCD_E2E_TARGET").as_deref() {
            Ok("etcd") => Target::Etcd,
            Ok("detcd") | Err(_) => Target::Detcd,
            Ok(other) => panic!("DETCD_E2E_TARGET={other}: expected `etcd` or `detcd`"),
        }
    }

    /// The server command, without member flags.
    fn command(self) -> Command {
        match self {
            Target::Detcd => {
                let bin = std::env::var_os("DETCD_BIN").unwrap_or_else(|| {
                    panic!(
                        "DETCD_BIN is not set: point it at a detcd binary (`cargo build \
                         --release` at the repo root, then DETCD_BIN=<target>/release/detcd); \
                         tests/etcd-client/run.sh does both"
                    )
                });
                let bin = PathBuf::from(bin);
                assert!(bin.is_file(), "DETCD_BIN={} is not a file", bin.display());
                let mut c = Command::new(bin);
                c.arg("serve");
                c
            }
            Target::Etcd => {
                Command::new(std::env::var_os("ETCD_BIN").unwrap_or_else(|| "/usr/bin/etcd".into()))
            }
        }
    }
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    ready: Arc<AtomicBool>,
}

pub struct Cluster {
    pub target: Target,
    members: Vec<Member>,
    _dir: tempfile::TempDir,
}

/// Ports handed out in this process, so two tests running at once never get the same one.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago and that this process has not used yet.
fn free_port() -> u16 {
    let mut taken = TAKEN.lock().expect("ports lock");
    let taken = taken.get_or_insert_with(HashSet::new);
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local addr").port();
        if taken.insert(port) {
            return port;
        }
    }
}

/// Appends every line of `pipe` to `log`; sets `ready` when the ready line comes.
fn collect(pipe: impl Read + Send + 'static, log: Arc<Mutex<String>>, ready: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if line.contains(READY_LINE) {
                ready.store(true, Ordering::SeqCst);
            }
            let mut log = log.lock().expect("log lock");
            log.push_str(&line);
            log.push('\n');
        }
    });
}

impl Cluster {
    /// Starts `size` members on fresh loopback ports and waits until each serves clients.
    pub fn start(size: usize) -> Cluster {
        let target = Target::from_env();
        let dir = tempfile::Builder::new().prefix("detcd-eclient-").tempdir().expect("temp dir");
        let members: Vec<Member> = (0..size)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
                log: Arc::new(Mutex::new(String::new())),
                ready: Arc::new(AtomicBool::new(false)),
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster { target, members, _dir: dir };
        for i in 0..size {
            let m = &mut cluster.members[i];
            let client = format!("http://127.0.0.1:{}", m.client_port);
            let peer = format!("http://127.0.0.1:{}", m.peer_port);
            let mut cmd = target.command();
            cmd.args(["--name", &m.name])
                .arg("--data-dir")
                .arg(cluster._dir.path().join(format!("{}.etcd", m.name)))
                .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &initial_cluster, "--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "detcd-eclient"])
                .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
            collect(child.stderr.take().expect("stderr"), m.log.clone(), m.ready.clone());
            collect(child.stdout.take().expect("stdout"), m.log.clone(), m.ready.clone());
            m.child = Some(child);
        }
        let deadline = Instant::now() + READY_LIMIT;
        for i in 0..size {
            loop {
                let m = &mut cluster.members[i];
                if m.ready.load(Ordering::SeqCst) {
                    break;
                }
                let name = m.name.clone();
                if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    panic!("{name} exited with {status} before serving");
                }
                if Instant::now() > deadline {
                    panic!("{name} not ready within {READY_LIMIT:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        cluster
    }

    /// `127.0.0.1:port` of member `i`'s client listener.
    pub fn endpoint(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    pub fn endpoints(&self) -> Vec<String> {
        (0..self.members.len()).map(|i| self.endpoint(i)).collect()
    }

    /// (name, client URL, peer URL) of every member, as started.
    pub fn urls(&self) -> Vec<(String, String, String)> {
        self.members
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    format!("http://127.0.0.1:{}", m.client_port),
                    format!("http://127.0.0.1:{}", m.peer_port),
                )
            })
            .collect()
    }

    /// The last lines of every member's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for m in &self.members {
            let log = m.log.lock().expect("log lock");
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            all.push_str(&format!("==== {} log (last {} lines)\n", m.name, tail.len()));
            for l in tail {
                all.push_str(l);
                all.push('\n');
            }
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// What a test body gets: the cluster's endpoints and facts about it.
#[derive(Clone)]
pub struct Ctx {
    pub target: Target,
    pub endpoints: Vec<String>,
    /// (name, client URL, peer URL) of every member.
    pub urls: Vec<(String, String, String)>,
}

impl Ctx {
    /// A client of every member.
    pub async fn client(&self) -> Client {
        connect(&self.endpoints).await
    }

    /// A client of member `i` only.
    pub async fn client_of(&self, i: usize) -> Client {
        connect(&self.endpoints[i..=i]).await
    }
}

pub async fn connect(endpoints: &[String]) -> Client {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(REQUEST_TIMEOUT);
    Client::connect(endpoints, Some(options))
        .await
        .unwrap_or_else(|e| panic!("connect to {endpoints:?}: {e}"))
}

/// Starts a cluster of `size` members, runs `body` on a fresh runtime, and fails the test
/// if it runs longer than `limit`. The cluster is killed afterwards, pass or fail.
pub fn run<F, Fut>(size: usize, limit: Duration, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let cluster = Cluster::start(size);
    let ctx = Ctx { target: cluster.target, endpoints: cluster.endpoints(), urls: cluster.urls() };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = rt.block_on(async { tokio::time::timeout(limit, body(ctx)).await });
    rt.shutdown_timeout(Duration::from_secs(2));
    if outcome.is_err() {
        panic!("test still running after {limit:?}");
    }
    drop(cluster);
}

/// `fut`, or a panic naming `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {limit:?}"))
}
