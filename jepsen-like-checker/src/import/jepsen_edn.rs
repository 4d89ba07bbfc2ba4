//! Jepsen's own `history.edn`: one operation map per line (or one vector of them), e.g.
//! `{:type :invoke, :f :cas, :value [1 2], :process 3, :time 1234, :index 7}`, as the
//! Jepsen etcd test writes it; records tagged `#jepsen.history.Op{...}` read the same.
//! Operations on a single register: `:read`, `:write`, `:cas` (value `[expected new]`).
//!
//! Mapping to the CAS register, as for Jepsen's text log ([`super::jepsen`]): `:ok`
//! completes; `:fail` of a cas is a definite "compare failed"; any other `:fail` did
//! not happen; `:info` leaves the outcome unknown. The nemesis's operations (`:process
//! :nemesis`) are not client operations and are skipped. Histories of independent keys
//! (values `[key value]`, from `jepsen.independent`) are refused with a clear error.

use super::edn::{read_all, Value};
use super::ImportError;
use crate::history::{Event, EventError, EventLog, History};
use crate::models::{CasInput, CasOutput};

/// Parses a Jepsen `history.edn` into a CAS-register history.
pub fn parse(text: &str) -> Result<History<CasInput, CasOutput>, ImportError> {
    let mut values = read_all(text)?;
    // A whole history written as one vector of operations.
    if let [(line, Value::Seq(items))] = values.as_mut_slice() {
        let line = *line;
        values = std::mem::take(items).into_iter().map(|v| (line, v)).collect();
    }
    let mut log = EventLog::new();
    for (line, op) in &values {
        let Some(event) = event(op, *line)? else { continue };
        log.record(event).map_err(|e| match e {
            EventError::AlreadyPending { client, .. } => ImportError::new(
                *line,
                format!("a completion for process {client}'s pending operation"),
                format!("a new invocation: `{}`", op.show()),
            ),
            EventError::NothingPending { client, .. } => ImportError::new(
                *line,
                format!("an invocation by process {client} before its completion"),
                format!("a completion with nothing pending: `{}`", op.show()),
            ),
        })?;
    }
    Ok(log.finish())
}

/// The event one operation map records; `None` for the nemesis's operations.
fn event(op: &Value, line: usize) -> Result<Option<Event<CasInput, CasOutput>>, ImportError> {
    let bad =
        |what: &str, found: &Value| ImportError::new(line, what, format!("`{}`", found.show()));
    if !matches!(op, Value::Map(_) | Value::Tagged(..)) {
        return Err(bad("an operation map `{:type ..., :f ..., :value ..., :process ...}`", op));
    }
    let need = |key: &str| {
        op.get(key).ok_or_else(|| {
            ImportError::new(line, format!("a `:{key}` entry"), format!("`{}`", op.show()))
        })
    };
    let client = match need("process")? {
        Value::Int(p) if *p >= 0 => *p as u64,
        Value::Keyword(k) if k == "nemesis" => return Ok(None),
        other => return Err(bad("a process number after `:process`", other)),
    };
    let kind = match need("type")? {
        Value::Keyword(k) => k.as_str(),
        other => return Err(bad("`:type` :invoke, :ok, :fail or :info", other)),
    };
    let f = match need("f")? {
        Value::Keyword(f) if ["read", "write", "cas"].contains(&f.as_str()) => f.as_str(),
        other => return Err(bad("`:f` :read, :write or :cas (a single register)", other)),
    };
    let value = op.get("value").unwrap_or(&Value::Nil);
    let int = |v: &Value| {
        match v {
        Value::Int(i) => Ok(*i),
        Value::Seq(items) if items.len() == 2 && f != "cas" => Err(ImportError::new(
            line,
            "a single register's value",
            format!(
                "`{}`: a [key value] pair from jepsen.independent; histories over several keys are not supported, check one key's operations at a time",
                v.show()
            ),
        )),
        other => Err(bad("an integer value", other)),
    }
    };
    let event = match kind {
        "invoke" => {
            let input = match f {
                "read" => match value {
                    Value::Nil => CasInput::Read,
                    other => {
                        int(other)?;
                        CasInput::Read
                    }
                },
                "write" => CasInput::Write { value: int(value)? },
                _ => {
                    let (expected, new) = pair(value, line)?;
                    CasInput::Cas { expected, new }
                }
            };
            Event::Invoke { client, input }
        }
        "ok" => {
            let output = match f {
                "read" => CasOutput::Read(match value {
                    Value::Nil => None,
                    other => Some(int(other)?),
                }),
                "write" => CasOutput::Written,
                _ => CasOutput::Cas(true),
            };
            Event::Ok { client, output }
        }
        "fail" if f == "cas" => Event::Ok { client, output: CasOutput::Cas(false) },
        "fail" => Event::Fail { client },
        "info" => Event::Info { client },
        _ => return Err(bad("`:type` :invoke, :ok, :fail or :info", need("type")?)),
    };
    Ok(Some(event))
}

fn pair(value: &Value, line: usize) -> Result<(i64, i64), ImportError> {
    match value {
        Value::Seq(items) => match items.as_slice() {
            [Value::Int(a), Value::Int(b)] => Ok((*a, *b)),
            [_, Value::Seq(_)] => Err(ImportError::new(
                line,
                "a cas value `[expected new]`",
                format!(
                    "`{}`: a [key [expected new]] pair from jepsen.independent; histories over several keys are not supported",
                    value.show()
                ),
            )),
            _ => Err(ImportError::new(line, "a cas value `[expected new]`", format!("`{}`", value.show()))),
        },
        other => Err(ImportError::new(line, "a cas value `[expected new]`", format!("`{}`", other.show()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;

    #[test]
    fn reads_a_history_and_skips_the_nemesis() {
        let text = "{:type :invoke, :f :cas, :value [1 2], :process 1, :time 1, :index 0}\n\
                    {:type :info, :f :start, :value nil, :process :nemesis, :index 1}\n\
                    {:type :invoke, :f :read, :value nil, :process 2, :index 2}\n\
                    {:type :fail, :f :cas, :value [1 2], :process 1, :error :mismatch}\n\
                    {:type :ok, :f :read, :value 3, :process 2}\n\
                    {:type :invoke, :f :write, :value 4, :process 3}\n\
                    {:type :info, :f :write, :value 4, :process 3, :error :timeout}\n";
        let h = parse(text).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(0).output, Some(CasOutput::Cas(false)));
        assert_eq!(h.get(1).output, Some(CasOutput::Read(Some(3))));
        assert_eq!(
            h.get(2),
            &Operation {
                client: 3,
                call: 4,
                ret: None,
                input: CasInput::Write { value: 4 },
                output: None
            }
        );
        let whole = format!("[{text}]");
        assert_eq!(parse(&whole).unwrap().ops(), h.ops());
    }

    #[test]
    fn independent_keys_and_bad_ops_are_refused_clearly() {
        let e = parse("{:type :invoke, :f :write, :value [0 4], :process 1}").unwrap_err();
        assert!(e.to_string().contains("jepsen.independent"), "{e}");
        let e = parse("{:type :invoke, :f :write, :value 1, :process 1}\n{:type :invoke, :f :frob, :process 2}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains(":frob"), "{e}");
    }
}
