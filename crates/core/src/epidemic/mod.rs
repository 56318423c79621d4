//! Epidemic prevention: quarantine policy and its evaluation, close contacts and the chain of
//! transmission, checkpoints and passes, trips, centralised quarantine sites.

pub mod checkpoint;
pub mod contact;
pub mod observation;
pub mod policy;
pub mod sites;
pub mod timeline;
pub mod trips;
