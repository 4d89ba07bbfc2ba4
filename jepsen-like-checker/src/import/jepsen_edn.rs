//! Jepsen's own `history.edn`: one operation map per line (or one vector of them), e.g.
//! `{:type :invoke, :f :cas, :value [1 2], :process 3, :time 1234, :index 7}`, as the
//! Jepsen etcd test writes it; records tagged `#jepsen.history.Op{...}` read the same.
//! Operations on registers: `:read`, `:write`, `:cas` (value `[expected new]`); with
//! `jepsen.independent`, every value is a `[key value]` pair and each key is its own
//! register.
//!
//! Mapping to the CAS register, as for Jepsen's text log ([`super::jepsen`]): `:ok`
//! completes; `:fail` of a cas is a definite "compare failed"; any other `:fail` did
//! not happen; `:info` leaves the outcome unknown. The nemesis's operations (`:process
//! :nemesis`) are not client operations and are skipped.

use super::edn::{read_all, Value};
use super::ImportError;
use crate::history::{Event, EventError, EventLog, History};
use crate::models::{CasInput, CasOutput, KeyedCas};

/// A `history.edn`: one register, or independent keys.
#[derive(Debug)]
pub enum EdnHistory {
    Single(History<CasInput, CasOutput>),
    Independent(History<KeyedCas, CasOutput>),
}

/// Parses a Jepsen `history.edn`. Whether its values are `[key value]` pairs is read
/// from its first client operation.
pub fn parse(text: &str) -> Result<EdnHistory, ImportError> {
    let mut values = read_all(text)?;
    // A whole history written as one vector of operations.
    if let [(line, Value::Seq(items))] = values.as_mut_slice() {
        let line = *line;
        values = std::mem::take(items).into_iter().map(|v| (line, v)).collect();
    }
    let independent = values.iter().find_map(|(_, op)| keyed_shape(op)).unwrap_or(false);
    if independent {
        let mut log = EventLog::new();
        for (line, op) in &values {
            let Some((key, event)) = event(op, *line, true)? else { continue };
            let event = match event {
                Event::Invoke { client, input } => {
                    Event::Invoke { client, input: KeyedCas { key, op: input } }
                }
                Event::Ok { client, output } => Event::Ok { client, output },
                Event::Fail { client } => Event::Fail { client },
                Event::Info { client } => Event::Info { client },
            };
            record(&mut log, event, *line, op)?;
        }
        Ok(EdnHistory::Independent(log.finish()))
    } else {
        let mut log = EventLog::new();
        for (line, op) in &values {
            let Some((_, event)) = event(op, *line, false)? else { continue };
            record(&mut log, event, *line, op)?;
        }
        Ok(EdnHistory::Single(log.finish()))
    }
}

fn record<I, O>(
    log: &mut EventLog<I, O>,
    event: Event<I, O>,
    line: usize,
    op: &Value,
) -> Result<(), ImportError> {
    log.record(event).map_err(|e| match e {
        EventError::AlreadyPending { client, .. } => ImportError::new(
            line,
            format!("a completion for process {client}'s pending operation"),
            format!("a new invocation: `{}`", op.show()),
        ),
        EventError::NothingPending { client, .. } => ImportError::new(
            line,
            format!("an invocation by process {client} before its completion"),
            format!("a completion with nothing pending: `{}`", op.show()),
        ),
    })
}

/// For a client operation: whether its value is a `[key value]` pair (`None` for
/// operations that do not tell: the nemesis's, or not maps at all).
fn keyed_shape(op: &Value) -> Option<bool> {
    if !matches!(op.get("process"), Some(Value::Int(_))) {
        return None;
    }
    let f = op.get("f")?;
    Some(match (f, op.get("value")?) {
        (Value::Keyword(f), Value::Seq(items)) if f == "cas" => {
            matches!(items.as_slice(), [_, Value::Seq(_)])
        }
        (_, Value::Seq(items)) => items.len() == 2,
        _ => false,
    })
}

/// A register operation's event and its key (0 when the history has one register).
type KeyedEvent = (i64, Event<CasInput, CasOutput>);

/// The key and event one operation map records; `None` for the nemesis's operations.
fn event(op: &Value, line: usize, independent: bool) -> Result<Option<KeyedEvent>, ImportError> {
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
        other => return Err(bad("`:f` :read, :write or :cas (registers)", other)),
    };
    let whole = op.get("value").unwrap_or(&Value::Nil);
    let (key, value) = if independent {
        match whole {
            Value::Seq(items) => match items.as_slice() {
                [Value::Int(k), v] => (*k, v),
                _ => {
                    return Err(bad(
                        "a `[key value]` pair (the history's keys are independent)",
                        whole,
                    ))
                }
            },
            other => {
                return Err(bad("a `[key value]` pair (the history's keys are independent)", other))
            }
        }
    } else {
        (0, whole)
    };
    let int = |v: &Value| match v {
        Value::Int(i) => Ok(*i),
        other => Err(bad("an integer value", other)),
    };
    let event = match kind {
        "invoke" => {
            let input = match f {
                "read" => CasInput::Read,
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
    Ok(Some((key, event)))
}

fn pair(value: &Value, line: usize) -> Result<(i64, i64), ImportError> {
    match value {
        Value::Seq(items) => match items.as_slice() {
            [Value::Int(a), Value::Int(b)] => Ok((*a, *b)),
            _ => Err(ImportError::new(
                line,
                "a cas value `[expected new]`",
                format!("`{}`", value.show()),
            )),
        },
        other => Err(ImportError::new(
            line,
            "a cas value `[expected new]`",
            format!("`{}`", other.show()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;

    fn single(text: &str) -> History<CasInput, CasOutput> {
        match parse(text).unwrap() {
            EdnHistory::Single(h) => h,
            other => panic!("one register expected, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_history_and_skips_the_nemesis() {
        let text = "{:type :invoke, :f :cas, :value [1 2], :process 1, :time 1, :index 0}\n\
                    {:type :info, :f :start, :value nil, :process :nemesis, :index 1}\n\
                    {:type :invoke, :f :read, :value nil, :process 2, :index 2}\n\
                    {:type :fail, :f :cas, :value [1 2], :process 1, :error :mismatch}\n\
                    {:type :ok, :f :read, :value 3, :process 2}\n\
                    {:type :invoke, :f :write, :value 4, :process 3}\n\
                    {:type :info, :f :write, :value 4, :process 3, :error :timeout}\n";
        let h = single(text);
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
        assert_eq!(single(&whole).ops(), h.ops());
    }

    #[test]
    fn independent_keys_become_keyed_operations() {
        let text = "{:type :info, :f :start, :value nil, :process :nemesis}\n\
                    {:type :invoke, :f :read, :value [7 nil], :process 0}\n\
                    {:type :invoke, :f :cas, :value [8 [1 2]], :process 1}\n\
                    {:type :ok, :f :read, :value [7 3], :process 0}\n\
                    {:type :fail, :f :cas, :value [8 [1 2]], :process 1}\n";
        let EdnHistory::Independent(h) = parse(text).unwrap() else { panic!("keyed") };
        assert_eq!(h.get(0).input, KeyedCas { key: 7, op: CasInput::Read });
        assert_eq!(h.get(0).output, Some(CasOutput::Read(Some(3))));
        assert_eq!(h.get(1).input, KeyedCas { key: 8, op: CasInput::Cas { expected: 1, new: 2 } });
        let mixed = "{:type :invoke, :f :write, :value [0 4], :process 1}\n\
                     {:type :invoke, :f :write, :value 5, :process 2}";
        let e = parse(mixed).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.expected.contains("[key value]"), "{e}");
    }

    #[test]
    fn bad_ops_are_refused_with_their_line() {
        let e = parse(
            "{:type :invoke, :f :write, :value 1, :process 1}\n{:type :invoke, :f :frob, :process 2}",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains(":frob"), "{e}");
    }
}
