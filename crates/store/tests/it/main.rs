//! The store's integration tests: every store function on SQLite and on PostgreSQL.
//! One binary for the crate (linking is most of a cold `cargo test` on 2 cores).
#![allow(clippy::unwrap_used)]

mod support;

mod affairs;
mod alerts;
mod checkins;
mod checkpoints;
mod contacts;
mod counts;
mod dashboard;
mod declarations;
mod dwellings;
mod enterprises;
mod epidemic;
mod fixture_db;
mod levels;
mod observations;
mod policies;
mod registry;
mod reports;
mod requests;
mod retention;
mod roll;
mod sites;
mod store;
mod supplies;
mod trips;
mod volunteers;
