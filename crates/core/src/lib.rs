//! Linli's domain types and rules. No database and no async here: everything in this crate is a
//! function of its inputs, so it can be tested (and property-tested) without a database. The one
//! exception to "no I/O" is `registry::sheet`, the spreadsheet codec, which streams a workbook from a file
//! (and whose xlsx writer spools through a temporary file) so a million-row roster never sits in
//! memory whole.

// Areas: one folder each, the same word in every crate (see docs/architecture.md).
pub mod accounts;
pub mod enterprises;
pub mod epidemic;
pub mod participation;
pub mod registry;
pub mod reports;
pub mod requests;
pub mod supplies;
pub mod tree;

// What the areas share; it imports no area.
#[doc(hidden)]
pub mod fuzzing;
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

/// The fields a list of refusals names, in order (for tests).
#[cfg(test)]
pub(crate) fn fields_of(errors: impl IntoIterator<Item = CoreError>) -> Vec<String> {
    errors.into_iter().map(|e| e.field).collect()
}

#[cfg(test)]
mod label_tests {
    //! Every enum that is `Labelled`, checked where the areas are composed (kernel names none).
    use crate::enterprises::{ChecklistItem, EnterpriseKind, NotReopenedReason, ReopeningStatus};
    use crate::epidemic::policy::{ContactKind, Measure, RiskLevel};
    use crate::kernel::labels::Labelled;
    use crate::registry::{Category, HouseholdKind, PersonState, Relation};
    use crate::CoreError;

    /// Every variant has a label of its own and parses back from its code and its label.
    fn round_trips<T: Labelled + std::fmt::Debug + std::str::FromStr<Err = CoreError>>() {
        for v in T::ALL {
            assert!(v.get_str("zh").is_some(), "{v:?} has no label");
            assert_eq!(v.as_str().parse::<T>(), Ok(*v));
            assert_eq!(format!(" {} ", v.label_zh()).parse::<T>(), Ok(*v));
        }
        let e = "不存在".parse::<T>().unwrap_err();
        assert_eq!(e.field, T::FIELD);
        assert!(e.message.contains(T::ALL[0].label_zh()), "{}", e.message);
    }

    #[test]
    fn every_labelled_enum_round_trips() {
        round_trips::<Relation>();
        round_trips::<Category>();
        round_trips::<PersonState>();
        round_trips::<HouseholdKind>();
        round_trips::<EnterpriseKind>();
        round_trips::<ChecklistItem>();
        round_trips::<NotReopenedReason>();
        round_trips::<ReopeningStatus>();
        round_trips::<RiskLevel>();
        round_trips::<Measure>();
        round_trips::<ContactKind>();
    }

    #[test]
    fn codes_labels_and_aliases_are_those_stored_and_typed() {
        assert_eq!(Relation::Head.as_str(), "head");
        assert_eq!(Relation::Head.to_string(), "head");
        assert_eq!(PersonState::MovedOut.as_str(), "moved_out");
        assert_eq!(Measure::CentralizedQuarantine.label_zh(), "集中隔离");
        assert_eq!("高".parse::<RiskLevel>(), Ok(RiskLevel::High));
        assert_eq!(
            "密接的密接".parse::<ContactKind>(),
            Ok(ContactKind::SecondaryContact)
        );
        assert_eq!(
            serde_json::to_string(&PersonState::MovedOut).unwrap(),
            "\"moved_out\""
        );
    }
}
