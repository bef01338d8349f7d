//! Writes the demo pullback `fixtures/demo` (or another folder): a phantom pullback with a
//! distal reference, a CTO with a second wire, a subintimal stretch and calcium at its proximal
//! entry, and a proximal reference (`truelumen::sim::pullback::PullbackSpec::default()`).
//!
//! ```sh
//! cargo run --release --example demo_pullback -- fixtures/demo
//! ```
//! The folder is overwritten file by file; `tests/pullback.rs` checks that the committed frames
//! regenerate byte-identically.

fn main() -> Result<(), truelumen::Error> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fixtures/demo".into());
    let spec = truelumen::sim::pullback::PullbackSpec::default();
    let truth = truelumen::sim::pullback::write_pullback(std::path::Path::new(&dir), &spec)?;
    eprintln!("{} frames written to {dir}", truth.frames.len());
    Ok(())
}
