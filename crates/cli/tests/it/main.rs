//! The `linli` binary, driven as an operator would.
//! One binary for the crate (linking is most of a cold `cargo test` on 2 cores).
#![allow(clippy::unwrap_used)]

mod as_of;
mod cli;
mod demo;
