//! Options and helpers shared by several subcommands.

use clap::{Args, ValueEnum};
use std::path::Path;
use truelumen::io::{CalibrationOptions, ResolvedCalibration};
use truelumen::output;
use truelumen::pipeline::{self, Calibration, PipelineConfig};
use truelumen::report::FrameResult;
use truelumen::scan::CartesianSampler;
use truelumen::{CartImage, Error, Rotation};

/// Calibration options; when absent, `calibration.json` next to the frames is used.
#[derive(Args)]
pub(crate) struct CalibArgs {
    /// Pixel size of Cartesian frames, mm
    #[arg(long, value_name = "MM", allow_negative_numbers = true, conflicts_with = "polar")]
    pub(crate) mm_per_px: Option<f64>,
    /// Frames are polar: rows = A-lines, columns = depth samples
    #[arg(long)]
    pub(crate) polar: bool,
    /// Polar: imaging depth covered by one A-line, mm
    #[arg(long, value_name = "MM", allow_negative_numbers = true, requires = "polar")]
    pub(crate) depth_mm: Option<f64>,
    /// Polar: display angle of line 0, degrees counter-clockwise from +x [default: 0]
    #[arg(long, value_name = "DEG", allow_negative_numbers = true, requires = "polar")]
    pub(crate) line0_deg: Option<f64>,
    /// Polar: direction in which A-lines advance as displayed [default: ccw]
    #[arg(long, value_enum, requires = "polar")]
    pub(crate) rotation: Option<RotationArg>,
    /// Fixed catheter centre in pixels (default: detected per frame)
    #[arg(long, value_name = "COL,ROW", value_parser = parse_center, allow_hyphen_values = true, conflicts_with = "polar")]
    pub(crate) center_px: Option<[f64; 2]>,
}

/// Options about the wires in the frames.
#[derive(Args)]
pub(crate) struct WireArgs {
    /// Display angle of the IVUS catheter's own wire, degrees counter-clockwise from +x
    /// (default: learned from the frames)
    #[arg(long, value_name = "DEG", allow_negative_numbers = true)]
    pub(crate) ivus_wire_deg: Option<f64>,
    /// Do not search for a true lumen beside the catheter (subintimal catheter position); the
    /// lumen is then always the one around the catheter
    #[arg(long)]
    pub(crate) no_lumen_beside: bool,
}

impl WireArgs {
    /// `config` with these options applied and validated.
    pub(crate) fn apply(&self, config: PipelineConfig) -> Result<PipelineConfig, Error> {
        let config = config.with_ivus_wire_deg(self.ivus_wire_deg).with_lumen_beside_catheter(!self.no_lumen_beside);
        config.validate()?;
        Ok(config)
    }
}

/// CLI copy of [`Rotation`].
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RotationArg {
    /// Counter-clockwise
    Ccw,
    /// Clockwise
    Cw,
}

impl From<&CalibArgs> for CalibrationOptions {
    fn from(a: &CalibArgs) -> Self {
        CalibrationOptions {
            mm_per_px: a.mm_per_px,
            polar: a.polar,
            depth_mm: a.depth_mm,
            line0_deg: a.line0_deg,
            rotation: a.rotation.map(|r| match r {
                RotationArg::Ccw => Rotation::Ccw,
                RotationArg::Cw => Rotation::Cw,
            }),
            center_px: a.center_px,
        }
    }
}

pub(crate) fn parse_center(s: &str) -> Result<[f64; 2], String> {
    let (c, r) = s.split_once(',').ok_or("expected COL,ROW, e.g. 255.5,255.5")?;
    let num = |t: &str| t.trim().parse::<f64>().map_err(|e| format!("`{t}`: {e}"));
    Ok([num(c)?, num(r)?])
}

pub(crate) fn pipeline_config(resolved: &ResolvedCalibration) -> Result<PipelineConfig, Error> {
    let config = PipelineConfig::default().with_center_px(resolved.center_px);
    config.validate()?;
    Ok(config)
}

/// For polar input: renders frames into the display frame the results refer to.
pub(crate) fn display_sampler(calib: Calibration) -> Result<Option<CartesianSampler>, Error> {
    match calib {
        Calibration::Cartesian { .. } => Ok(None),
        Calibration::Polar(g) => {
            let (side, d) = pipeline::polar_display_geometry(&g);
            CartesianSampler::new(g, side, side, d.center_col, d.center_row, d.mm_per_px).map(Some)
        }
    }
}

/// Renders and writes one overlay.
pub(crate) fn write_overlay(
    path: &Path,
    image: &CartImage,
    result: &FrameResult,
    sampler: Option<&CartesianSampler>,
) -> Result<(), Error> {
    let rendered;
    let cart = match sampler {
        Some(s) => {
            let mut dst = CartImage::default();
            s.convert_into(image, 0.0, &mut dst)?;
            rendered = dst;
            &rendered
        }
        None => image,
    };
    output::write_png(path, &truelumen::overlay::render_overlay(cart, result))
}

/// `truelumen <version>`, the `generator` of every document written.
pub(crate) fn generator() -> String {
    format!("truelumen {}", env!("CARGO_PKG_VERSION"))
}

/// Writes `text` to standard output; a failed write (closed pipe, full disk) is an output
/// error (exit code 5) instead of the panic of `print!`.
pub(crate) fn print_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write { path: "<stdout>".into(), source })
}
