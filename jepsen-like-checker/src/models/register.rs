//! A single read/write register holding an integer, initially absent (`nil`).

use super::describe_value;
use crate::model::Model;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum RegisterInput {
    Read,
    Write { value: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterOutput {
    /// What a read returned; `None` = absent.
    Read(Option<i64>),
    /// A write's acknowledgement.
    Written,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

impl Model for Register {
    type State = Option<i64>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Option<i64>> {
        match (input, output) {
            (RegisterInput::Read, None) => Some(*state),
            (RegisterInput::Read, Some(RegisterOutput::Read(v))) => (v == state).then_some(*state),
            (RegisterInput::Write { value }, None | Some(RegisterOutput::Written)) => {
                Some(Some(*value))
            }
            _ => None,
        }
    }

    fn is_read_only(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> bool {
        matches!((input, output), (RegisterInput::Read, Some(_)))
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> String {
        let call = match input {
            RegisterInput::Read => "read()".to_string(),
            RegisterInput::Write { value } => format!("write({value})"),
        };
        let ret = match output {
            None => "unknown".to_string(),
            Some(RegisterOutput::Read(v)) => describe_value(*v),
            Some(RegisterOutput::Written) => "ok".to_string(),
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
    fn reads_see_the_last_write() {
        let m = Register;
        let s = m.init();
        assert_eq!(m.step(&s, &RegisterInput::Read, Some(&RegisterOutput::Read(None))), Some(None));
        assert_eq!(m.step(&s, &RegisterInput::Read, Some(&RegisterOutput::Read(Some(1)))), None);
        let s =
            m.step(&s, &RegisterInput::Write { value: 1 }, Some(&RegisterOutput::Written)).unwrap();
        assert_eq!(s, Some(1));
        assert_eq!(
            m.step(&s, &RegisterInput::Read, Some(&RegisterOutput::Read(Some(1)))),
            Some(Some(1))
        );
        assert_eq!(m.step(&s, &RegisterInput::Write { value: 2 }, None), Some(Some(2)));
        assert_eq!(
            m.step(&s, &RegisterInput::Write { value: 2 }, Some(&RegisterOutput::Read(None))),
            None
        );
        assert_eq!(
            m.describe_operation(&RegisterInput::Write { value: 2 }, None),
            "write(2) -> unknown"
        );
    }
}
