//! `truelumen` command-line tool: a thin layer over the library (argument parsing, calling
//! the library, exit codes). See the README for the reference.
//!
//! Exit codes: 0 success, 1 other failure, 2 usage error (clap), 3 input problem (missing,
//! unreadable, not an image/DICOM, corrupt or truncated file, missing pixel data, empty folder,
//! bad calibration.json or sidecar JSON), 4 invalid or missing parameter or calibration (NaN,
//! zero, negative; none given), 5 output not writable, 6 unsupported format (transfer syntax,
//! photometric interpretation, bit depth), 7 inconsistent input (frames of different sizes, a
//! raw file whose size does not match its sidecar, pixel data shorter than the header says).

mod analyze;
mod bench;
mod common;
mod evaluate;
mod frame;
mod pullback_args;
mod score;
mod simulate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use truelumen::Error;

#[derive(Parser)]
#[command(name = "truelumen", version, about = "IVUS frame analysis for IVUS-guided wiring of BTK CTOs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse frames (files and/or folders) and write results.json, measurements.csv and overlays
    Analyze(Box<analyze::AnalyzeArgs>),
    /// Analyse one frame and print its result (one entry of results.json `frames`) as JSON
    Frame(frame::FrameArgs),
    /// Write phantom frames with ground truth and calibration.json (a folder `analyze` can read)
    Simulate(simulate::SimulateArgs),
    /// Score a results.json against phantom truth files (TRUTH_DIR/<frame stem>.json)
    Evaluate(evaluate::EvaluateArgs),
    /// J-BTK CTO score from its five items (points, grade A-D, published guidewire success)
    Score(score::ScoreArgs),
    /// Time the whole pipeline on generated phantom frames: frames/s, peak memory, per-stage split
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits with 2 on usage errors
    let result = match &cli.command {
        Command::Analyze(a) => analyze::analyze(a),
        Command::Frame(a) => frame::frame(a),
        Command::Simulate(a) => simulate::simulate(a),
        Command::Evaluate(a) => evaluate::evaluate(a),
        Command::Score(a) => score::score(a),
        Command::Bench(a) => bench::bench(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The error and its causes joined by `: `, skipping causes already quoted by their parent
/// (library errors include their source in their message).
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.is_empty() {
            msg = text;
        } else if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
    }
    msg
}

/// Maps the first library error in the chain to an exit code.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::InvalidParam { .. } | Error::Calibration { .. } => 4,
                Error::Unsupported { .. } => 6,
                Error::Inconsistent { .. } => 7,
                Error::Write { .. } => 5,
                Error::Io { .. }
                | Error::Decode { .. }
                | Error::Input { .. }
                | Error::Format { .. }
                | Error::FrameShape { .. }
                | Error::FrameTooSmall { .. } => 3,
                _ => 1,
            };
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::parse_center;

    #[test]
    fn center_parsing() {
        assert_eq!(parse_center("10,20.5"), Ok([10.0, 20.5]));
        assert_eq!(parse_center(" -1 , 2 "), Ok([-1.0, 2.0]));
        assert!(parse_center("10").is_err() && parse_center("a,b").is_err());
    }

    #[test]
    fn exit_codes_follow_the_error_class() {
        let io = || std::io::Error::other("boom");
        let cases: [(Error, u8); 4] = [
            (Error::param("mm_per_px", "bad"), 4),
            (Error::Write { path: "o".into(), source: io() }, 5),
            (Error::Io { path: "i".into(), source: io() }, 3),
            (Error::Input { path: "i".into(), reason: "r".into() }, 3),
        ];
        for (e, code) in cases {
            let e = anyhow::Error::from(e).context("while doing something");
            assert_eq!(exit_code(&e), code, "{e:#}");
        }
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
    }

    #[test]
    fn messages_do_not_repeat_sources() {
        let e = anyhow::Error::from(Error::Io { path: "x.png".into(), source: std::io::Error::other("gone") });
        assert_eq!(error_message(&e), "x.png: gone");
    }
}
