//! Linli's domain types and rules. No database and no async here: everything in this crate is a
//! function of its inputs, so it can be tested (and property-tested) without a database. The one
//! exception to "no I/O" is `registry::sheet`, the spreadsheet codec, which streams a workbook from a file
//! (and whose xlsx writer spools through a temporary file) so a million-row roster never sits in
//! memory whole.

// Areas: one folder each, the same word in every crate (see docs/architecture.md).
pub mod accounts;
pub mod enterprises;
pub mod epidemic;
pub mod registry;
pub mod reports;
pub mod requests;
pub mod supplies;
pub mod tree;

// What the areas share; it imports no area.
pub mod kernel;

pub use accounts::{NewPassword, Username};
pub use kernel::access::{Role, Scope};
pub use kernel::idnumber::{DocumentKind, Gender, IdDocument, ResidentId};
pub use kernel::path::JurisdictionPath;
pub use kernel::phone::{Phone, PhoneKind};
pub use tree::{NewNode, NodeCode, NodeInput, NodeKind, NodeName};

/// A domain rule was broken by some input: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CoreError {
    pub field: String,
    pub message: String,
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> CoreError {
        CoreError {
            field: field.into(),
            message: message.into(),
        }
    }
}
