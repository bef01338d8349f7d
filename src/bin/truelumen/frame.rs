//! `truelumen frame`: one frame in, its result as JSON on stdout.
//!
//! The input is anything `analyze` reads: an image file, a folder of frames, a DICOM file, a
//! multi-page TIFF or a raw polar/RF file; `--index` picks the frame (0-based, in the order
//! `analyze` uses). Calibration comes from the command line, then the file, then
//! `calibration.json`, exactly as for `analyze`.

use crate::common::{CalibArgs, WireArgs, display_sampler, pipeline_config, write_overlay};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use truelumen::Error;
use truelumen::io::{self, FrameBuf};
use truelumen::output;
use truelumen::pipeline::Pipeline;

#[derive(Args)]
pub(crate) struct FrameArgs {
    /// The input: an image, a folder of frames, a DICOM file, a multi-page TIFF or a raw file
    #[arg(value_name = "INPUT")]
    pub(crate) image: PathBuf,
    /// Which frame of a multi-frame input, 0-based [default: 0]
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) index: usize,
    /// Also write the overlay image to this PNG file
    #[arg(long, value_name = "OUT.png")]
    pub(crate) overlay: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) calib: CalibArgs,
    #[command(flatten)]
    pub(crate) wires: WireArgs,
}

pub(crate) fn frame(a: &FrameArgs) -> anyhow::Result<()> {
    let plan = io::plan_pullbacks(std::slice::from_ref(&a.image))?;
    let Some(input) = plan.into_iter().next() else {
        return Err(Error::Input { path: a.image.clone(), reason: "no frame found".into() }.into());
    };
    let mut source = io::open_source(&input)?;
    let n = source.len();
    if a.index >= n {
        return Err(Error::Input {
            path: a.image.clone(),
            reason: format!(
                "--index {} is past the end: the input has {n} frame(s), indices 0..={}",
                a.index,
                n.saturating_sub(1)
            ),
        }
        .into());
    }
    let mut buf = FrameBuf::default();
    source.read_frame(a.index, &mut buf)?;
    let image = buf.to_gray();
    let inputs = input.files();
    let file_calib = source.calibration();
    let resolved = io::resolve_calibration_with(&(&a.calib).into(), file_calib.as_ref(), &inputs, image.shape())?;
    let mut pipeline = Pipeline::new(a.wires.apply(pipeline_config(&resolved)?)?)?;
    let source_name = source.frame_label(a.index);
    let result = pipeline
        .process(&image, resolved.calib, a.index, &source_name)
        .with_context(|| format!("analysing {source_name}, frame {}", a.index))?;
    if let Some(path) = &a.overlay {
        write_overlay(path, &image, &result, display_sampler(resolved.calib)?.as_ref())?;
    }
    crate::common::print_stdout(&format!("{}\n", output::to_json_string(&result, true)?))?;
    Ok(())
}
