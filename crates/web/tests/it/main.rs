//! The web tests: the real server on an ephemeral port, with a fresh database each, driven over HTTP.
//! One binary for the crate (linking is most of a cold `cargo test` on 2 cores).
#![allow(clippy::unwrap_used)]

mod support;

mod accounts_pages;
mod api;
mod checkpoint_pages;
mod contacts;
mod counts;
mod dashboard;
mod declare;
mod enterprises;
mod epidemic_pages;
mod hardening;
mod home;
mod import;
mod key_groups;
mod names;
mod observations;
mod open311;
mod participation;
mod pass_cards;
mod person_records;
mod places;
mod policies;
mod qr;
mod report_mappings;
mod reports;
mod request_categories;
mod requests;
mod rooms;
mod self_checkin;
mod sites;
mod supplies;
mod trips;
mod volunteers;
