//! A cluster of real server processes on loopback, `detcd serve` or etcd, started with
//! etcd's own flags, and the etcdctl commands a test sends it. Dropping the cluster
//! kills every process it started, by pid, also when the test panics.

use super::pki::ClusterTls;
use super::process::{collect_with, run_bounded, Background};
use super::tools::{Target, ETCD, ETCDCTL};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a member may take to say it serves clients.
pub const READY_LIMIT: Duration = Duration::from_secs(20);
/// etcdctl's own limit on one request, and the hard limit on the whole etcdctl process.
pub const COMMAND_TIMEOUT: &str = "10s";
pub const ETCDCTL_LIMIT: Duration = Duration::from_secs(30);
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The same token for every cluster, so ids computed the etcd way are the same for two
/// clusters on the same ports.
pub const CLUSTER_TOKEN: &str = "detcd-e2e";

pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    data_dir: PathBuf,
    child: Option<Child>,
    /// Everything the member wrote, over all its incarnations.
    log: Arc<Mutex<String>>,
    /// How many times it has said it is ready: one per incarnation.
    ready: Arc<AtomicUsize>,
    starts: usize,
    /// For a member that joined a running cluster: the environment `etcdctl member
    /// add` printed, which configures it instead of the cluster's bootstrap flags.
    join_env: Vec<(String, String)>,
}

pub struct Cluster {
    pub target: Target,
    members: Vec<Member>,
    /// Flags every member gets after the ones the cluster sets itself.
    extra: Vec<String>,
    /// TLS on the client and peer ports, client certificates required.
    tls: Option<ClusterTls>,
    dir: tempfile::TempDir,
}

/// Ports handed out in this process, so two tests running at once never get the same one.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago and that this process has not used yet.
pub fn free_port() -> u16 {
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

/// What a member prints once it serves clients. detcd prints etcd's capnslog line; etcd
/// with `--logger=zap` logs this instead, right after the same readiness point.
fn ready_line(target: Target, tls: bool) -> &'static str {
    match (target, tls) {
        (Target::Detcd, _) => "ready to serve client requests",
        (Target::Etcd, false) => "serving client traffic insecurely",
        (Target::Etcd, true) => "serving client traffic securely",
    }
}

impl Cluster {
    /// Starts `members` members on fresh ports and waits until each serves clients.
    pub fn start(target: Target, members: usize) -> Cluster {
        Cluster::start_with(target, members, &[])
    }

    /// As `start`, with `extra` flags for every member (`--snapshot-count` given there
    /// replaces the cluster's own).
    pub fn start_with(target: Target, members: usize, extra: &[&str]) -> Cluster {
        let ports: Vec<(u16, u16)> = (0..members).map(|_| (free_port(), free_port())).collect();
        Cluster::start_on_with(target, &ports, extra, None)
    }

    /// As `start`, with TLS on every client and peer port and client certificates
    /// required; etcdctl connects with `tls`'s client certificate.
    pub fn start_tls(target: Target, members: usize, tls: ClusterTls) -> Cluster {
        let ports: Vec<(u16, u16)> = (0..members).map(|_| (free_port(), free_port())).collect();
        Cluster::start_on_with(target, &ports, &[], Some(tls))
    }

    /// As `start`, with given (client, peer) ports: two clusters on the same ports and
    /// names get the same etcd-computed member and cluster ids.
    pub fn start_on(target: Target, ports: &[(u16, u16)]) -> Cluster {
        Cluster::start_on_with(target, ports, &[], None)
    }

    fn start_on_with(
        target: Target,
        ports: &[(u16, u16)],
        extra: &[&str],
        tls: Option<ClusterTls>,
    ) -> Cluster {
        let dir = tempfile::Builder::new().prefix("detcd-e2e-").tempdir().expect("temp dir");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, &(client_port, peer_port))| Member {
                name: format!("m{i}"),
                client_port,
                peer_port,
                data_dir: dir.path().join(format!("m{i}.etcd")),
                child: None,
                log: Arc::new(Mutex::new(String::new())),
                ready: Arc::new(AtomicUsize::new(0)),
                starts: 0,
                join_env: Vec::new(),
            })
            .collect();
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let mut cluster = Cluster { target, members, extra, tls, dir };
        for i in 0..cluster.members.len() {
            cluster.spawn(i);
        }
        for i in 0..cluster.members.len() {
            cluster.wait_ready(i);
        }
        cluster
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// (client, peer) port of every member.
    pub fn ports(&self) -> Vec<(u16, u16)> {
        self.members.iter().map(|m| (m.client_port, m.peer_port)).collect()
    }

    /// A scratch directory that lives as long as the cluster.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Member `i`'s client endpoint for etcdctl: `host:port`, or an `https://` URL
    /// when the cluster serves TLS.
    pub fn endpoint(&self, i: usize) -> String {
        match self.tls {
            Some(_) => format!("https://127.0.0.1:{}", self.members[i].client_port),
            None => format!("127.0.0.1:{}", self.members[i].client_port),
        }
    }

    pub fn endpoints(&self) -> String {
        (0..self.size()).map(|i| self.endpoint(i)).collect::<Vec<_>>().join(",")
    }

    fn initial_cluster(&self) -> String {
        let peers: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}={}://127.0.0.1:{}", m.name, self.scheme(), m.peer_port))
            .collect();
        peers.join(",")
    }

    /// The directory member `i` keeps its data in.
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.members[i].data_dir
    }

    /// Everything member `i` wrote, over all its incarnations.
    pub fn log(&self, i: usize) -> String {
        self.members[i].log.lock().expect("log lock").clone()
    }

    /// Whether member `i` was started and has not been killed or stopped since.
    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    /// The command that starts member `i`, for a test that runs it by itself (a start
    /// expected to fail, a second process on the same data dir).
    pub fn serve_command(&self, i: usize) -> Command {
        let initial_cluster = self.initial_cluster();
        let target = self.target;
        let m = &self.members[i];
        let client = format!("{}://127.0.0.1:{}", self.scheme(), m.client_port);
        let peer = format!("{}://127.0.0.1:{}", self.scheme(), m.peer_port);
        let mut cmd = match target {
            Target::Detcd => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_detcd"));
                c.arg("serve");
                c
            }
            Target::Etcd => Command::new(ETCD),
        };
        cmd.arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
        if m.join_env.is_empty() {
            cmd.args(["--name", &m.name, "--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &initial_cluster, "--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", CLUSTER_TOKEN]);
        } else {
            cmd.envs(m.join_env.iter().map(|(k, v)| (k, v)));
        }
        if !self.extra.iter().any(|f| f.starts_with("--snapshot-count")) {
            cmd.args(["--snapshot-count", "10000"]);
        }
        cmd.args(&self.extra);
        if let Some(tls) = &self.tls {
            cmd.args(tls.serve_flags());
        }
        if target == Target::Etcd {
            cmd.args(["--logger=zap", "--log-outputs=stderr"]);
        }
        cmd
    }

    fn spawn(&mut self, i: usize) {
        let target = self.target;
        let mut cmd = self.serve_command(i);
        let m = &mut self.members[i];
        assert!(m.child.is_none(), "{} is already running", m.name);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        m.starts += 1;
        m.log.lock().expect("log lock").push_str(&format!("--- start {} ---\n", m.starts));
        let ready = Arc::clone(&m.ready);
        let marker = ready_line(target, self.tls.is_some());
        let log = Arc::clone(&m.log);
        collect_with(child.stderr.take(), move |line| {
            log.lock().expect("log lock").push_str(line);
            if line.contains(marker) {
                ready.fetch_add(1, Ordering::SeqCst);
            }
        });
        let log = Arc::clone(&m.log);
        collect_with(child.stdout.take(), move |line| {
            log.lock().expect("log lock").push_str(line);
        });
        m.child = Some(child);
    }

    fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let m = &mut self.members[i];
            if m.ready.load(Ordering::SeqCst) >= m.starts {
                return;
            }
            let name = m.name.clone();
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{name} exited with {status} before serving\n{}", self.logs());
            }
            if Instant::now() > deadline {
                panic!("{name} not ready within {READY_LIMIT:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a member that joins the running cluster on the given ports, configured
    /// only by `env` (what `etcdctl member add` printed) besides its own listen URLs,
    /// and waits until it serves. Returns its index.
    pub fn join(&mut self, client_port: u16, peer_port: u16, env: &[(String, String)]) -> usize {
        let name = env.iter().find(|(k, _)| k == "ETCD_NAME").map_or("joined", |(_, v)| v);
        let i = self.members.len();
        self.members.push(Member {
            name: name.to_string(),
            client_port,
            peer_port,
            data_dir: self.dir.path().join(format!("{name}.etcd")),
            child: None,
            log: Arc::new(Mutex::new(String::new())),
            ready: Arc::new(AtomicUsize::new(0)),
            starts: 0,
            join_env: env.to_vec(),
        });
        self.spawn(i);
        self.wait_ready(i);
        i
    }

    /// Waits up to `limit` for member `i`'s process to exit by itself; its status.
    pub fn wait_exit(&mut self, i: usize, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.members[i].child.as_mut()?;
            if let Some(status) = child.try_wait().ok().flatten() {
                self.members[i].child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited in time.
    pub fn stop(&mut self, i: usize) {
        let Some(mut c) = self.members[i].child.take() else { return };
        let pid = libc::pid_t::try_from(c.id()).expect("pid fits pid_t");
        // SAFETY: `pid` is our own child, not yet reaped, so it names no other process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_LIMIT;
        while c.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped or killed member again on its data dir and waits until it serves.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready(i);
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

    fn etcdctl_command(&self, endpoints: &str, args: &[&str]) -> Command {
        let tls = self.tls.as_ref().map(ClusterTls::etcdctl_flags).unwrap_or_default();
        etcdctl_command(endpoints, &tls, args)
    }

    /// etcdctl with every member as endpoint.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_at(&self.endpoints(), args, None)
    }

    /// etcdctl with `input` on stdin (for `txn`).
    pub fn etcdctl_stdin(&self, args: &[&str], input: &str) -> Output {
        self.etcdctl_at(&self.endpoints(), args, Some(input))
    }

    pub fn etcdctl_at(&self, endpoints: &str, args: &[&str], input: Option<&str>) -> Output {
        run_bounded(self.etcdctl_command(endpoints, args), input, ETCDCTL_LIMIT)
    }

    /// etcdctl against member `i` alone; its stdout, failing the test on an error.
    pub fn ok_at(&self, i: usize, args: &[&str]) -> String {
        let out = self.etcdctl_at(&self.endpoint(i), args, None);
        self.expect_ok(args, &out)
    }

    /// etcdctl with a hard limit of its own, for commands that run long (`check perf`).
    pub fn etcdctl_for(&self, args: &[&str], limit: Duration) -> Output {
        run_bounded(self.etcdctl_command(&self.endpoints(), args), None, limit)
    }

    /// etcdctl left running (watch, elect, lock); killed when the guard drops.
    pub fn etcdctl_spawn(&self, args: &[&str]) -> Background {
        Background::spawn(self.etcdctl_command(&self.endpoints(), args))
    }

    /// Stdout of an etcdctl command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.etcdctl(args);
        self.expect_ok(args, &out)
    }

    /// As `ok`, retried until `limit`: after a member is killed, a write may fail with
    /// "request timed out, possibly due to previous leader failure", and etcdctl does
    /// not retry writes itself.
    pub fn ok_eventually(&self, args: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.etcdctl(args);
            if out.status.success() || Instant::now() > deadline {
                return self.expect_ok(args, &out);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn expect_ok(&self, args: &[&str], out: &Output) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            panic!(
                "etcdctl {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
        }
        stdout
    }

    /// The `Error: ...` line of an etcdctl command that must fail.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.etcdctl(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "etcdctl {args:?} should fail\nstdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        error_line(&stderr)
    }
}

/// etcdctl on `endpoints` with the given TLS flags (none: plaintext) before `args`.
pub fn etcdctl_command(endpoints: &str, tls: &[String], args: &[&str]) -> Command {
    let mut cmd = Command::new(ETCDCTL);
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .arg(format!("--command-timeout={COMMAND_TIMEOUT}"))
        .arg("--dial-timeout=5s")
        .args(tls)
        .args(args);
    cmd
}

/// The line etcdctl prints for a failed command, without the client's retry log lines.
pub fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or_else(|| panic!("no `Error:` line in\n{stderr}"))
        .to_string()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
