//! linli-core's integration tests: one binary (see the workspace's testing notes).

mod fuzz_replay;
