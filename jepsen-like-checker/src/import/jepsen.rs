//! Jepsen etcd logs: one event per line, `INFO jepsen.util - <process> <type> <f>
//! <value>`, fields split by any run of whitespace, line order = real-time order.
//!
//! Mapping to the CAS register: `:ok` completes an operation; `:fail :cas` is a definite
//! "compare failed" answer (the cas observed another value and did not apply), so it
//! completes the cas with output "failed"; any other `:fail` (a timed-out read) did not
//! happen and is dropped; `:info` leaves the outcome unknown, as does an invocation
//! still pending at the end of the log.

use super::ImportError;
use crate::history::{Event, EventError, EventLog, History};
use crate::models::{CasInput, CasOutput};

const LINE_SHAPE: &str =
    "`INFO jepsen.util - <process> <:invoke|:ok|:fail|:info> <:read|:write|:cas> <value>`";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Read,
    Write,
    Cas,
}

/// Parses a Jepsen etcd log into a CAS-register history.
pub fn parse(text: &str) -> Result<History<CasInput, CasOutput>, ImportError> {
    let mut log = EventLog::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let event = parse_line(line, line_no)?;
        log.record(event).map_err(|e| match e {
            EventError::AlreadyPending { client, .. } => ImportError::new(
                line_no,
                format!("a completion for process {client}'s pending operation"),
                format!("a new invocation: `{}`", line.trim()),
            ),
            EventError::NothingPending { client, .. } => ImportError::new(
                line_no,
                format!("an invocation by process {client} before its completion"),
                format!("a completion with nothing pending: `{}`", line.trim()),
            ),
        })?;
    }
    Ok(log.finish())
}

fn parse_line(line: &str, line_no: usize) -> Result<Event<CasInput, CasOutput>, ImportError> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let bad =
        |what: &str, found: &str| ImportError::new(line_no, what.to_string(), format!("`{found}`"));
    if fields.len() < 7 || fields[0] != "INFO" || fields[1] != "jepsen.util" || fields[2] != "-" {
        return Err(bad(LINE_SHAPE, line.trim()));
    }
    let client: u64 = fields[3].parse().map_err(|_| bad("a process number", fields[3]))?;
    let func = match fields[5] {
        ":read" => Func::Read,
        ":write" => Func::Write,
        ":cas" => Func::Cas,
        other => return Err(bad("a function `:read`, `:write` or `:cas`", other)),
    };
    let value = fields[6..].join(" ");
    match fields[4] {
        ":invoke" => {
            let input = match func {
                Func::Read => CasInput::Read,
                Func::Write => CasInput::Write { value: int(&value, line_no)? },
                Func::Cas => {
                    let (expected, new) = pair(&value, line_no)?;
                    CasInput::Cas { expected, new }
                }
            };
            Ok(Event::Invoke { client, input })
        }
        ":ok" => {
            let output = match func {
                Func::Read => {
                    CasOutput::Read(if value == "nil" { None } else { Some(int(&value, line_no)?) })
                }
                Func::Write => CasOutput::Written,
                Func::Cas => CasOutput::Cas(true),
            };
            Ok(Event::Ok { client, output })
        }
        ":fail" if func == Func::Cas => Ok(Event::Ok { client, output: CasOutput::Cas(false) }),
        ":fail" => Ok(Event::Fail { client }),
        ":info" => Ok(Event::Info { client }),
        other => Err(bad("an event type `:invoke`, `:ok`, `:fail` or `:info`", other)),
    }
}

fn int(text: &str, line_no: usize) -> Result<i64, ImportError> {
    text.parse().map_err(|_| ImportError::new(line_no, "an integer value", format!("`{text}`")))
}

fn pair(text: &str, line_no: usize) -> Result<(i64, i64), ImportError> {
    let err = || ImportError::new(line_no, "a cas value `[expected new]`", format!("`{text}`"));
    let inner = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).ok_or_else(err)?;
    let mut parts = inner.split_whitespace();
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err());
    };
    Ok((a.parse().map_err(|_| err())?, b.parse().map_err(|_| err())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;

    #[test]
    fn reads_tabs_and_spaces() {
        let text = "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]\n\
                    INFO  jepsen.util - 2   :invoke :read   nil\n\
                    INFO  jepsen.util - 1   :fail   :cas    [1 2]\n\
                    INFO  jepsen.util - 2\t:ok\t:read\t3\n\
                    INFO  jepsen.util - 3\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 4\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 4\t:fail\t:read\t:timed-out\n\
                    INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n";
        let h = parse(text).unwrap();
        assert_eq!(
            h.ops(),
            &[
                Operation {
                    client: 1,
                    call: 0,
                    ret: Some(2),
                    input: CasInput::Cas { expected: 1, new: 2 },
                    output: Some(CasOutput::Cas(false))
                },
                Operation {
                    client: 2,
                    call: 1,
                    ret: Some(3),
                    input: CasInput::Read,
                    output: Some(CasOutput::Read(Some(3)))
                },
                Operation {
                    client: 3,
                    call: 4,
                    ret: None,
                    input: CasInput::Write { value: 4 },
                    output: None
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_line_and_the_expectation() {
        let e = parse("INFO jepsen.util - 1 :invoke :write 1\nINFO jepsen.util - x :ok :write 1\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.expected, "a process number");
        let e = parse("INFO jepsen.util - 1 :invoke :cas [1]\n").unwrap_err();
        assert_eq!((e.line, e.expected.as_str()), (1, "a cas value `[expected new]`"));
        let e = parse("\nINFO jepsen.util - 1 :ok :write 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("nothing pending"), "{e}");
        let e = parse("hello\n").unwrap_err();
        assert!(e.expected.contains("INFO jepsen.util"));
    }
}
