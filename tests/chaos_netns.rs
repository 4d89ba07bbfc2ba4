//! `detcd chaos --network netns`: members in their own network namespaces, joined by a
//! bridge, with partitions, packet loss and reordering by nftables and tc. Needs root
//! and `ip`, `nft`, `tc`: without them the tests print why and pass, unless
//! `DETCD_REQUIRE_NETNS=1` (CI) makes that a failure. Each test checks that the run's
//! namespaces, veths and bridge are gone at the end, also after a Ctrl-C.

mod support;

use detcd_chaos::netns::{self, Netns};
use detcd_chaos::netns_links::{LinkFaults, Slow};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;
use support::process::Background;

const RUN_LIMIT: Duration = Duration::from_secs(120);
const DATAGRAM_BYTES: usize = 200;

/// True when namespaces can be made here; otherwise prints a loud SKIPPED line (or
/// panics with `DETCD_REQUIRE_NETNS=1`).
fn netns_available() -> bool {
    let Some(why) = netns::unavailable() else { return true };
    if std::env::var("DETCD_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("network namespaces unavailable ({why}) and DETCD_REQUIRE_NETNS=1");
    }
    eprintln!("SKIPPED: network namespaces unavailable: {why}");
    false
}

/// Runs `f` on a thread that has entered member `i`'s namespace.
fn in_namespace<T: Send + 'static>(
    net: &Netns,
    i: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let fd = net.handle_fd(i);
    std::thread::spawn(move || {
        // SAFETY: `fd` is an open namespace handle owned by `net`, which outlives the
        // thread (every handle is joined before `net` drops); setns moves only this thread.
        assert_eq!(unsafe { libc::setns(fd, libc::CLONE_NEWNET) }, 0, "setns");
        f()
    })
}

fn tcp_connects(net: &Netns, from: usize, to_addr: String) -> bool {
    in_namespace(net, from, move || {
        let addr = to_addr.parse().expect("address");
        TcpStream::connect_timeout(&addr, Duration::from_millis(700)).is_ok()
    })
    .join()
    .expect("connect thread")
}

/// Sends `count` numbered datagrams of 200 bytes (a small Raft append's size) from
/// member 0 to member 1; the numbers that arrived, in order.
fn datagrams(net: &Netns, count: u32) -> Vec<u32> {
    let to = format!("{}:9999", net.member_ip(1));
    let receiver = in_namespace(net, 1, {
        let to = to.clone();
        move || {
            let s = UdpSocket::bind(&to).expect("bind in m1");
            s.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; DATAGRAM_BYTES];
            while s.recv(&mut buf).is_ok() {
                got.push(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
            }
            got
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    in_namespace(net, 0, move || {
        let s = UdpSocket::bind("0.0.0.0:0").expect("bind in m0");
        for n in 0..count {
            let mut datagram = [0u8; DATAGRAM_BYTES];
            datagram[..4].copy_from_slice(&n.to_be_bytes());
            let _ = s.send_to(&datagram, &to);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
    .join()
    .expect("sender");
    receiver.join().expect("receiver")
}

fn inversions(seq: &[u32]) -> usize {
    seq.windows(2).filter(|w| w[1] < w[0]).count()
}

/// The link faults do what they say, on real packets: a cut blocks the direction it
/// names and only that one, loss drops a share, reordering reorders, heal restores.
#[test]
fn link_faults_act_on_real_packets_and_heal() {
    if !netns_available() {
        return;
    }
    let net = Netns::create(2).expect("namespaces");
    let names = net.names.clone();
    let listener_addr = format!("{}:7000", net.member_ip(1));
    let listener = in_namespace(&net, 1, {
        let a = listener_addr.clone();
        move || TcpListener::bind(a).expect("bind in m1")
    })
    .join()
    .unwrap();
    // The host reaches a member through the bridge.
    let mut from_host = TcpStream::connect(&listener_addr).expect("host to m1");
    let (mut accepted, _) = listener.accept().unwrap();
    from_host.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    accepted.read_exact(&mut buf).unwrap();
    assert!(tcp_connects(&net, 0, listener_addr.clone()), "open link");

    let mut faults = LinkFaults::default();
    faults.cut(0, 1);
    faults.apply(&net).unwrap();
    assert!(!tcp_connects(&net, 0, listener_addr.clone()), "cut 0 -> 1 still connects");
    // The other direction and the host are untouched.
    let back = format!("{}:7001", net.member_ip(0));
    let l0 = in_namespace(&net, 0, {
        let a = back.clone();
        move || TcpListener::bind(a).expect("bind in m0")
    })
    .join()
    .unwrap();
    assert!(
        TcpStream::connect_timeout(&listener_addr.parse().unwrap(), Duration::from_secs(2)).is_ok()
    );
    faults.heal();
    faults.apply(&net).unwrap();
    assert!(tcp_connects(&net, 0, listener_addr.clone()), "healed link");
    drop(l0);

    let all = datagrams(&net, 300);
    assert_eq!(all.len(), 300, "clean link lost datagrams");
    assert_eq!(inversions(&all), 0);

    faults.lose(0, 1, 40);
    faults.apply(&net).unwrap();
    let lossy = datagrams(&net, 300);
    assert!((60..280).contains(&lossy.len()), "40% loss delivered {} of 300", lossy.len());
    faults.heal();

    faults.slow(0, 1, Slow::Reorder(Duration::from_millis(40)));
    faults.apply(&net).unwrap();
    let reordered = datagrams(&net, 300);
    assert!(inversions(&reordered) > 5, "no reordering: {} inversions", inversions(&reordered));
    faults.heal();
    faults.apply(&net).unwrap();

    drop(listener);
    drop(net);
    let left = netns::leftovers(Some(std::process::id()));
    assert!(left.namespaces.is_empty() && left.links.is_empty(), "left behind: {left:?}");
    assert!(names.namespaces.iter().all(|n| !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(n.as_str()))
        .unwrap_or(false)));
}

fn chaos(args: &[&str]) -> Background {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.arg("chaos").args(["--network", "netns"]).args(args);
    Background::spawn(cmd)
}

fn nothing_left(pid: u32) {
    let left = netns::leftovers(Some(pid));
    assert!(left.namespaces.is_empty(), "namespaces left: {:?}", left.namespaces);
    assert!(left.links.is_empty(), "links left: {:?}", left.links);
}

/// The namespaces of run `pid`, each holding exactly one process: the server itself.
fn members_are_servers_in_their_namespaces(pid: u32, server: &str) {
    for i in 0..3 {
        let ns = format!("dchaos-{pid}-m{i}");
        let out = Command::new("ip").args(["netns", "pids", &ns]).output().unwrap();
        let pids: Vec<String> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect();
        assert_eq!(pids.len(), 1, "{ns}: {pids:?}");
        let exe = std::fs::read_link(format!("/proc/{}/exe", pids[0])).unwrap();
        assert!(exe.to_string_lossy().contains(server), "{ns}: pid {} is {exe:?}", pids[0]);
    }
}

fn cluster_up(run: &Background) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !run.stderr().contains("members up") {
        assert!(std::time::Instant::now() < deadline, "no cluster: {}", run.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_short_netns_run_with_loss_reordering_and_partitions_passes_and_tears_down() {
    if !netns_available() {
        return;
    }
    let out_dir = tempfile::Builder::new().prefix("detcd-chaos-netns-").tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let mut run = chaos(&[
        "--duration",
        "20s",
        "--faults",
        "loss,reorder,partition",
        "--seed",
        "3",
        "--json",
        "--out",
        out,
    ]);
    let pid = run.id();
    cluster_up(&run);
    members_are_servers_in_their_namespaces(pid, "detcd");
    let status = run.wait(RUN_LIMIT);
    let (stdout, stderr) = (run.stdout(), run.stderr());
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(report["network"], "netns");
    assert!(report["acknowledged_writes"].as_u64().unwrap() > 10, "{stdout}");
    let kinds: Vec<&str> = report["fault_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fault"].as_str().unwrap())
        .collect();
    assert!(kinds.len() >= 2, "too few faults: {kinds:?}");
    assert!(kinds.iter().all(|k| ["loss", "reorder", "partition"].contains(k)), "{kinds:?}");
    assert!(report["skipped"].as_array().unwrap().is_empty(), "{stdout}");
    nothing_left(pid);
}

#[test]
fn ctrl_c_stops_the_run_and_removes_its_network() {
    if !netns_available() {
        return;
    }
    let out_dir = tempfile::Builder::new().prefix("detcd-chaos-netns-").tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let mut run = chaos(&["--duration", "60s", "--faults", "partition", "--out", out]);
    let pid = run.id();
    cluster_up(&run);
    run.interrupt();
    let status = run.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{}", run.stderr());
    assert!(run.stderr().contains("members killed, network removed"), "{}", run.stderr());
    nothing_left(pid);
    // No member outlived the run (their command lines name the out dir).
    let procs = std::fs::read_dir("/proc").unwrap();
    let left: Vec<String> = procs
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(out))
        .collect();
    assert!(left.is_empty(), "members left running: {left:?}");
}
