//! Pullback-report options of `analyze` (timing, gating, lesion, balloon rule, J-BTK items).

use clap::{Args, ValueEnum};
use truelumen::Error;
use truelumen::pullback::balloon::{BalloonRule, ReferenceChoice, Rounding, SizingBasis};
use truelumen::pullback::{FrameOrder, PullbackConfig};

#[derive(Args, Default)]
#[command(next_help_heading = "Pullback report")]
pub(crate) struct PullbackArgs {
    /// Image-based gating: keep one frame per heart beat for the summary
    #[arg(long)]
    pub(crate) gate: bool,
    /// Do not smooth the area/diameter series along the pullback (running median)
    #[arg(long)]
    pub(crate) no_smooth: bool,
    /// Which end of the vessel the first frame shows
    #[arg(long, value_enum, default_value = "distal")]
    pub(crate) first_frame: FirstFrame,
    /// Lesion frames: plaque burden at or above this (0-1)
    #[arg(long, value_name = "PB", default_value_t = 0.70)]
    pub(crate) lesion_plaque_burden: f64,
    /// Lesion frames: lumen area below this, mm²
    #[arg(long, value_name = "MM2", default_value_t = 1.0)]
    pub(crate) lesion_lumen_area_mm2: f64,
    /// Occluded frames: lumen contrast (speckle SDs) below this = no echolucent lumen
    #[arg(long, value_name = "SD", default_value_t = 5.0, allow_negative_numbers = true)]
    pub(crate) occlusion_lumen_contrast: f64,
    /// Reference search distance outside the lesion, mm
    #[arg(long, value_name = "MM", default_value_t = 10.0)]
    pub(crate) reference_search_mm: f64,
    /// Angle of the longitudinal cut, degrees counter-clockwise from +x
    #[arg(long, value_name = "DEG", default_value_t = 90.0, allow_negative_numbers = true)]
    pub(crate) lmode_angle_deg: f64,
    /// Balloon rule: diameter sized to
    #[arg(long, value_enum, default_value = "vessel")]
    pub(crate) balloon_basis: BasisArg,
    /// Balloon rule: reference site
    #[arg(long, value_enum, default_value = "distal")]
    pub(crate) balloon_reference: ReferenceArg,
    /// Balloon rule: balloon-to-diameter ratio
    #[arg(long, value_name = "RATIO", default_value_t = 1.0)]
    pub(crate) balloon_ratio: f64,
    /// Balloon rule: rounding to the catalogue
    #[arg(long, value_enum, default_value = "down")]
    pub(crate) balloon_rounding: RoundingArg,
    /// Balloon catalogue, mm, comma-separated
    #[arg(long, value_name = "MM,MM,...", value_delimiter = ',', default_value = "1.5,2.0,2.5,3.0,3.5,4.0")]
    pub(crate) balloon_catalogue: Vec<f64>,
    /// J-BTK: the proximal stump is blunt (from angiography)
    #[arg(long, conflicts_with = "tapered_stump")]
    pub(crate) blunt_stump: bool,
    /// J-BTK: the proximal stump is tapered (not blunt)
    #[arg(long)]
    pub(crate) tapered_stump: bool,
    /// J-BTK: the target vessel has no outflow (from angiography)
    #[arg(long, conflicts_with = "outflow")]
    pub(crate) no_outflow: bool,
    /// J-BTK: the target vessel has outflow
    #[arg(long)]
    pub(crate) outflow: bool,
}

/// CLI copy of [`FrameOrder`].
#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum FirstFrame {
    /// First frame distal (motorised pullback)
    #[default]
    Distal,
    /// First frame proximal
    Proximal,
}

/// CLI copy of [`SizingBasis`].
#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum BasisArg {
    /// Mean vessel (EEM) diameter
    #[default]
    Vessel,
    /// Mean lumen diameter
    Lumen,
    /// Mid-wall: (lumen + EEM) / 2
    MidWall,
}

/// CLI copy of [`ReferenceChoice`].
#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum ReferenceArg {
    /// Distal reference
    #[default]
    Distal,
    /// Proximal reference
    Proximal,
    /// Mean of both references
    Mean,
}

/// CLI copy of [`Rounding`].
#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum RoundingArg {
    /// Largest size not above the target
    #[default]
    Down,
    /// Nearest size
    Nearest,
}

/// `Some(true)` / `Some(false)` / `None` from a pair of exclusive flags.
pub(crate) fn tri(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

impl PullbackArgs {
    pub(crate) fn config(&self) -> Result<PullbackConfig, Error> {
        let balloon = BalloonRule {
            basis: match self.balloon_basis {
                BasisArg::Vessel => SizingBasis::Vessel,
                BasisArg::Lumen => SizingBasis::Lumen,
                BasisArg::MidWall => SizingBasis::MidWall,
            },
            reference: match self.balloon_reference {
                ReferenceArg::Distal => ReferenceChoice::Distal,
                ReferenceArg::Proximal => ReferenceChoice::Proximal,
                ReferenceArg::Mean => ReferenceChoice::Mean,
            },
            ratio: self.balloon_ratio,
            rounding: match self.balloon_rounding {
                RoundingArg::Down => Rounding::Down,
                RoundingArg::Nearest => Rounding::Nearest,
            },
            catalogue_mm: self.balloon_catalogue.clone(),
        };
        PullbackConfig {
            order: match self.first_frame {
                FirstFrame::Distal => FrameOrder::DistalFirst,
                FirstFrame::Proximal => FrameOrder::ProximalFirst,
            },
            gate: self.gate,
            smooth: !self.no_smooth,
            lesion_min_plaque_burden: self.lesion_plaque_burden,
            lesion_max_lumen_area_mm2: self.lesion_lumen_area_mm2,
            occlusion_max_lumen_contrast: self.occlusion_lumen_contrast,
            reference_search_mm: self.reference_search_mm,
            lmode_angle_deg: self.lmode_angle_deg,
            balloon,
            blunt_stump: tri(self.blunt_stump, self.tapered_stump),
            no_outflow: tri(self.no_outflow, self.outflow),
            ..PullbackConfig::default()
        }
        .validated()
    }
}
