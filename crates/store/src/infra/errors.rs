//! Turning what the database or a stored value says into the store's error.

use crate::StoreError;

/// A stored value that no longer parses, or another fault that is ours, not the caller's: a 500
/// that is logged and never shown.
pub(crate) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// A unique-constraint violation as a conflict on `field` with `message`; any other database
/// error passes through.
pub(crate) fn unique_to(e: sqlx::Error, field: &str, message: &str) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict {
                field: field.into(),
                message: message.into(),
            };
        }
    }
    e.into()
}
