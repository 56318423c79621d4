//! The fuzz corpus replayed on stable Rust: every file under `fuzz/corpus/<target>/` goes
//! through its target's entry point (`linli_core::fuzzing`), as `cargo fuzz` would run it. A
//! panic on any of them fails the test, naming the file; what a fuzzer found stays found.

use std::path::PathBuf;

use linli_core::fuzzing::TARGETS;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_corpus_file_runs_through_its_target_without_a_panic() {
    let mut ran = 0;
    for (name, run) in TARGETS {
        let dir = corpus().join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: no corpus in {}", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{name}: {} panicked", file.display());
            }
            ran += 1;
        }
    }
    assert!(ran >= TARGETS.len());
}
