//! `truelumen frame`: one frame in, its result as JSON on stdout.

use crate::common::{CalibArgs, WireArgs, display_sampler, pipeline_config, write_overlay};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use truelumen::io;
use truelumen::output;
use truelumen::pipeline::Pipeline;

#[derive(Args)]
pub(crate) struct FrameArgs {
    /// The image file
    #[arg(value_name = "IMAGE")]
    pub(crate) image: PathBuf,
    /// Also write the overlay image to this PNG file
    #[arg(long, value_name = "OUT.png")]
    pub(crate) overlay: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) calib: CalibArgs,
    #[command(flatten)]
    pub(crate) wires: WireArgs,
}

pub(crate) fn frame(a: &FrameArgs) -> anyhow::Result<()> {
    let image = io::read_image(&a.image)?;
    let resolved = io::resolve_calibration(&(&a.calib).into(), std::slice::from_ref(&a.image), image.shape())?;
    let mut pipeline = Pipeline::new(a.wires.apply(pipeline_config(&resolved)?)?)?;
    let source = a.image.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let result = pipeline.process(&image, resolved.calib, 0, &source).with_context(|| format!("analysing {source}"))?;
    if let Some(path) = &a.overlay {
        write_overlay(path, &image, &result, display_sampler(resolved.calib)?.as_ref())?;
    }
    crate::common::print_stdout(&format!("{}\n", output::to_json_string(&result, true)?))?;
    Ok(())
}
