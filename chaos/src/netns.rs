//! The namespaced network of a `--network netns` run: one network namespace per member,
//! each joined by a veth pair to a bridge in the host's namespace on a private /24 the
//! run picks for itself. Members listen on their namespace's address; the bridge holds
//! the host's address on the subnet, so clients reach members from here. Names carry this
//! process's pid, so parallel runs do not meet, and a run that died without tearing down
//! (kill -9) is recognised and cleaned by the next one. Everything made here is removed
//! when the [`Netns`] drops, by [`teardown`] from a signal handler, or by the watchdog.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prefix of every namespace and interface this module makes.
const NS_PREFIX: &str = "dchaos-";
const LINK_PREFIX: &str = "dch";
/// Where `ip netns add` leaves its namespace handles.
const NETNS_DIR: &str = "/run/netns";
/// The /24s tried: 10.223.X.0/24 for X from the pid onwards.
const SUBNET_FIRST_OCTETS: (u8, u8) = (10, 223);
/// How long one `ip`, `nft` or `tc` command may run.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// The names of what one run made, enough to tear it down from anywhere.
#[derive(Clone, Debug)]
pub struct NetnsNames {
    pub namespaces: Vec<String>,
    /// Host ends of the veth pairs, then the bridge.
    pub links: Vec<String>,
}

/// The namespaces, veths and bridge of one run.
pub struct Netns {
    pub names: NetnsNames,
    /// 10.223.X: the /24 of this run.
    subnet: [u8; 3],
    /// Open handles of the members' namespaces, for `setns` in a spawned member.
    handles: Vec<File>,
    /// Whether the kernel has `sch_netem` (probed once).
    pub netem: bool,
}

#[derive(Debug)]
pub struct NetnsError(pub String);

impl std::fmt::Display for NetnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs a command to completion within [`COMMAND_LIMIT`]; its stderr on failure.
pub fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let shown = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(text.as_bytes()).map_err(|e| format!("{shown}: {e}"))?;
    }
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| format!("{shown}: {e}"))? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown}: still running after {COMMAND_LIMIT:?}, killed"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    Err(format!("{shown}: {status}: {}", err.trim()))
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
}

/// Why this process cannot make namespaces, if it cannot: not root, a tool missing, or
/// a kernel or container that refuses them (root without CAP_NET_ADMIN, say).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let missing: Vec<&str> = ["ip", "nft", "tc"].into_iter().filter(|p| !on_path(p)).collect();
    if !missing.is_empty() {
        return Some(format!("{} not on PATH (Debian: iproute2, nftables)", missing.join(", ")));
    }
    probe()
}

/// Makes and removes one namespace holding one nftables table: root alone does not
/// prove the kernel lets this process do either.
fn probe() -> Option<String> {
    // Several threads of one process may probe at once (the tests do).
    static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{NS_PREFIX}{}-probe{n}", std::process::id());
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new(args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", args[0]))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let made = run(&["ip", "netns", "add", &name]);
    let tried = made.and_then(|()| {
        run(&["ip", "netns", "exec", &name, "nft", "add", "table", "inet", "dchaos_probe"])
    });
    let _ = run(&["ip", "netns", "del", &name]);
    tried.err()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid in a name this module made (`dchaos-PID-mI`, `dchPID`, `dchPIDmI`).
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NS_PREFIX).or_else(|| name.strip_prefix(LINK_PREFIX))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    let well_formed = tail.is_empty()
        || tail.strip_prefix("-probe").is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        || tail
            .strip_prefix("-m")
            .or_else(|| tail.strip_prefix('m'))
            .is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
    if well_formed {
        digits.parse().ok()
    } else {
        None
    }
}

/// Every namespace and link whose name says this module made it, for `pid`
/// (or, with `None`, for any pid).
pub fn leftovers(pid: Option<u32>) -> NetnsNames {
    let mine = |name: &str| owner_pid(name).is_some_and(|p| pid.is_none_or(|want| want == p));
    let namespaces = output("ip", &["netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(NS_PREFIX) && mine(n))
        .map(str::to_string)
        .collect();
    let mut links: Vec<String> = output("ip", &["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n))
        .filter(|n| n.starts_with(LINK_PREFIX) && !n.starts_with(NS_PREFIX) && mine(n))
        .map(str::to_string)
        .collect();
    // Veths before the bridge they are enslaved to.
    links.sort_by_key(|n| !n[LINK_PREFIX.len()..].contains('m'));
    NetnsNames { namespaces, links }
}

/// Deletes what `names` lists; returns what could not be deleted.
pub fn teardown(names: &NetnsNames) -> Vec<String> {
    let mut errors = Vec::new();
    // A veth's host end first: deleting it removes both ends at once, whereas a deleted
    // namespace releases its devices later, in the kernel's own time.
    for link in &names.links {
        if let Err(e) = run("ip", &["link", "del", link], None) {
            if !e.contains("Cannot find device") {
                errors.push(e);
            }
        }
    }
    for ns in &names.namespaces {
        if let Err(e) = run("ip", &["netns", "del", ns], None) {
            if !e.contains("No such file") {
                errors.push(e);
            }
        }
    }
    errors
}

/// Removes what runs that no longer exist left behind (they were killed -9).
pub fn sweep_dead_runs() {
    let all = leftovers(None);
    let dead = |n: &String| owner_pid(n).is_some_and(|p| !pid_alive(p));
    let stale = NetnsNames {
        namespaces: all.namespaces.iter().filter(|n| dead(n)).cloned().collect(),
        links: all.links.iter().filter(|n| dead(n)).cloned().collect(),
    };
    for e in teardown(&stale) {
        eprintln!("detcd chaos: cleaning a dead run's network: {e}");
    }
}

/// A /24 under 10.223 that no address or route of this host touches.
fn free_subnet() -> Result<[u8; 3], NetnsError> {
    let used =
        format!("{}\n{}", output("ip", &["-4", "-o", "addr"]), output("ip", &["-4", "route"]));
    let (a, b) = SUBNET_FIRST_OCTETS;
    let start = (std::process::id() % 250) as u8;
    (0..250u16)
        .map(|k| ((start as u16 + k) % 250) as u8)
        .map(|c| [a, b, c])
        .find(|s| !used.contains(&format!("{}.{}.{}.", s[0], s[1], s[2])))
        .ok_or_else(|| NetnsError(format!("no free /24 under {a}.{b}.0.0/16")))
}

impl Netns {
    /// Makes the bridge and one namespace per member, each with its veth, addresses and
    /// routes up. On an error, what was made is removed again.
    pub fn create(members: usize) -> Result<Netns, NetnsError> {
        if let Some(why) = unavailable() {
            return Err(NetnsError(format!("--network netns: {why}")));
        }
        sweep_dead_runs();
        let pid = std::process::id();
        let subnet = free_subnet()?;
        let bridge = format!("{LINK_PREFIX}{pid}");
        let mut net = Netns {
            names: NetnsNames { namespaces: Vec::new(), links: Vec::new() },
            subnet,
            handles: Vec::new(),
            netem: false,
        };
        let e = NetnsError;
        run("ip", &["link", "add", &bridge, "type", "bridge"], None).map_err(e)?;
        net.names.links.push(bridge.clone());
        let host = format!("{}/24", net.host_ip());
        run("ip", &["addr", "add", &host, "dev", &bridge], None).map_err(e)?;
        run("ip", &["link", "set", &bridge, "up"], None).map_err(e)?;
        for i in 0..members {
            let ns = format!("{NS_PREFIX}{pid}-m{i}");
            let veth = format!("{LINK_PREFIX}{pid}m{i}");
            run("ip", &["netns", "add", &ns], None).map_err(e)?;
            net.names.namespaces.push(ns.clone());
            run(
                "ip",
                &["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns],
                None,
            )
            .map_err(e)?;
            // Before the bridge, so teardown deletes it first.
            net.names.links.insert(net.names.links.len() - 1, veth.clone());
            run("ip", &["link", "set", &veth, "master", &bridge, "up"], None).map_err(e)?;
            let addr = format!("{}/24", net.member_ip(i));
            run("ip", &["-n", &ns, "addr", "add", &addr, "dev", "eth0"], None).map_err(e)?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"], None).map_err(e)?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"], None).map_err(e)?;
            let handle = format!("{NETNS_DIR}/{ns}");
            net.handles
                .push(File::open(&handle).map_err(|err| NetnsError(format!("{handle}: {err}")))?);
        }
        net.netem = net.probe_netem();
        Ok(net)
    }

    pub fn host_ip(&self) -> String {
        let [a, b, c] = self.subnet;
        format!("{a}.{b}.{c}.1")
    }

    pub fn member_ip(&self, i: usize) -> String {
        let [a, b, c] = self.subnet;
        format!("{a}.{b}.{c}.{}", 10 + i)
    }

    pub fn namespace(&self, i: usize) -> &str {
        &self.names.namespaces[i]
    }

    /// The open handle of member `i`'s namespace, to `setns` into.
    pub fn handle_fd(&self, i: usize) -> std::os::fd::RawFd {
        self.handles[i].as_raw_fd()
    }

    /// Runs `program args` inside member `i`'s namespace.
    pub fn exec(
        &self,
        i: usize,
        program: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<(), String> {
        let mut full = vec!["netns", "exec", self.namespace(i), program];
        full.extend_from_slice(args);
        run("ip", &full, input)
    }

    /// Whether `tc qdisc ... netem` works in this kernel (many small VM kernels leave it
    /// out; then delay and reordering are made with HTB and nftables instead).
    fn probe_netem(&self) -> bool {
        let ok = self
            .exec(0, "tc", &["qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"], None)
            .is_ok();
        if ok {
            let _ = self.exec(0, "tc", &["qdisc", "del", "dev", "eth0", "root"], None);
        }
        ok
    }

    pub fn subnet(&self) -> String {
        let [a, b, c] = self.subnet;
        format!("{a}.{b}.{c}.0/24")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.handles.clear();
        for e in teardown(&self.names) {
            eprintln!("detcd chaos: teardown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_this_module_makes_have_an_owner() {
        assert_eq!(owner_pid("dchaos-123-m0"), Some(123));
        assert_eq!(owner_pid("dch123"), Some(123));
        assert_eq!(owner_pid("dch123m4"), Some(123));
        assert_eq!(owner_pid("dchaos-123-probe7"), Some(123));
        assert_eq!(owner_pid("dchaos-123-x"), None);
        assert_eq!(owner_pid("dchx"), None);
        assert_eq!(owner_pid("docker0"), None);
        assert_eq!(owner_pid("eth0"), None);
    }
}
