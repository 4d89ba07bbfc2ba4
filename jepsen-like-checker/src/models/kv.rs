//! A string-to-string map with get, put, append and delete. An absent key reads as the
//! empty string (as in Porcupine's KV histories), so delete and "put empty" are the same.
//! Keys are independent, so the history is checked key by key.

use crate::history::History;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum KvInput {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
    Delete { key: String },
}

impl KvInput {
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key }
            | KvInput::Put { key, .. }
            | KvInput::Append { key, .. }
            | KvInput::Delete { key } => key,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvOutput {
    /// What a get returned ("" for an absent key).
    Value(String),
    /// A put's, append's or delete's acknowledgement.
    Ok,
}

/// A value with a polynomial hash kept up to date on append (Horner's rule continues
/// over the appended bytes), so hashing a state never rereads a long value.
#[derive(Debug, Clone)]
struct Value {
    text: Arc<str>,
    hash: u64,
}

/// Odd multiplier of the polynomial hash.
const POLY: u64 = 0x100_0000_01b3;

impl Value {
    fn new(text: &str) -> Self {
        Value { text: Arc::from(text), hash: extend_hash(0, text) }
    }

    fn appended(&self, tail: &str) -> Self {
        let mut text = String::with_capacity(self.text.len() + tail.len());
        text.push_str(&self.text);
        text.push_str(tail);
        Value { text: Arc::from(text), hash: extend_hash(self.hash, tail) }
    }
}

fn extend_hash(hash: u64, tail: &str) -> u64 {
    tail.bytes().fold(hash, |h, b| h.wrapping_mul(POLY).wrapping_add(u64::from(b) + 1))
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The map's non-empty entries, sorted by key, in a shared slice: copying a state (as
/// every read does) is a reference-count bump, and a write builds one new slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvState {
    entries: Arc<[(Arc<str>, Value)]>,
}

impl Default for KvState {
    fn default() -> Self {
        KvState { entries: Arc::from(Vec::new()) }
    }
}

impl KvState {
    pub fn get(&self, key: &str) -> &str {
        match self.find(key) {
            Ok(i) => &self.entries[i].1.text,
            Err(_) => "",
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    /// The state with `key` set to `value` (an empty value removes the key).
    fn with(&self, key: &str, value: Value) -> KvState {
        let mut entries: Vec<(Arc<str>, Value)> = self.entries.to_vec();
        match self.find(key) {
            Ok(i) if value.text.is_empty() => {
                entries.remove(i);
            }
            Ok(i) => entries[i].1 = value,
            Err(_) if value.text.is_empty() => {}
            Err(i) => entries.insert(i, (Arc::from(key), value)),
        }
        KvState { entries: Arc::from(entries) }
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

impl Model for Kv {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        match (input, output) {
            (KvInput::Get { .. }, None) => Some(state.clone()),
            (KvInput::Get { key }, Some(KvOutput::Value(v))) => {
                (state.get(key) == v.as_str()).then(|| state.clone())
            }
            (KvInput::Put { key, value }, None | Some(KvOutput::Ok)) => {
                Some(state.with(key, Value::new(value)))
            }
            (KvInput::Append { key, value }, None | Some(KvOutput::Ok)) => {
                let joined = match state.value(key) {
                    Some(old) => old.appended(value),
                    None => Value::new(value),
                };
                Some(state.with(key, joined))
            }
            (KvInput::Delete { key }, None | Some(KvOutput::Ok)) => {
                Some(state.with(key, Value::new("")))
            }
            _ => None,
        }
    }

    fn partition(&self, history: &History<KvInput, KvOutput>) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.ops().iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }

    fn is_read_only(&self, input: &KvInput, output: Option<&KvOutput>) -> bool {
        matches!((input, output), (KvInput::Get { .. }, Some(_)))
    }

    fn state_bytes(&self, state: &KvState) -> usize {
        let text: usize = state.entries.iter().map(|(k, v)| k.len() + v.text.len()).sum();
        32 + state.entries.len() * 48 + text
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        let call = match input {
            KvInput::Get { key } => format!("get({key:?})"),
            KvInput::Put { key, value } => format!("put({key:?}, {value:?})"),
            KvInput::Append { key, value } => format!("append({key:?}, {value:?})"),
            KvInput::Delete { key } => format!("delete({key:?})"),
        };
        let ret = match output {
            None => "unknown".to_string(),
            Some(KvOutput::Value(v)) => format!("{v:?}"),
            Some(KvOutput::Ok) => "ok".to_string(),
        };
        format!("{call} -> {ret}")
    }

    fn describe_state(&self, state: &KvState) -> String {
        if state.entries.is_empty() {
            return "{} (every key empty)".to_string();
        }
        let parts: Vec<String> =
            state.entries.iter().map(|(k, v)| format!("{:?}: {:?}", &**k, &*v.text)).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str) -> KvInput {
        KvInput::Get { key: key.into() }
    }

    #[test]
    fn put_append_delete_and_get() {
        let m = Kv;
        let s = m.init();
        let v = |x: &str| KvOutput::Value(x.into());
        assert!(m.step(&s, &get("a"), Some(&v(""))).is_some());
        let s = m
            .step(&s, &KvInput::Put { key: "a".into(), value: "x".into() }, Some(&KvOutput::Ok))
            .unwrap();
        let s = m.step(&s, &KvInput::Append { key: "a".into(), value: "y".into() }, None).unwrap();
        assert!(m.step(&s, &get("a"), Some(&v("xy"))).is_some());
        assert!(m.step(&s, &get("a"), Some(&v("x"))).is_none());
        assert!(m.step(&s, &get("b"), Some(&v(""))).is_some());
        let s = m.step(&s, &KvInput::Delete { key: "a".into() }, Some(&KvOutput::Ok)).unwrap();
        assert_eq!(s, m.init());
        assert_eq!(m.describe_state(&s), "{} (every key empty)");
    }

    #[test]
    fn appending_and_putting_the_same_text_give_equal_states() {
        let m = Kv;
        let s = m.init();
        let a = m.step(&s, &KvInput::Append { key: "k".into(), value: "ab".into() }, None).unwrap();
        let a = m.step(&a, &KvInput::Append { key: "k".into(), value: "cd".into() }, None).unwrap();
        let p = m.step(&s, &KvInput::Put { key: "k".into(), value: "abcd".into() }, None).unwrap();
        assert_eq!(a, p);
        assert_eq!(crate::hash::stable_hash(&a), crate::hash::stable_hash(&p));
        let q = m.step(&s, &KvInput::Put { key: "k".into(), value: "abce".into() }, None).unwrap();
        assert_ne!(a, q);
    }

    #[test]
    fn partitions_by_key_in_key_order() {
        let mut h = History::new();
        h.returned(0, 0, 1, get("b"), KvOutput::Value(String::new())).unwrap();
        h.returned(0, 2, 3, get("a"), KvOutput::Value(String::new())).unwrap();
        h.returned(1, 0, 3, get("b"), KvOutput::Value(String::new())).unwrap();
        assert_eq!(Kv.partition(&h), vec![vec![1], vec![0, 2]]);
    }
}
