//! Fuzz target `image`: see `harness::image` (tests/regressions/harness.rs, shared with the
//! regression replay test `tests/regressions.rs`).
#![no_main]

#[path = "../../../tests/regressions/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::image(data));
