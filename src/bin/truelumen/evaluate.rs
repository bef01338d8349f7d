//! `truelumen evaluate`: score a results.json against phantom truth.

use clap::Args;
use std::path::PathBuf;
use truelumen::{eval, output};

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// results.json written by `analyze` (of the Cartesian frames)
    #[arg(value_name = "RESULTS_JSON")]
    pub(crate) results: PathBuf,
    /// Folder of truth files, e.g. fixtures/phantom/truth
    #[arg(value_name = "TRUTH_DIR")]
    pub(crate) truth_dir: PathBuf,
    /// Print the summary and per-frame scores as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// `evaluate --json` output.
#[derive(serde::Serialize)]
pub(crate) struct EvaluationDoc<'a> {
    pub(crate) summary: eval::Summary,
    pub(crate) frames: &'a [eval::FrameEvaluation],
}

pub(crate) fn evaluate(a: &EvaluateArgs) -> anyhow::Result<()> {
    let results = eval::load_results(&a.results)?;
    let frames = eval::evaluate_truth_dir(&results, &a.truth_dir)?;
    let scores: Vec<_> = frames.iter().map(|f| f.score).collect();
    let summary = eval::summarize(&scores);
    if a.json {
        let doc = EvaluationDoc { summary, frames: &frames };
        crate::common::print_stdout(&format!("{}\n", output::to_json_string(&doc, true)?))?;
    } else {
        crate::common::print_stdout(&format!("{summary}\n\n{}", eval::frame_table(&frames)))?;
    }
    Ok(())
}
