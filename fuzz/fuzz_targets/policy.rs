#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| linli_core::fuzzing::policy(data));
