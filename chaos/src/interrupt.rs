//! Stopping a run from outside: Ctrl-C, SIGTERM or SIGHUP, and the watchdog. Either
//! way the members are killed by pid and the run's namespaces, veths and bridge are
//! deleted before the process exits, since the kernel keeps those after we are gone.
//! The signals are blocked in every thread of the run and taken by one thread with
//! `sigwait`, so the cleanup runs as ordinary code, not in a signal handler.

use crate::netns::{self, NetnsNames};
use crate::process;
use crate::proxy::Network;
use std::sync::{Arc, Mutex};

/// What an emergency stop must clean: the members' pids, and the namespaced network.
static CLEANUP: Mutex<Option<(Arc<Network>, Option<NetnsNames>)>> = Mutex::new(None);

fn signals() -> libc::sigset_t {
    // SAFETY: the set is initialised by sigemptyset before any other use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the stop signals in this thread and every thread it starts after, and
/// starts the thread that takes them. Call before any other thread of the run starts.
pub fn install() {
    let set = signals();
    // SAFETY: `set` is a valid signal set; a null old-set pointer is allowed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    std::thread::Builder::new()
        .name("chaos-signals".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` and `sig` are valid for the call.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                emergency_stop(&format!("signal {sig}"));
                std::process::exit(128 + sig);
            }
        })
        .expect("spawn the signal thread");
}

/// Undoes [`install`]'s mask in a child between fork and exec, so members take signals
/// as usual. Async-signal-safe.
pub fn unblock_in_child() {
    let set = signals();
    // SAFETY: pthread_sigmask on a valid set; async-signal-safe.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Records what an emergency stop must clean.
pub fn register(net: Arc<Network>, names: Option<NetnsNames>) {
    *CLEANUP.lock().unwrap_or_else(|p| p.into_inner()) = Some((net, names));
}

/// The run ended normally: nothing is left to clean.
pub fn clear() {
    *CLEANUP.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Kills every member and removes the namespaced network, saying why.
pub fn emergency_stop(why: &str) {
    let Some((net, names)) = CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let pids = net.pids.lock().map(|p| p.clone()).unwrap_or_default();
    for pid in pids.into_iter().flatten() {
        process::signal(pid, libc::SIGKILL);
    }
    if let Some(names) = names {
        for e in netns::teardown(&names) {
            eprintln!("detcd chaos: teardown: {e}");
        }
    }
    eprintln!("detcd chaos: stopped ({why}): members killed, network removed");
}
