//! Child processes with a bound on their running time and a guard that kills them.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

/// Runs `cmd` to completion with `input` on its stdin; kills it and panics if it is still
/// running after `limit`.
pub fn run_bounded(mut cmd: Command, input: Option<&str>, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        // A child that exits without reading its input is not our failure to report.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} still running after {limit:?}: killed");
        }
        std::thread::sleep(POLL);
    };
    Output { status, stdout: out.join().expect("reader"), stderr: err.join().expect("reader") }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// A child left running while the test goes on (a `watch`, an `elect`). Its stdout and
/// stderr are collected as they come; dropping the guard kills it by its pid.
pub struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    shown: String,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        let shown = format!("{cmd:?}");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        Background { child, stdout, stderr, shown }
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits until `done` holds for the stdout so far; panics after `limit`.
    pub fn wait_stdout(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.stdout();
            if done(&text) {
                return text;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: expected output not seen in {limit:?}\nstdout:\n{text}\nstderr:\n{}",
                    self.shown,
                    self.stderr()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the child to exit by itself; kills it and panics after `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("{} still running after {limit:?}: killed", self.shown);
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGINT, as Ctrl-C: etcdctl then closes its session (revokes its lease).
    pub fn interrupt(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: `pid` is our own child, not yet reaped, so it names no other process.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `pipe` line by line into a shared string until it closes.
pub fn collect(pipe: Option<impl Read + Send + 'static>) -> Arc<Mutex<String>> {
    collect_with(pipe, |_| {})
}

/// As `collect`, and calls `on_line` with every complete line as it arrives.
pub fn collect_with(
    pipe: Option<impl Read + Send + 'static>,
    on_line: impl Fn(&str) + Send + 'static,
) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let Some(p) = pipe else { return };
        let mut reader = std::io::BufReader::new(p);
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::BufRead::read_line(&mut reader, &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    on_line(&line);
                    sink.lock().expect("log lock").push_str(&line);
                }
            }
        }
    });
    text
}
