//! A cluster of real members, detcd's or etcd's, started with etcd's own flags: each
//! member with its own data dir and log file under the run's directory, either on
//! 127.0.0.1 with its peer port behind a proxy of [`crate::proxy`], or in its own network
//! namespace of [`crate::netns`]. The link faults of either network go through here.
//! Every member is killed by pid when the cluster drops, on success and on every error
//! path, before its namespaces are removed.

use crate::config::{ChaosConfig, NetworkMode, Target};
use crate::netns::Netns;
use crate::netns_links::{LinkFaults, Slow};
use crate::process::{self, Spawner};
use crate::proxy::{self, Network};
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

/// The heartbeat and election timeout every member runs with, milliseconds.
pub const HEARTBEAT_MS: u64 = 100;
pub const ELECTION_TIMEOUT_MS: u64 = 1000;
const CLUSTER_TOKEN: &str = "detcd-chaos";
/// The ports members use on their own namespace's address.
const NETNS_CLIENT_PORT: u16 = 2379;
const NETNS_PEER_PORT: u16 = 2380;

pub struct Member {
    pub name: String,
    pub client_port: u16,
    /// Where the member listens for peers.
    peer_port: u16,
    /// Where peers reach it: its proxy.
    proxy_port: u16,
    data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    /// Started this many times.
    pub starts: u64,
    pub paused: bool,
    /// Test-only clock rate for detcd members (1.0: real time).
    pub clock_rate: f64,
    /// Test-only extra time per WAL fsync for detcd members, milliseconds.
    pub fsync_delay_ms: u64,
    /// detcd only: WAL bytes stay in the process until fsynced, so a kill loses them.
    pub lose_unsynced: bool,
    /// detcd only, the negative control: acknowledge WAL records before fsyncing them.
    pub ack_before_fsync: bool,
}

pub struct Cluster {
    pub target: Target,
    server: PathBuf,
    pub members: Vec<Member>,
    pub net: Arc<Network>,
    spawner: Spawner,
    proxies: Vec<tokio::task::JoinHandle<()>>,
    /// Set for `--network netns`; dropped after the members are killed.
    pub netns: Option<Netns>,
    links: LinkFaults,
}

#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

/// Loopback ports free a moment ago, all distinct.
fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    let mut held = Vec::new();
    let mut ports = BTreeSet::new();
    while ports.len() < n {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| ClusterError(format!("cannot bind a port on 127.0.0.1: {e}")))?;
        let port = l.local_addr().map_err(|e| ClusterError(e.to_string()))?.port();
        ports.insert(port);
        // Held until all are chosen, so the kernel does not hand one out twice.
        held.push(l);
    }
    Ok(ports.into_iter().collect())
}

impl Cluster {
    /// Creates the members' directories and the proxies; starts nothing yet.
    pub async fn new(cfg: &ChaosConfig, dir: &Path) -> Result<Cluster, ClusterError> {
        let net = Arc::new(Network::default());
        *net.pids.lock().expect("pids lock") = vec![None; cfg.members];
        let mut members = Vec::new();
        let mut proxies = Vec::new();
        let netns = match cfg.network {
            NetworkMode::Netns => Some(Netns::create(cfg.members).map_err(|e| ClusterError(e.0))?),
            NetworkMode::Proxy => None,
        };
        let ports = match netns {
            Some(_) => [NETNS_CLIENT_PORT, NETNS_PEER_PORT, NETNS_PEER_PORT].repeat(cfg.members),
            None => free_ports(3 * cfg.members)?,
        };
        for i in 0..cfg.members {
            let (client_port, peer_port, proxy_port) =
                (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
            if netns.is_none() {
                let proxy = proxy::start(net.clone(), i, proxy_port, peer_port)
                    .await
                    .map_err(|e| ClusterError(format!("peer proxy on port {proxy_port}: {e}")))?;
                proxies.push(proxy);
            }
            members.push(Member {
                name: format!("m{i}"),
                client_port,
                peer_port,
                proxy_port,
                data_dir: dir.join(format!("m{i}.data")),
                log: dir.join(format!("m{i}.log")),
                child: None,
                starts: 0,
                paused: false,
                clock_rate: 1.0,
                fsync_delay_ms: 0,
                lose_unsynced: false,
                ack_before_fsync: false,
            });
        }
        Ok(Cluster {
            target: cfg.target,
            server: cfg.server.clone(),
            members,
            net,
            spawner: Spawner::new(),
            proxies,
            netns,
            links: LinkFaults::default(),
        })
    }

    /// Where member `i` listens: its namespace's address, or loopback.
    fn host(&self, i: usize) -> String {
        match &self.netns {
            Some(n) => n.member_ip(i),
            None => "127.0.0.1".into(),
        }
    }

    pub fn network(&self) -> NetworkMode {
        if self.netns.is_some() {
            NetworkMode::Netns
        } else {
            NetworkMode::Proxy
        }
    }

    /// Cuts the directed link `from` -> `to` (until [`Cluster::heal_links`]).
    pub fn cut(&mut self, from: usize, to: usize) {
        match self.netns {
            Some(_) => self.links.cut(from, to),
            None => self.net.rules.lock().expect("rules lock").cut(from, to),
        }
    }

    /// Slows the directed link `from` -> `to`; the proxies can only delay.
    pub fn slow(&mut self, from: usize, to: usize, how: Slow) {
        match (&self.netns, how) {
            (Some(_), _) => self.links.slow(from, to, how),
            (None, Slow::Delay(d)) => self.net.rules.lock().expect("rules lock").delay(from, to, d),
            (None, Slow::Reorder(_)) => panic!("reordering needs --network netns"),
        }
    }

    /// Drops `percent` of the packets on `from` -> `to`; namespaces only.
    pub fn lose(&mut self, from: usize, to: usize, percent: u32) {
        assert!(self.netns.is_some(), "packet loss needs --network netns");
        self.links.lose(from, to, percent);
    }

    /// Puts the link faults asked for since the last call in force.
    pub fn apply_links(&self) -> Result<(), ClusterError> {
        match &self.netns {
            Some(n) => self.links.apply(n).map_err(ClusterError),
            None => Ok(()),
        }
    }

    /// Ends every link fault.
    pub fn heal_links(&mut self) -> Result<(), ClusterError> {
        self.net.rules.lock().expect("rules lock").heal();
        self.links.heal();
        self.apply_links()
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    pub fn client_url(&self, i: usize) -> String {
        format!("http://{}:{}", self.host(i), self.members[i].client_port)
    }

    fn initial_cluster(&self) -> String {
        let peers: Vec<String> = (0..self.size())
            .map(|i| {
                let m = &self.members[i];
                format!("{}=http://{}:{}", m.name, self.host(i), m.proxy_port)
            })
            .collect();
        peers.join(",")
    }

    fn command(&self, i: usize) -> Command {
        let m = &self.members[i];
        let host = self.host(i);
        let client = format!("http://{host}:{}", m.client_port);
        let listen_peer = format!("http://{host}:{}", m.peer_port);
        let advertise_peer = format!("http://{host}:{}", m.proxy_port);
        let mut cmd = Command::new(&self.server);
        if self.target == Target::Detcd {
            cmd.arg("serve");
        }
        cmd.args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &listen_peer])
            .args(["--initial-advertise-peer-urls", &advertise_peer])
            .args(["--initial-cluster", &self.initial_cluster(), "--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", CLUSTER_TOKEN])
            .args(["--heartbeat-interval", &HEARTBEAT_MS.to_string()])
            .args(["--election-timeout", &ELECTION_TIMEOUT_MS.to_string()]);
        match self.target {
            Target::Etcd => {
                cmd.args(["--logger=zap", "--log-outputs=stderr", "--log-level=error"]);
            }
            Target::Detcd => {
                if m.fsync_delay_ms != 0 {
                    cmd.arg(format!("--test-fsync-delay-ms={}", m.fsync_delay_ms));
                }
                if m.lose_unsynced {
                    cmd.arg("--test-unsynced-writes-lost-on-kill");
                }
                if m.ack_before_fsync {
                    cmd.arg("--test-unsafe-ack-before-fsync");
                }
                if m.clock_rate != 1.0 {
                    cmd.arg(format!(
                        "--test-clock-percent={}",
                        (m.clock_rate * 100.0).round() as u32
                    ));
                }
            }
        }
        cmd
    }

    /// Starts member `i` (again) on its data dir; does not wait for it to serve.
    pub fn start(&mut self, i: usize) -> Result<(), ClusterError> {
        if self.members[i].child.is_some() {
            return Ok(());
        }
        let mut cmd = self.command(i);
        if let Some(n) = &self.netns {
            let fd = n.handle_fd(i);
            // The member itself enters the namespace between fork and exec, so the pid
            // kept here is the server's, with no `ip netns exec` wrapper in between.
            // SAFETY: setns is async-signal-safe; `fd` stays open in this process until
            // the cluster drops, after every member is killed.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let m = &mut self.members[i];
        m.starts += 1;
        let banner = format!(
            "start {} (clock rate {}, fsync delay {} ms, unsynced lost on kill {}, ack before fsync {})",
            m.starts, m.clock_rate, m.fsync_delay_ms, m.lose_unsynced, m.ack_before_fsync
        );
        let child = self
            .spawner
            .spawn(cmd, &m.log, &banner)
            .map_err(|e| ClusterError(format!("cannot start {}: {e}", self.server.display())))?;
        self.net.pids.lock().expect("pids lock")[i] = Some(child.id());
        m.child = Some(child);
        m.paused = false;
        Ok(())
    }

    pub fn start_all(&mut self) -> Result<(), ClusterError> {
        (0..self.size()).try_for_each(|i| self.start(i))
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    /// kill -9.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            process::kill(&mut c);
        }
        self.net.pids.lock().expect("pids lock")[i] = None;
        self.members[i].paused = false;
    }

    /// Deletes a killed member's data dir (the negative control's amnesia).
    pub fn wipe(&mut self, i: usize) -> Result<(), ClusterError> {
        assert!(self.members[i].child.is_none(), "wipe of a running member");
        let dir = &self.members[i].data_dir;
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ClusterError(format!("cannot delete {}: {e}", dir.display())))
            }
            _ => Ok(()),
        }
    }

    /// SIGSTOP: the member stalls as in a long GC pause.
    pub fn pause(&mut self, i: usize) {
        if let Some(c) = &self.members[i].child {
            process::signal(c.id(), libc::SIGSTOP);
            self.members[i].paused = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(c) = &self.members[i].child {
            process::signal(c.id(), libc::SIGCONT);
        }
        self.members[i].paused = false;
    }

    /// A member that exited by itself (crashed, refused to start): its status.
    pub fn exited(&mut self, i: usize) -> Option<String> {
        let c = self.members[i].child.as_mut()?;
        let status = c.try_wait().ok().flatten()?;
        self.members[i].child = None;
        self.net.pids.lock().expect("pids lock")[i] = None;
        Some(status.to_string())
    }

    /// The pids of every running member, for the watchdog.
    pub fn pids(&self) -> Arc<Mutex<Vec<Option<u32>>>> {
        Arc::new(Mutex::new(self.net.pids.lock().expect("pids lock").clone()))
    }

    /// The last lines of a member's log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        for p in &self.proxies {
            p.abort();
        }
    }
}
