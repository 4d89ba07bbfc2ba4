//! Jepsen's independent keys (`jepsen.independent`): many CAS registers, one per key,
//! each operation on one of them. Keys share nothing, so the history is checked key by
//! key, each part against one [`CasRegister`] (P-compositionality).

use super::cas_register::{CasInput, CasOutput, CasRegister};
use crate::history::History;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An operation on the register of `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedCas {
    pub key: i64,
    pub op: CasInput,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CasPerKey;

impl Model for CasPerKey {
    /// The state of one key's register: every part holds one key only.
    type State = Option<i64>;
    type Input = KeyedCas;
    type Output = CasOutput;

    fn name(&self) -> &'static str {
        "cas-register per key"
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &KeyedCas,
        output: Option<&CasOutput>,
    ) -> Option<Option<i64>> {
        CasRegister.step(state, &input.op, output)
    }

    fn partition(&self, history: &History<KeyedCas, CasOutput>) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.ops().iter().enumerate() {
            by_key.entry(op.input.key).or_default().push(i);
        }
        by_key.into_values().collect()
    }

    fn is_read_only(&self, input: &KeyedCas, output: Option<&CasOutput>) -> bool {
        CasRegister.is_read_only(&input.op, output)
    }

    fn describe_operation(&self, input: &KeyedCas, output: Option<&CasOutput>) -> String {
        format!("key {}: {}", input.key, CasRegister.describe_operation(&input.op, output))
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        CasRegister.describe_state(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_parts_and_steps_are_the_registers() {
        let mut h = History::new();
        let w = |key, value| KeyedCas { key, op: CasInput::Write { value } };
        h.returned(0, 0, 1, w(2, 5), CasOutput::Written).unwrap();
        h.returned(1, 0, 1, w(1, 5), CasOutput::Written).unwrap();
        h.returned(0, 2, 3, KeyedCas { key: 2, op: CasInput::Read }, CasOutput::Read(Some(5)))
            .unwrap();
        assert_eq!(CasPerKey.partition(&h), vec![vec![1], vec![0, 2]]);
        let read = KeyedCas { key: 1, op: CasInput::Read };
        assert_eq!(CasPerKey.step(&Some(4), &read, Some(&CasOutput::Read(Some(4)))), Some(Some(4)));
        assert_eq!(CasPerKey.step(&None, &read, Some(&CasOutput::Read(Some(4)))), None);
        assert!(CasPerKey.describe_operation(&read, None).starts_with("key 1: "));
    }
}
