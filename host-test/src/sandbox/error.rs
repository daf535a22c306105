//! One typed error for every way a call can fail.

use std::fmt;
use std::time::Duration;

use crate::contract::bindings::{Problem, RenderError, Severity};

/// Why a host call failed.
#[derive(Debug)]
pub enum HostError {
    /// The component could not be read, compiled or instantiated.
    Load(String),
    /// The component imports an interface the host does not grant.
    ImportNotAllowed(String),
    /// The component is not of the contract version this host speaks.
    UnsupportedVersion {
        /// The provider export the component has, if any (`connect:webhook/provider@0.1.0`).
        found: Option<String>,
        /// The version this host loads.
        supported: &'static str,
    },
    /// `compile` found problems in the configuration or strategy.
    Invalid(Vec<Problem>),
    /// The guest returned a typed render error.
    Render(RenderError),
    /// The guest returned a problem (from `evaluate`).
    Problem(Problem),
    /// The call used up its fuel budget.
    OutOfFuel {
        /// The budget.
        fuel: u64,
    },
    /// The call ran past its wall-clock deadline.
    Deadline {
        /// The deadline.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the cap.
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The guest trapped (a bug in the component: it must never happen).
    Trap(String),
    /// The call's input is larger than the cap.
    InputTooLarge {
        /// Input size in bytes.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The call's output is larger than the cap.
    OutputTooLarge {
        /// Output size in bytes.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The instance trapped earlier and cannot be used again.
    Poisoned,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Load(m) => write!(f, "could not load the component: {m}"),
            HostError::ImportNotAllowed(name) => write!(
                f,
                "the component imports {name}, which this host does not grant; a webhook-provider component imports only connect:webhook/zone (and the type-only types, config and page) of version {}",
                crate::contract::bindings::CONTRACT_VERSION
            ),
            HostError::UnsupportedVersion {
                found: Some(found),
                supported,
            } => write!(
                f,
                "the component exports {found}, but this host speaks connect:webhook@{supported}: load a component built for {supported}, or a host built for its version"
            ),
            HostError::UnsupportedVersion {
                found: None,
                supported,
            } => write!(
                f,
                "the component does not export connect:webhook/provider: it is not a webhook-provider component (this host loads connect:webhook@{supported})"
            ),
            HostError::Invalid(problems) => {
                let errors = problems
                    .iter()
                    .filter(|p| matches!(p.severity, Severity::Error))
                    .count();
                write!(f, "the configuration has {errors} error(s):")?;
                for p in problems {
                    write!(f, "\n  {}", crate::contract::text::problem_line(p))?;
                }
                Ok(())
            }
            HostError::Render(e) => write!(f, "{}", crate::contract::text::render_error_text(e)),
            HostError::Problem(p) => write!(f, "{}", crate::contract::text::problem_line(p)),
            HostError::OutOfFuel { fuel } => write!(
                f,
                "the call used up its fuel budget of {fuel} units (a runaway computation, or an input that needs a larger budget)"
            ),
            HostError::Deadline { limit } => {
                write!(f, "the call ran past its {limit:?} wall-clock deadline")
            }
            HostError::MemoryLimit { limit } => write!(
                f,
                "the component tried to use more than its {limit}-byte memory cap; send smaller pages"
            ),
            HostError::Trap(m) => write!(f, "the component trapped (a bug): {m}"),
            HostError::InputTooLarge { size, limit } => write!(
                f,
                "the call's input is {size} bytes, over the {limit}-byte cap; send smaller pages"
            ),
            HostError::OutputTooLarge { size, limit } => write!(
                f,
                "the call's output is {size} bytes, over the {limit}-byte cap; send smaller pages"
            ),
            HostError::Poisoned => f.write_str(
                "this instance trapped earlier and cannot be used again; create a new session",
            ),
        }
    }
}

impl std::error::Error for HostError {}
