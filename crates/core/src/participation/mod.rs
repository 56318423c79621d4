//! Residents taking part (issue 20): volunteers and their activities.

pub mod volunteers;
