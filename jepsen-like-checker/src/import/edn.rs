//! A reader for the part of EDN that Jepsen writes in `history.edn`: nil, booleans,
//! numbers, strings, characters, keywords, symbols, vectors, lists, maps, sets, tagged
//! values (`#jepsen.history.Op{...}`, `#inst "..."`), `#_` discards and `;` comments.
//! Each top-level value comes with the line it starts on, for error messages.

use super::ImportError;

/// One EDN value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Char(char),
    Keyword(String),
    Symbol(String),
    /// Vectors and lists alike.
    Seq(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Tagged(String, Box<Value>),
}

impl Value {
    /// The value under keyword `key` of a map (of a tagged map too, as a record).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Keyword(name) if name == key))
                .map(|(_, v)| v),
            Value::Tagged(_, inner) => inner.get(key),
            _ => None,
        }
    }

    /// The value as EDN text, shortened, for error messages.
    pub fn show(&self) -> String {
        match self {
            Value::Nil => "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Char(c) => format!("\\{c}"),
            Value::Keyword(k) => format!(":{k}"),
            Value::Symbol(s) => s.clone(),
            Value::Seq(items) => {
                format!("[{}]", items.iter().map(Value::show).collect::<Vec<_>>().join(" "))
            }
            Value::Set(items) => {
                format!("#{{{}}}", items.iter().map(Value::show).collect::<Vec<_>>().join(" "))
            }
            Value::Map(entries) => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{} {}", k.show(), v.show()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Tagged(tag, v) => format!("#{tag} {}", v.show()),
        }
    }
}

/// Nesting deeper than this is refused rather than risking the stack.
const DEPTH_MAX: usize = 64;

struct Reader<'a> {
    text: &'a [u8],
    src: &'a str,
    pos: usize,
    line: usize,
}

/// Reads every top-level value of `text`, each with its starting line (1-based).
pub fn read_all(text: &str) -> Result<Vec<(usize, Value)>, ImportError> {
    let mut r = Reader { text: text.as_bytes(), src: text, pos: 0, line: 1 };
    let mut out = Vec::new();
    loop {
        r.skip_blank();
        if r.pos >= r.text.len() {
            return Ok(out);
        }
        let line = r.line;
        if let Some(v) = r.value(0)? {
            out.push((line, v));
        }
    }
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b",()[]{}\";".contains(&b)
}

impl Reader<'_> {
    fn err(&self, expected: &str) -> ImportError {
        let rest: String = self.src[self.pos..].chars().take(40).collect();
        let found =
            if rest.is_empty() { "the end of the file".into() } else { format!("`{rest}`") };
        ImportError::new(self.line, expected, found)
    }

    fn skip_blank(&mut self) {
        while let Some(&b) = self.text.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b',' => self.pos += 1,
                b';' => {
                    while self.text.get(self.pos).is_some_and(|&b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                b if b.is_ascii_whitespace() => self.pos += 1,
                _ => return,
            }
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(|&b| !is_delimiter(b)) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// Values up to the closing byte `close`.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Value>, ImportError> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.text.get(self.pos) {
                None => return Err(self.err(&format!("`{}` to close", close as char))),
                Some(&b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => {
                    if let Some(v) = self.value(depth + 1)? {
                        items.push(v);
                    }
                }
            }
        }
    }

    /// One value; `None` for a `#_` discard.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, ImportError> {
        if depth > DEPTH_MAX {
            return Err(self.err(&format!("values nested at most {DEPTH_MAX} deep")));
        }
        self.skip_blank();
        let Some(&b) = self.text.get(self.pos) else {
            return Err(self.err("a value"));
        };
        let value = match b {
            b'[' | b'(' => {
                self.pos += 1;
                Value::Seq(self.items(if b == b'[' { b']' } else { b')' }, depth)?)
            }
            b'{' => {
                self.pos += 1;
                let line = self.line;
                let items = self.items(b'}', depth)?;
                if items.len() % 2 != 0 {
                    return Err(ImportError::new(
                        line,
                        "a map with a value for every key",
                        "an odd number of forms",
                    ));
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
            b'"' => Value::Str(self.string()?),
            b'#' => {
                self.pos += 1;
                match self.text.get(self.pos) {
                    Some(b'{') => {
                        self.pos += 1;
                        Value::Set(self.items(b'}', depth)?)
                    }
                    Some(b'_') => {
                        self.pos += 1;
                        self.value(depth + 1)?;
                        return Ok(None);
                    }
                    _ => {
                        let tag = self.token().to_string();
                        if tag.is_empty() {
                            return Err(self.err("a tag after `#`"));
                        }
                        let inner =
                            self.value(depth + 1)?.ok_or_else(|| self.err("a tagged value"))?;
                        Value::Tagged(tag, Box::new(inner))
                    }
                }
            }
            b'\\' => {
                self.pos += 1;
                let start = self.pos;
                let first =
                    self.src[start..].chars().next().ok_or_else(|| self.err("a character"))?;
                self.pos += first.len_utf8();
                let rest = self.token().to_string();
                let c = match (first, rest.as_str()) {
                    (c, "") => c,
                    ('n', "ewline") => '\n',
                    ('s', "pace") => ' ',
                    ('t', "ab") => '\t',
                    _ => '?',
                };
                Value::Char(c)
            }
            b')' | b']' | b'}' => return Err(self.err("a value")),
            b':' => {
                self.pos += 1;
                let name = self.token().to_string();
                if name.is_empty() {
                    return Err(self.err("a keyword name after `:`"));
                }
                Value::Keyword(name)
            }
            _ => {
                let token = self.token().to_string();
                self.atom(&token)?
            }
        };
        Ok(Some(value))
    }

    fn atom(&self, token: &str) -> Result<Value, ImportError> {
        Ok(match token {
            "nil" => Value::Nil,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t if t.starts_with(|c: char| c.is_ascii_digit())
                || (t.len() > 1
                    && t.starts_with(['-', '+'])
                    && t[1..].starts_with(|c: char| c.is_ascii_digit())) =>
            {
                let digits = t.strip_suffix('N').unwrap_or(t);
                if let Ok(i) = digits.parse::<i64>() {
                    Value::Int(i)
                } else {
                    let f = t.strip_suffix('M').unwrap_or(t);
                    Value::Float(
                        f.parse().map_err(|_| {
                            ImportError::new(self.line, "a number", format!("`{t}`"))
                        })?,
                    )
                }
            }
            t => Value::Symbol(t.to_string()),
        })
    }

    fn string(&mut self) -> Result<String, ImportError> {
        let start_line = self.line;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => break,
                },
                '\n' => {
                    self.line += 1;
                    out.push('\n');
                }
                c => out.push(c),
            }
        }
        Err(ImportError::new(start_line, "a string closed by `\"`", "the end of the file"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jepsen_ops() {
        let text = "{:type :invoke, :f :cas, :value [1 2], :process 3, :time 12, :index 0}\n\
                    ; a comment\n\
                    #jepsen.history.Op{:index 1, :type :info, :f :start, :process :nemesis, :value nil, :error #_ x \"boom\"}\n\
                    [1 -2 3.5 \\a #{:x} (nil true) 12N]\n";
        let values = read_all(text).unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].0, 1);
        assert_eq!(values[0].1.get("value"), Some(&Value::Seq(vec![Value::Int(1), Value::Int(2)])));
        assert_eq!(values[1].0, 3);
        assert_eq!(values[1].1.get("process"), Some(&Value::Keyword("nemesis".into())));
        assert_eq!(values[1].1.get("error"), Some(&Value::Str("boom".into())));
        let Value::Seq(items) = &values[2].1 else { panic!("a vector") };
        assert_eq!(items[1], Value::Int(-2));
        assert_eq!(items[2], Value::Float(3.5));
        assert_eq!(items[6], Value::Int(12));
    }

    #[test]
    fn errors_name_the_line() {
        let e = read_all("{:a 1}\n{:b 2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.expected.contains("`}` to close"), "{e}");
        let e = read_all("{:a}").unwrap_err();
        assert!(e.expected.contains("a value for every key"), "{e}");
        assert!(read_all(&"[".repeat(100)).is_err());
    }
}
