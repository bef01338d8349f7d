//! The per-frame result and the `results.json` document (schema version 2).
//!
//! Version 2 added `catheter_position` to each frame (the lumen's `encloses_catheter` may now
//! be `false`: a true lumen beside a subintimal catheter).
//!
//! Field names carry their units. Coordinates and angles follow [`crate::geometry`].
//! Fields may be added in later versions; existing ones are never renamed.

use crate::contour::Contour;
use serde::{Deserialize, Serialize};

/// Version of the `results.json` schema written by this build.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole `results.json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Schema version, [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Producer, e.g. `truelumen 0.1.0`.
    pub generator: String,
    /// One entry per analysed frame, in input order.
    pub frames: Vec<FrameResult>,
    /// The pullback the frames came from: format, calibration source, timing (absent in
    /// documents written before it existed, or when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputInfo>,
}

/// Where a run's frames came from (`results.json` → `input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// The pullback file or folder.
    pub path: String,
    /// Format, e.g. `dicom/rle`, `tiff`, `images`, `raw-rf`, `screen-capture/images`.
    pub format: String,
    /// Frames in the pullback.
    pub n_frames: usize,
    /// Where the calibration came from.
    pub calibration_source: crate::io::ValueSource,
    /// Pullback speed and frame times, with their sources.
    pub timing: crate::io::PullbackTiming,
    /// Screen captures: the imaging field found (`[col, row]` centre and radius in the capture,
    /// pixels); results are in the frame cropped around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldInfo>,
}

/// The imaging field of a screen capture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// Centre `[col, row]` in the capture, pixels.
    pub center_px: [f64; 2],
    /// Radius, pixels.
    pub radius_px: f64,
    /// Top-left corner `[col, row]` of the analysed crop in the capture, pixels.
    pub crop_origin_px: [f64; 2],
}

/// Everything measured on one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameResult {
    /// Position of the frame in the input sequence (0-based).
    pub index: usize,
    /// File name (or `file#frame`) the frame came from.
    pub source: String,
    /// Cartesian pixel size used, mm.
    pub mm_per_px: f64,
    /// Catheter centre in the Cartesian frame, `[col, row]` pixels.
    pub center_px: [f64; 2],
    /// Radius of the catheter (sheath) found or assumed, mm.
    pub catheter_radius_mm: f64,
    /// The true lumen, or `null` when none could be found.
    pub lumen: Option<RegionResult>,
    /// The vessel (EEM, media–adventitia border), or `null` when none could be found.
    pub vessel: Option<RegionResult>,
    /// `(vessel area − lumen area) / vessel area`, or `null` when either is missing.
    pub plaque_burden: Option<f64>,
    /// The second guidewire, or `null` when the frame shows none.
    pub guidewire: Option<GuidewireResult>,
    /// Quality flags and figures.
    pub quality: Quality,
    /// Where the catheter lies relative to the true lumen (`unknown` without a lumen).
    #[serde(default)]
    pub catheter_position: CatheterPosition,
    /// The IVUS catheter's own wire (echo next to the sheath at a nearly fixed angle), or
    /// `null` when not seen. Never reported as `guidewire`.
    #[serde(default)]
    pub ivus_wire: Option<IvusWireResult>,
    /// Calcified arcs (bright echo with an acoustic shadow wider than a wire's).
    #[serde(default)]
    pub calcium: CalciumResult,
    /// Steering guidance for the second wire, or `null` when there is no second wire.
    #[serde(default)]
    pub guidance: Option<Guidance>,
    /// Every wire-like echo of the frame (own wire and second wire candidates), kept for the
    /// sequence pass [`crate::guidewire::WireSequence`]; not written to `results.json`.
    #[serde(skip)]
    pub wire_candidates: Vec<crate::guidewire::WireCandidate>,
}

/// The IVUS catheter's own wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvusWireResult {
    /// Centre of the wire echo found, mm. When the wire's surface echo is lost in the ring-down
    /// and its first reverberation was found instead ([`crate::guidewire::IvusWireParams`]),
    /// this lies up to one wire diameter too far from the catheter; the angle is unaffected.
    pub center_mm: [f64; 2],
    /// Display angle of the wire seen from the catheter centre, degrees in `[0, 360)`.
    pub angle_deg: f64,
    /// Detection strength of its echo and shadow, 0–1.
    pub confidence: f64,
}

/// One calcified arc as seen from the catheter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalciumArc {
    /// Display angle where the arc starts, degrees in `[0, 360)`.
    pub start_deg: f64,
    /// Display angle where it ends, counter-clockwise from `start_deg`, in `[0, 360)` (may be
    /// smaller than `start_deg` when the arc crosses 0°).
    pub end_deg: f64,
    /// Angular extent, degrees (`end_deg − start_deg` counter-clockwise).
    pub arc_deg: f64,
    /// Depth of the calcium's leading echo from the catheter centre, mm.
    pub depth_mm: f64,
}

/// Calcium of one frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CalciumResult {
    /// Arcs, by start angle.
    pub arcs: Vec<CalciumArc>,
    /// Largest arc, degrees (0 without calcium).
    pub max_arc_deg: f64,
    /// Sum of all arcs, degrees.
    pub total_arc_deg: f64,
}

/// Steering guidance for the second wire (see `crate::guidance` for the wording rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// Plain-language hint, e.g. `rotate wire tip ~40° counter-clockwise (display), 0.8 mm
    /// outside true lumen` or `wire inside true lumen`.
    pub hint: String,
    /// Rotation that brings the wire direction onto the true-lumen centroid direction, as
    /// displayed, degrees in `(-180, 180]`, positive = counter-clockwise (`−relative_angle_deg`);
    /// `null` when the wire is inside, within the dead band, or no lumen was found.
    pub rotate_deg: Option<f64>,
    /// Distance from the wire centre to the nearest true-lumen border, mm (unsigned; `null`
    /// without lumen).
    pub distance_to_border_mm: Option<f64>,
}

/// A segmented region (lumen or vessel) with its measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionResult {
    /// Closed border in mm (catheter-centred, +x right, +y up), counter-clockwise.
    pub contour_mm: Contour,
    /// Enclosed area, mm².
    pub area_mm2: f64,
    /// Area centroid, mm.
    pub centroid_mm: [f64; 2],
    /// Display angle of the centroid seen from the catheter centre, degrees in `[0, 360)`.
    pub centroid_angle_deg: f64,
    /// Shortest chord through the centroid, mm.
    pub min_diameter_mm: f64,
    /// Longest chord through the centroid, mm.
    pub max_diameter_mm: f64,
    /// Mean chord through the centroid, mm.
    pub mean_diameter_mm: f64,
    /// Diameter of the circle of equal area, mm.
    pub area_equivalent_diameter_mm: f64,
    /// `(max − min) / max` diameter (ACC consensus definition), 0 = circular.
    pub eccentricity: f64,
    /// Whether the region contains the catheter centre. For the lumen, `false` means a true
    /// lumen beside the catheter (subintimal catheter position).
    pub encloses_catheter: bool,
}

/// The second guidewire and its relation to the true lumen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidewireResult {
    /// Centre of the wire echo, mm.
    pub center_mm: [f64; 2],
    /// Display angle of the wire seen from the catheter centre, degrees in `[0, 360)`.
    pub angle_deg: f64,
    /// Signed angle from the true-lumen centroid direction to the wire direction, degrees in
    /// `(-180, 180]`, positive = wire lies counter-clockwise (as displayed) of the lumen centroid.
    /// `null` when no lumen was found.
    pub relative_angle_deg: Option<f64>,
    /// Whether the wire centre lies inside the true lumen (`null` without lumen).
    pub in_true_lumen: Option<bool>,
    /// Signed distance from the wire centre to the lumen border, mm, negative inside
    /// (`null` without lumen).
    pub distance_to_lumen_mm: Option<f64>,
    /// Angular width of the acoustic shadow behind the wire, degrees.
    pub shadow_width_deg: f64,
    /// Detection strength: shadow depth times echo contrast, 0–1 (higher = surer).
    pub confidence: f64,
}

/// Where the IVUS catheter lies relative to the true lumen.
///
/// * `intraluminal`: inside a patent (blood-filled) true lumen;
/// * `intraplaque`: inside an occluded (plaque-filled) true lumen, the lumen encloses the catheter;
/// * `subintimal`: between intima and media, the true lumen lies beside the catheter;
/// * `unknown`: no lumen was found or the evidence does not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatheterPosition {
    /// Inside a patent (blood-filled) true lumen.
    Intraluminal,
    /// Inside an occluded (plaque-filled) true lumen.
    Intraplaque,
    /// In the vessel wall between intima and media; the true lumen lies beside the catheter.
    Subintimal,
    /// Not determined.
    #[default]
    Unknown,
}

/// Quality flags attached to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QualityFlag {
    /// No plausible lumen border was found; `lumen` is `null`.
    NoLumenFound,
    /// No plausible vessel border was found; `vessel` is `null`.
    NoVesselFound,
    /// The catheter could not be located; the image centre was assumed.
    CatheterNotFound,
    /// Borders were interpolated across A-lines lost in guidewire shadow.
    WireShadowBridged,
    /// Borders were interpolated across A-lines lost in other acoustic shadow (calcium).
    ShadowBridged,
    /// Lumen or vessel region contrast below 1.5 speckle standard deviations: borders are less
    /// certain (see `lumen_contrast`, `vessel_contrast`).
    LowContrast,
    /// Vessel border reached the imaging depth limit.
    VesselBeyondDepth,
    /// A lumen or vessel border was interpolated across A-lines lost in calcium shadow (see
    /// `calcium`).
    CalciumShadowBridged,
    /// `catheter_position` is `intraluminal` or `intraplaque` by a lumen contrast within
    /// [`crate::segment::beside::PATENT_UNCERTAIN_DB`] of the patent/occluded threshold, or
    /// `intraplaque` because no lumen interior showed between the catheter and the border
    /// ([`crate::segment::beside::TrueLumenEvidence::interior_hidden`]): the lumen may as well
    /// hold blood as plaque (the other of the two positions).
    PositionUncertain,
    /// A true lumen was found both round the catheter and beside it, and the two explained the
    /// vessel interior nearly equally well ([`crate::segment::beside::SIDE_UNCERTAIN_Z`]): the
    /// reported lumen may be the wrong one, and with it `catheter_position` (`subintimal`
    /// against `intraluminal` / `intraplaque`) and the second wire's guidance.
    LumenSideUncertain,
    /// The second wire's centre lies within [`crate::guidance::WIRE_AT_BORDER_MM`] of the
    /// true-lumen border: `in_true_lumen` may be either (the border next to a wire is no
    /// sharper than the beam's lateral resolution; [`crate::guidance`], *A wire at the border*).
    WireAtLumenBorder,
    /// The frame's lumen was taken beside the catheter because the frames around it have it
    /// there: the frame was flagged `lumen_side_uncertain`, its own call was a lumen round the
    /// catheter (in a short run of such frames, all uncertain), the frames on either side of
    /// that run had the lumen beside it, and this frame's lumen beside it overlaps theirs
    /// ([`crate::pullback::sides`]; only in runs over a sequence, e.g. `truelumen analyze`).
    LumenSideFromNeighbours,
}

/// Quality flags and the figures behind them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Quality {
    /// Sorted, de-duplicated flags.
    pub flags: Vec<QualityFlag>,
    /// Total angle of A-lines in guidewire shadow bridged by interpolation, degrees.
    pub wire_shadow_bridged_deg: f64,
    /// Total angle of A-lines in other shadow bridged by interpolation, degrees.
    pub shadow_bridged_deg: f64,
    /// Lumen contrast: mean of a 0.3 mm band outside the lumen border minus the mean of the
    /// lumen interior, in speckle standard deviations.
    pub lumen_contrast: f64,
    /// Vessel contrast: adventitia minus media mean at the EEM, in speckle standard deviations.
    pub vessel_contrast: f64,
}

impl Quality {
    /// Adds a flag once.
    pub fn flag(&mut self, f: QualityFlag) {
        if let Err(pos) = self.flags.binary_search(&f) {
            self.flags.insert(pos, f);
        }
    }
    /// Removes a flag if set.
    pub fn unflag(&mut self, f: QualityFlag) {
        if let Ok(pos) = self.flags.binary_search(&f) {
            self.flags.remove(pos);
        }
    }
    /// Whether `f` is set.
    pub fn has(&self, f: QualityFlag) -> bool {
        self.flags.binary_search(&f).is_ok()
    }
}
