//! Member processes: started from one long-lived spawner thread (so the kernel's
//! parent-death signal, which follows the thread that forked, kills every member if
//! this process dies in any way), killed, paused and resumed by pid alone.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

type Job = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The one thread that forks members.
pub struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    pub fn new() -> Spawner {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("chaos-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the spawner thread");
        Spawner { jobs: Some(tx), thread: Some(thread) }
    }

    /// Starts `cmd` with stdout and stderr appended to `log`, after a line that marks
    /// this start, and with SIGKILL as its parent-death signal.
    pub fn spawn(&self, mut cmd: Command, log: &Path, banner: &str) -> std::io::Result<Child> {
        let mut file: File = OpenOptions::new().create(true).append(true).open(log)?;
        writeln!(file, "--- {banner} ---")?;
        cmd.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                crate::interrupt::unblock_in_child();
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died between fork and prctl: nobody would kill us.
                if libc::getppid() == 1 {
                    return Err(std::io::Error::other("parent exited"));
                }
                Ok(())
            });
        }
        let (tx, rx) = mpsc::channel();
        let jobs = self.jobs.as_ref().expect("spawner running");
        jobs.send((cmd, tx)).map_err(|_| std::io::Error::other("spawner thread gone"))?;
        rx.recv().map_err(|_| std::io::Error::other("spawner thread gone"))?
    }
}

impl Default for Spawner {
    fn default() -> Self {
        Spawner::new()
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `signal` to `pid`, one of our own children.
pub fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: `pid` is a child this process started and has not reaped yet, so it names
    // no other process.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// kill -9 and reap.
pub fn kill(child: &mut Child) {
    signal(child.id(), libc::SIGKILL);
    let _ = child.wait();
}
