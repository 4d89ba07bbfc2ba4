//! The compare-and-set register of Jepsen's etcd tests: an integer register, initially
//! absent (`nil`), with read, write and cas(expected, new). A cas that returned "failed"
//! is a definite answer (etcd's "compare failed"): it did not apply, and it observed a
//! value other than `expected`. A read of nil is legal only while the register is absent.

use super::describe_value;
use crate::model::Model;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum CasInput {
    Read,
    Write { value: i64 },
    Cas { expected: i64, new: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CasOutput {
    /// What a read returned; `None` = absent.
    Read(Option<i64>),
    /// A write's acknowledgement.
    Written,
    /// Whether a cas applied.
    Cas(bool),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CasRegister;

impl Model for CasRegister {
    type State = Option<i64>;
    type Input = CasInput;
    type Output = CasOutput;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &CasInput,
        output: Option<&CasOutput>,
    ) -> Option<Option<i64>> {
        match (input, output) {
            (CasInput::Read, None) => Some(*state),
            (CasInput::Read, Some(CasOutput::Read(v))) => (v == state).then_some(*state),
            (CasInput::Write { value }, None | Some(CasOutput::Written)) => Some(Some(*value)),
            (CasInput::Cas { expected, new }, output) => {
                let applies = *state == Some(*expected);
                match output {
                    None => Some(if applies { Some(*new) } else { *state }),
                    Some(CasOutput::Cas(ok)) if *ok == applies => {
                        Some(if applies { Some(*new) } else { *state })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn is_read_only(&self, input: &CasInput, output: Option<&CasOutput>) -> bool {
        // A cas that answered "failed" is legal only where it does not apply.
        matches!(
            (input, output),
            (CasInput::Read, Some(_)) | (CasInput::Cas { .. }, Some(CasOutput::Cas(false)))
        )
    }

    fn describe_operation(&self, input: &CasInput, output: Option<&CasOutput>) -> String {
        let call = match input {
            CasInput::Read => "read()".to_string(),
            CasInput::Write { value } => format!("write({value})"),
            CasInput::Cas { expected, new } => format!("cas({expected}, {new})"),
        };
        let ret = match output {
            None => "unknown".to_string(),
            Some(CasOutput::Read(v)) => describe_value(*v),
            Some(CasOutput::Written) => "ok".to_string(),
            Some(CasOutput::Cas(true)) => "ok".to_string(),
            Some(CasOutput::Cas(false)) => "failed".to_string(),
        };
        format!("{call} -> {ret}")
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        format!("value = {}", describe_value(*state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_applies_only_on_the_expected_value() {
        let m = CasRegister;
        let cas = CasInput::Cas { expected: 1, new: 2 };
        assert_eq!(m.step(&None, &cas, Some(&CasOutput::Cas(true))), None);
        assert_eq!(m.step(&None, &cas, Some(&CasOutput::Cas(false))), Some(None));
        assert_eq!(m.step(&Some(1), &cas, Some(&CasOutput::Cas(true))), Some(Some(2)));
        assert_eq!(m.step(&Some(1), &cas, Some(&CasOutput::Cas(false))), None);
        assert_eq!(m.step(&Some(1), &cas, None), Some(Some(2)));
        assert_eq!(m.step(&Some(3), &cas, None), Some(Some(3)));
    }

    #[test]
    fn reads_and_writes() {
        let m = CasRegister;
        assert_eq!(m.step(&None, &CasInput::Read, Some(&CasOutput::Read(None))), Some(None));
        assert_eq!(m.step(&Some(0), &CasInput::Read, Some(&CasOutput::Read(None))), None);
        assert_eq!(
            m.step(&None, &CasInput::Write { value: 0 }, Some(&CasOutput::Written)),
            Some(Some(0))
        );
        assert_eq!(m.step(&None, &CasInput::Write { value: 0 }, Some(&CasOutput::Cas(true))), None);
        assert_eq!(
            m.describe_operation(
                &CasInput::Cas { expected: 1, new: 2 },
                Some(&CasOutput::Cas(false))
            ),
            "cas(1, 2) -> failed"
        );
    }
}
