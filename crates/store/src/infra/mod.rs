//! What every area of the store shares: the database handle and its parameters, the keys
//! that encrypt personal data, and the audit log. Imports no area.

pub mod audit;
pub(crate) mod db;
pub(crate) mod errors;
pub(crate) mod marks;
pub mod secret;
