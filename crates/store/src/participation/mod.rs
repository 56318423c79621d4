//! Residents take part (issue 20): volunteers and their activities, notices with read receipts,
//! and the community's public affairs ledger (居务公开) with its public page.

pub mod affairs;
pub mod notices;
pub mod volunteers;
