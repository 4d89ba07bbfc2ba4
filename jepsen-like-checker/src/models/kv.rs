//! A string-to-string map with get, put, append and delete. An absent key reads as the
//! empty string (as in Porcupine's KV histories), so delete and "put empty" are the same.
//! Keys are independent, so the history is checked key by key.

use crate::history::History;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// The map's non-empty entries, sorted by key. Values are shared so that the many
/// states that differ in one key do not copy the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KvState {
    entries: Vec<(Arc<str>, Arc<str>)>,
}

impl KvState {
    pub fn get(&self, key: &str) -> &str {
        match self.entries.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(i) => &self.entries[i].1,
            Err(_) => "",
        }
    }

    fn set(&mut self, key: &str, value: Arc<str>) {
        match self.entries.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(i) if value.is_empty() => {
                self.entries.remove(i);
            }
            Ok(i) => self.entries[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.entries.insert(i, (Arc::from(key), value)),
        }
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
                let mut next = state.clone();
                next.set(key, Arc::from(value.as_str()));
                Some(next)
            }
            (KvInput::Append { key, value }, None | Some(KvOutput::Ok)) => {
                let mut next = state.clone();
                let joined = format!("{}{}", state.get(key), value);
                next.set(key, Arc::from(joined));
                Some(next)
            }
            (KvInput::Delete { key }, None | Some(KvOutput::Ok)) => {
                let mut next = state.clone();
                next.set(key, Arc::from(""));
                Some(next)
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
            state.entries.iter().map(|(k, v)| format!("{:?}: {:?}", &**k, &**v)).collect();
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
    fn partitions_by_key_in_key_order() {
        let mut h = History::new();
        h.returned(0, 0, 1, get("b"), KvOutput::Value(String::new())).unwrap();
        h.returned(0, 2, 3, get("a"), KvOutput::Value(String::new())).unwrap();
        h.returned(1, 0, 3, get("b"), KvOutput::Value(String::new())).unwrap();
        assert_eq!(Kv.partition(&h), vec![vec![1], vec![0, 2]]);
    }
}
