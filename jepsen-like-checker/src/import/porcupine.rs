//! Porcupine KV histories: one EDN map per line, e.g.
//! `{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}`, with `:type`
//! `:invoke` or `:ok` and `:f` `:get`, `:put` or `:append`; a get's `:ok` carries the
//! string read. Line order is real-time order; an invocation still pending at the end
//! has an unknown outcome.

use super::ImportError;
use crate::history::{Event, EventError, EventLog, History};
use crate::models::{KvInput, KvOutput};

/// An EDN scalar as it appears in these maps.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scalar {
    Keyword(String),
    Str(String),
    Int(i64),
    Nil,
}

impl Scalar {
    fn show(&self) -> String {
        match self {
            Scalar::Keyword(k) => format!(":{k}"),
            Scalar::Str(s) => format!("{s:?}"),
            Scalar::Int(i) => i.to_string(),
            Scalar::Nil => "nil".to_string(),
        }
    }
}

/// Parses a Porcupine KV history.
pub fn parse(text: &str) -> Result<History<KvInput, KvOutput>, ImportError> {
    let mut log = EventLog::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let map = parse_map(line.trim(), line_no)?;
        let get = |name: &str| map.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let need = |name: &str, what: &str| {
            get(name).ok_or_else(|| {
                ImportError::new(
                    line_no,
                    format!("a `:{name}` entry ({what})"),
                    format!("`{}`", line.trim()),
                )
            })
        };
        let client = match need("process", "the client's number")? {
            Scalar::Int(i) if *i >= 0 => *i as u64,
            other => {
                return Err(ImportError::new(
                    line_no,
                    "a process number after `:process`",
                    other.show(),
                ))
            }
        };
        let kind = need("type", ":invoke or :ok")?.clone();
        let f = need("f", ":get, :put or :append")?.clone();
        let key = match need("key", "a string")? {
            Scalar::Str(s) => s.clone(),
            other => return Err(ImportError::new(line_no, "a string after `:key`", other.show())),
        };
        let value = need("value", "a string or nil")?.clone();
        let string_value = |what: &str| match &value {
            Scalar::Str(s) => Ok(s.clone()),
            other => Err(ImportError::new(
                line_no,
                format!("a string after `:value` ({what})"),
                other.show(),
            )),
        };
        let event = match (&kind, &f) {
            (Scalar::Keyword(t), Scalar::Keyword(f)) if t == "invoke" => {
                let input = match f.as_str() {
                    "get" => KvInput::Get { key },
                    "put" => KvInput::Put { key, value: string_value("the value to put")? },
                    "append" => {
                        KvInput::Append { key, value: string_value("the value to append")? }
                    }
                    _ => {
                        return Err(ImportError::new(
                            line_no,
                            "`:f` to be :get, :put or :append",
                            format!(":{f}"),
                        ))
                    }
                };
                Event::Invoke { client, input }
            }
            (Scalar::Keyword(t), Scalar::Keyword(f)) if t == "ok" => {
                let output = match f.as_str() {
                    "get" => KvOutput::Value(string_value("the value read")?),
                    "put" | "append" => KvOutput::Ok,
                    _ => {
                        return Err(ImportError::new(
                            line_no,
                            "`:f` to be :get, :put or :append",
                            format!(":{f}"),
                        ))
                    }
                };
                Event::Ok { client, output }
            }
            (Scalar::Keyword(t), _) if t == "fail" => Event::Fail { client },
            (Scalar::Keyword(t), _) if t == "info" => Event::Info { client },
            (other, _) => {
                return Err(ImportError::new(
                    line_no,
                    "`:type` to be :invoke, :ok, :fail or :info",
                    other.show(),
                ))
            }
        };
        log.record(event).map_err(|e| match e {
            EventError::AlreadyPending { client, .. } => ImportError::new(
                line_no,
                format!("a completion of process {client}'s pending operation"),
                "a new invocation",
            ),
            EventError::NothingPending { client, .. } => ImportError::new(
                line_no,
                format!("an invocation by process {client} before its completion"),
                "a completion with nothing pending",
            ),
        })?;
    }
    Ok(log.finish())
}

/// Parses `{:k v, :k v, ...}` with keyword keys and scalar values.
fn parse_map(line: &str, line_no: usize) -> Result<Vec<(String, Scalar)>, ImportError> {
    let err = |what: &str, rest: &str| {
        ImportError::new(line_no, what.to_string(), format!("`{}`", rest.trim()))
    };
    let body = line.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(|| {
        err("an EDN map `{:process N, :type ..., :f ..., :key \"...\", :value ...}`", line)
    })?;
    let mut rest = body;
    let mut entries = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            return Ok(entries);
        }
        let (key, after) = scalar(rest).ok_or_else(|| err("a keyword like `:process`", rest))?;
        let Scalar::Keyword(key) = key else {
            return Err(err("a keyword like `:process`", rest));
        };
        let after = after.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let (value, after) =
            scalar(after).ok_or_else(|| err(&format!("a value for `:{key}`"), after))?;
        entries.push((key, value));
        rest = after;
    }
}

/// One scalar at the start of `text`, and the rest.
fn scalar(text: &str) -> Option<(Scalar, &str)> {
    let token_end =
        |t: &str| t.find(|c: char| c.is_whitespace() || c == ',' || c == '}').unwrap_or(t.len());
    if let Some(body) = text.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((Scalar::Str(out), &body[i + 1..])),
                '\\' => match chars.next()?.1 {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        return None;
    }
    if let Some(body) = text.strip_prefix(':') {
        let end = token_end(body);
        if end == 0 {
            return None;
        }
        return Some((Scalar::Keyword(body[..end].to_string()), &body[end..]));
    }
    let end = token_end(text);
    let token = &text[..end];
    if token == "nil" {
        return Some((Scalar::Nil, &text[end..]));
    }
    token.parse().ok().map(|i| (Scalar::Int(i), &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;

    #[test]
    fn reads_porcupine_lines() {
        let text = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
                    {:process 1, :type :invoke, :f :get, :key \"0\", :value nil}\n\
                    {:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
                    {:process 1, :type :ok, :f :get, :key \"0\", :value \"a \\\"q\\\"\"}\n\
                    {:process 2, :type :invoke, :f :put, :key \"1\", :value \"z\"}\n";
        let h = parse(text).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(0).input, KvInput::Append { key: "0".into(), value: "x 9 0 y".into() });
        assert_eq!(h.get(1).output, Some(KvOutput::Value("a \"q\"".into())));
        assert_eq!(
            h.get(2),
            &Operation {
                client: 2,
                call: 4,
                ret: None,
                input: KvInput::Put { key: "1".into(), value: "z".into() },
                output: None
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x\"}\n{:process 9, :type :ok :f}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.expected.contains("value for `:f`"), "{e}");
        let e = parse("{:process 9, :type :invoke, :f :frob, :key \"0\", :value nil}").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().contains(":frob"), "{e}");
        let e = parse("{:process 9, :type :invoke, :f :put, :key \"0\", :value nil}").unwrap_err();
        assert!(e.expected.contains("string after `:value`"), "{e}");
    }
}
