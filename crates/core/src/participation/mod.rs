//! Residents take part (issue 20): volunteers and their activities, notices to staff and
//! residents, and the community's public affairs ledger (居务公开). Pure rules; the store refuses
//! with them and pages draw from them.

pub mod affairs;
pub mod notices;
pub mod volunteers;
