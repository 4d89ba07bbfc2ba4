//! Loading a history file for a chosen (or guessed) format and model, behind one
//! object-safe interface so a command line can check any of them, part by part, without
//! knowing the model's types.

use crate::check::{check_part, check_parts, parts_of, CheckResult, PartResult};
use crate::history::History;
use crate::import::{detcd, jepsen, jepsen_edn, porcupine, Format, ImportError};
use crate::model::Model;
use crate::models::{CasPerKey, CasRegister, Etcd, Kv, Register};
use crate::report::Report;
use crate::search::Budget;
use serde::de::DeserializeOwned;
use std::fmt;

/// The built-in models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelName {
    Register,
    CasRegister,
    Kv,
    Etcd,
}

impl ModelName {
    pub const ALL: [ModelName; 4] =
        [ModelName::Register, ModelName::CasRegister, ModelName::Kv, ModelName::Etcd];

    pub fn name(self) -> &'static str {
        match self {
            ModelName::Register => "register",
            ModelName::CasRegister => "cas-register",
            ModelName::Kv => "kv",
            ModelName::Etcd => "etcd",
        }
    }

    pub fn from_name(name: &str) -> Option<ModelName> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Why a file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Import(ImportError),
    /// The model does not fit the format, or is unknown.
    Model(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Import(e) => e.fmt(f),
            LoadError::Model(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<ImportError> for LoadError {
    fn from(e: ImportError) -> Self {
        LoadError::Import(e)
    }
}

/// A loaded history with its model, checkable part by part (parts may be checked from
/// several threads at once).
pub trait Checkable: Sync {
    fn model_name(&self) -> &'static str;
    fn operations(&self) -> usize;
    fn parts(&self) -> usize;
    fn check_part(&self, part: usize, budget: &Budget<'_>) -> PartResult;
    fn report(&self, results: Vec<PartResult>) -> Report;

    /// Checks all parts, taking turns, stopping at the first failing part (see
    /// [`crate::check::check_parts`]).
    fn check(&self, budget: &Budget<'_>) -> Report;
}

struct Loaded<M: Model> {
    model: M,
    history: History<M::Input, M::Output>,
    parts: Vec<Vec<usize>>,
}

impl<M: Model> Loaded<M> {
    fn new(model: M, history: History<M::Input, M::Output>) -> Self {
        let parts = parts_of(&model, &history);
        Loaded { model, history, parts }
    }
}

impl<M: Model> Checkable for Loaded<M>
where
    M::Input: Sync,
    M::Output: Sync,
{
    fn model_name(&self) -> &'static str {
        self.model.name()
    }

    fn operations(&self) -> usize {
        self.history.len()
    }

    fn parts(&self) -> usize {
        self.parts.len()
    }

    fn check_part(&self, part: usize, budget: &Budget<'_>) -> PartResult {
        check_part(&self.model, &self.history, &self.parts[part], budget)
    }

    fn report(&self, results: Vec<PartResult>) -> Report {
        Report::new(&self.model, &self.history, &CheckResult::from_parts(results))
    }

    fn check(&self, budget: &Budget<'_>) -> Report {
        let result = check_parts(&self.model, &self.history, &self.parts, budget);
        Report::new(&self.model, &self.history, &result)
    }
}

fn detcd_loaded<M>(model: M, text: &str) -> Result<Box<dyn Checkable>, LoadError>
where
    M: Model + 'static,
    M::Input: DeserializeOwned + Sync,
    M::Output: DeserializeOwned + Sync,
{
    let history = detcd::parse::<M::Input, M::Output>(text)?;
    Ok(Box::new(Loaded::new(model, history)))
}

/// Reads `text` in `format` (guessed when `None`) for `model` (taken from the format,
/// or from a detcd file's `model` field, when `None`).
pub fn load(
    text: &str,
    format: Option<Format>,
    model: Option<ModelName>,
) -> Result<Box<dyn Checkable>, LoadError> {
    let format = match format {
        Some(f) => f,
        None => Format::guess(text)?,
    };
    let mismatch = |fits: ModelName, m: ModelName| {
        LoadError::Model(format!(
            "the {} format holds {} histories; --model {} does not fit it",
            format.name(),
            fits.name(),
            m.name()
        ))
    };
    match format {
        Format::JepsenEtcd => match model {
            None | Some(ModelName::CasRegister) => {
                Ok(Box::new(Loaded::new(CasRegister, jepsen::parse(text)?)))
            }
            Some(m) => Err(mismatch(ModelName::CasRegister, m)),
        },
        Format::JepsenEdn => match model {
            // Independent keys are CAS registers too, one per key.
            None | Some(ModelName::CasRegister) => Ok(match jepsen_edn::parse(text)? {
                jepsen_edn::EdnHistory::Single(h) => Box::new(Loaded::new(CasRegister, h)),
                jepsen_edn::EdnHistory::Independent(h) => Box::new(Loaded::new(CasPerKey, h)),
            }),
            Some(m) => Err(mismatch(ModelName::CasRegister, m)),
        },
        Format::PorcupineKv => match model {
            None | Some(ModelName::Kv) => Ok(Box::new(Loaded::new(Kv, porcupine::parse(text)?))),
            Some(m) => Err(mismatch(ModelName::Kv, m)),
        },
        Format::Detcd => {
            let named = detcd::model_name(text)?;
            let model = match (model, named) {
                (Some(m), _) => m,
                (None, Some(name)) => ModelName::from_name(&name).ok_or_else(|| {
                    LoadError::Model(format!(
                        "the history names model {name:?}; known models: register, cas-register, kv, etcd"
                    ))
                })?,
                (None, None) => {
                    return Err(LoadError::Model(
                        "the history has no \"model\" field; pass --model".to_string(),
                    ))
                }
            };
            match model {
                ModelName::Register => detcd_loaded(Register, text),
                ModelName::CasRegister => detcd_loaded(CasRegister, text),
                ModelName::Kv => detcd_loaded(Kv, text),
                ModelName::Etcd => detcd_loaded(Etcd, text),
            }
        }
    }
}
