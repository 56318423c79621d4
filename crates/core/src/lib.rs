//! Linli's domain types and rules. No database and no async here: everything in this crate is a
//! function of its inputs, so it can be tested (and property-tested) without a database. The one
//! exception to "no I/O" is `sheet`, the spreadsheet codec, which streams a workbook from a file
//! (and whose xlsx writer spools through a temporary file) so a million-row roster never sits in
//! memory whole.

pub mod access;
pub mod checkpoint;
pub mod clock;
pub mod contact;
pub mod enterprise;
pub mod idnumber;
pub mod import_job;
pub mod phone;
pub mod policy;
pub mod registry;
pub mod report;
pub mod request;
pub mod roster;
pub mod sheet;
pub mod supplies;
pub mod tree;

pub use access::{NewPassword, Role, Scope, Username};
pub use idnumber::{DocumentKind, Gender, IdDocument, ResidentId};
pub use phone::{Phone, PhoneKind};
pub use tree::{JurisdictionPath, NewNode, NodeCode, NodeInput, NodeKind, NodeName};

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
