//! detcd's JSON history format (see the crate docs): `{"model": NAME, "operations":
//! [{client, call, return, input, output}, ...]}`. serde_json reports the line and
//! column of any error; the model name picks the input/output types.

use super::ImportError;
use crate::history::{History, Operation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Header {
    model: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Document<I, O> {
    model: String,
    operations: Vec<Operation<I, O>>,
}

/// The model named in a detcd history, if any.
pub fn model_name(text: &str) -> Result<Option<String>, ImportError> {
    let header: Header = serde_json::from_str(text).map_err(json_error)?;
    Ok(header.model)
}

/// Parses a detcd JSON history with the given operation types.
pub fn parse<I: DeserializeOwned, O: DeserializeOwned>(
    text: &str,
) -> Result<History<I, O>, ImportError> {
    #[derive(Deserialize)]
    struct Ops<I, O> {
        operations: Vec<Operation<I, O>>,
    }
    let doc: Ops<I, O> = serde_json::from_str(text).map_err(json_error)?;
    let mut history = History::new();
    for (i, op) in doc.operations.into_iter().enumerate() {
        history.push(op).map_err(|e| {
            ImportError::new(line_of_operation(text, i), "a valid operation", e.to_string())
        })?;
    }
    Ok(history)
}

/// Writes a history in detcd's JSON format.
pub fn to_json<I: Serialize + Clone, O: Serialize + Clone>(
    model: &str,
    history: &History<I, O>,
) -> String {
    let doc = Document { model: model.to_string(), operations: history.ops().to_vec() };
    serde_json::to_string_pretty(&doc).expect("histories serialize")
}

fn json_error(e: serde_json::Error) -> ImportError {
    let expected = match e.classify() {
        serde_json::error::Category::Eof => "more JSON (the file ends early)".to_string(),
        serde_json::error::Category::Syntax => "valid JSON".to_string(),
        _ => "a detcd history: {\"model\": ..., \"operations\": [{\"client\", \"call\", \"return\", \"input\", \"output\"}, ...]}".to_string(),
    };
    ImportError::new(e.line().max(1), expected, format!("{e}"))
}

/// The line where the `index`-th operation object starts (best effort: counts the
/// objects that open directly inside the `operations` array).
fn line_of_operation(text: &str, index: usize) -> usize {
    let Some(start) = text.find("\"operations\"") else { return 1 };
    let mut depth = 0i32;
    let mut seen = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text[start..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if c == '{' && depth == 2 {
                    if seen == index {
                        return text[..start + offset].lines().count().max(1);
                    }
                    seen += 1;
                }
            }
            ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{CasInput, CasOutput};

    #[test]
    fn round_trips() {
        let mut h = History::new();
        h.returned(0, 0, 3, CasInput::Write { value: 1 }, CasOutput::Written).unwrap();
        h.returned(1, 1, 4, CasInput::Read, CasOutput::Read(Some(1))).unwrap();
        h.unknown(2, 2, CasInput::Cas { expected: 1, new: 2 }).unwrap();
        let text = to_json("cas-register", &h);
        assert_eq!(model_name(&text).unwrap().as_deref(), Some("cas-register"));
        assert_eq!(parse::<CasInput, CasOutput>(&text).unwrap(), h);
    }

    #[test]
    fn errors_carry_lines() {
        let text = "{\"model\": \"cas-register\",\n \"operations\": [\n  {\"client\": 0, \"call\": 0, \"return\": 1,\n   \"input\": {\"op\": \"frob\"}, \"output\": \"written\"}]}";
        let e = parse::<CasInput, CasOutput>(text).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let text = "{\"model\": \"cas-register\",\n \"operations\": [\n  {\"client\": 0, \"call\": 0, \"return\": 1, \"input\": {\"op\": \"read\"}, \"output\": {\"read\": 1}},\n  {\"client\": 0, \"call\": 5, \"return\": 1, \"input\": {\"op\": \"read\"}, \"output\": {\"read\": 1}}]}";
        let e = parse::<CasInput, CasOutput>(text).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.found.contains("before its call"), "{e}");
    }
}
