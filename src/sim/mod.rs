//! Phantom 40 MHz rotational IVUS frames with exact ground truth.
//!
//! [`simulate`] turns a [`PhantomSpec`] (explicit scene + acquisition + signal chain, or
//! [`PhantomSpec::random`]) into a polar frame, its Cartesian rendering and a [`Truth`] record
//! (contours, areas, catheter centre, guidewire and calcium angles). Everything is
//! deterministic: the same spec gives bit-identical pixels for any number of threads.
//! [`write_dataset`] writes a folder of such frames (one image size and calibration for all)
//! that `truelumen analyze` reads as it is (`truelumen simulate`).
//!
//! # Scene
//! Catheter-centred millimetres, +x right, +y up, angles counter-clockwise as displayed
//! ([`crate::geometry`]). The vessel (EEM, media–adventitia border) and the lumen are
//! [`StarShape`]s, each about its *own* centre; tissue is classified by point-in-region tests
//! on those shapes, so nothing in the renderer assumes that the lumen contains the catheter.
//! From the inside out: catheter (no signal) → lumen (blood, or organised thrombus when
//! `occluded`) → plaque (log-normal texture from a smooth random field: soft and fibrous
//! regions; optional calcium arcs) → media (dark band inside the EEM) → adventitia (bright,
//! fading over `adventitia_thickness_mm + 0.3 mm` into perivascular tissue with random brighter
//! and darker structures). A second guidewire is a metal disc; the IVUS catheter's own wire
//! ([`IvusWireSpec`], off by default) is another one next to the sheath at a fixed display angle,
//! with the same echo, shadow and reverberation model. [`wires`] builds pullbacks with both
//! wires and calcium arcs for the two-wire tests.
//!
//! # Signal model
//! The 2-D convolution model of pulse-echo imaging (Jensen \[1\]; the model behind Field II \[2\]):
//! the RF A-line is the tissue's scattering function convolved with the pulse-echo point
//! spread function, here separable into an axial pulse and a lateral beam profile.
//! 1. *Scatterers* on a polar grid of at least [`acoustic::MIN_SCATTER_LINES`] directions x
//!    5 µm axial steps, amplitude `N(0, 1) · echogenicity` (many random scatterers per
//!    resolution cell give fully developed, Rayleigh-distributed speckle \[3\]). Coherent
//!    reflectors are added on the same grid: ring-down (alternating-sign reflectors every
//!    35 µm over `ringdown_depth_mm`, identical ±5 % on every line) and the wire's near
//!    surface (a 50 µm train of 5 decaying reflectors, amplitude × incidence factor).
//! 2. *Transmission losses* along each scatterer line behind calcium: transmission falls to
//!    `shadow_factor` over the first 120 µm of calcium (log-linear decay). The wire shadow acts on whole beams:
//!    every output A-line whose axis meets the wire disc is multiplied by the wire's
//!    `shadow_factor` behind the echo train (so the shadow covers exactly the A-lines the disc
//!    covers), then receives the reverberations (every wire diameter behind the surface,
//!    each × 0.3, not shadowed).
//! 3. *Lateral beam*: Gaussian of FWHM `beam_width_mm · (1 + beam_widening_per_mm · depth)`,
//!    converted to an angular width at each depth and applied across neighbouring scatterer
//!    lines (weights normalised to unit energy, so speckle level does not depend on depth).
//! 4. *Depth attenuation* `attenuation_db_per_mm` (round trip), then additive white electronic
//!    noise (`noise_db` below mean plaque backscatter).
//! 5. *Pulse and envelope*: one FFT per A-line; multiplied by a Gaussian spectrum at
//!    `2 f0 / c` cycles/mm with `fractional_bandwidth` at −6 dB and by the analytic-signal mask
//!    (Hilbert transform), inverse FFT, modulus. Plans are built once per [`Simulator`].
//! 6. *TGC* `tgc_db_per_mm`, box-average decimation to the output samples, log compression:
//!    `grey = 128 + 255 · (level_dB + gain_db − MID_GREY_LEVEL_DB) / DR`, clamped and rounded
//!    (level 0 dB = mean plaque backscatter power; the mean of log-Rayleigh speckle is 2.5 dB
//!    below it, so with 0 dB gain and 50 dB range plaque sits near grey 115).
//! 7. *Cartesian* image through [`crate::scan::CartesianSampler`] (bilinear, wraps at the seam),
//!    catheter offset from the image centre, black beyond the imaging depth, rounded.
//!
//! Simplifications: 2-D (no elevation, no out-of-plane scatterers); no frequency-dependent
//! attenuation (the pulse spectrum does not shift with depth) and a uniform attenuation in all
//! tissues; scatterer amplitudes are Gaussian rather than Poisson-placed point scatterers;
//! the beam is a depth-dependent Gaussian without near-field structure or side lobes; specular
//! reflection only at the wire and ring-down; no NURD, motion or off-axis catheter artefacts;
//! electronic noise is white at the 5 µm grid before the pulse filter (so band-limited like the
//! echo). Texture fields are tabulated on a 40 µm grid.
//!
//! # Performance
//! The default spec (512 lines x 512 samples over 5 mm, 512x512 Cartesian) takes 85–90 ms in
//! release on 2 cores under a load average of ~3 (2026-11-27, shared dev machine); random specs
//! take 70–170 ms. The cost is mostly the 1024 scatterer lines (tissue classification + one
//! normal deviate per 5 µm sample) and the one FFT pair of length 2048 per output A-line.
//! The texture field is tabulated (40 µm grid, built in parallel) rather than evaluated per
//! scatterer. Rejected: scatterers only on the output lines (under-samples the lateral beam
//! of 256-line frames).
//!
//! # References
//! \[1\] J. A. Jensen, "A model for the propagation and scattering of ultrasound in tissue",
//!     J. Acoust. Soc. Am. 89(1):182–190, 1991. doi:10.1121/1.400497
//! \[2\] J. A. Jensen, N. B. Svendsen, "Calculation of pressure fields from arbitrarily shaped,
//!     apodized, and excited ultrasound transducers", IEEE TUFFC 39(2):262–267, 1992.
//! \[3\] C. B. Burckhardt, "Speckle in ultrasound B-mode scans", IEEE Trans. Sonics Ultrason.
//!     25(1):1–6, 1978; R. F. Wagner et al., "Statistics of speckle in ultrasound B-scans",
//!     IEEE Trans. Sonics Ultrason. 30(3):156–163, 1983.

pub mod acoustic;
pub mod cto;
pub mod dataset;
pub mod pullback;
mod rng;
mod scene;
pub mod shape;
pub mod spec;
pub mod wires;

pub use acoustic::Simulator;
pub use cto::CtoScenario;
pub use dataset::{DatasetInfo, DatasetSpec, FixedPolar, write_dataset};
pub use shape::{Harmonic, StarShape};
pub use spec::{CATHETER_CLEARANCE_MM, CalciumSpec, CtoSpec, IvusWireSpec, PhantomSpec, WIRE_DIAMETER_MM, WireSpec};
pub use wires::{wire_scenario, wire_scenario_cto, wire_sequence, wire_sequence_cto, with_wires};

use crate::contour::Contour;
use crate::error::Error;
use crate::geometry::{CartGeometry, PolarGeometry, angle_deg_of_point, relative_angle_deg, wrap_deg};
use crate::plane::{CartImage, PolarImage};
use crate::report::CatheterPosition;
use crate::scan::CartesianSampler;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Vertices of the truth contours.
pub const TRUTH_CONTOUR_VERTICES: usize = 720;
/// Version of the [`Truth`] JSON layout.
pub const TRUTH_SCHEMA_VERSION: u32 = 1;

/// Ground truth of the second guidewire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidewireTruth {
    /// Wire centre, catheter-centred mm.
    pub center_mm: [f64; 2],
    /// Wire radius, mm.
    pub radius_mm: f64,
    /// Display angle of the wire centre seen from the catheter, degrees in `[0, 360)`.
    pub angle_deg: f64,
    /// Whether the wire centre lies inside the (true) lumen.
    pub in_true_lumen: bool,
    /// Signed angle from the lumen-centroid direction to the wire direction, both seen from
    /// the catheter, in `(-180, 180]` (positive = counter-clockwise). Ill-conditioned when the
    /// lumen centroid lies within ~0.1 mm of the catheter centre (see
    /// [`Truth::lumen_centroid_distance_mm`]).
    pub relative_angle_deg: f64,
    /// Signed distance of the wire centre to the lumen border (negative inside), mm.
    pub distance_to_lumen_mm: f64,
}

/// Ground truth of the IVUS catheter's own wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IvusWireTruth {
    /// Wire centre, catheter-centred mm.
    pub center_mm: [f64; 2],
    /// Wire radius, mm.
    pub radius_mm: f64,
    /// Display angle of the wire centre seen from the catheter, degrees in `[0, 360)`.
    pub angle_deg: f64,
}

/// Ground truth of one calcium arc, as seen from the catheter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalciumTruth {
    /// Display angle where the arc starts, degrees in `[0, 360)`.
    pub start_deg: f64,
    /// Display angle where it ends, counter-clockwise from `start_deg`, in `[0, 360)`.
    pub end_deg: f64,
    /// Angular extent seen from the catheter, degrees.
    pub arc_deg: f64,
    /// Distance from the catheter centre to the nearest calcium point, mm.
    pub depth_mm: f64,
}

/// Exact ground truth of a phantom frame (written as `truth/{name}.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Layout version ([`TRUTH_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Lumen border, mm, counter-clockwise, [`TRUTH_CONTOUR_VERTICES`] vertices.
    pub lumen: Contour,
    /// Vessel (EEM) border, mm, counter-clockwise.
    pub vessel: Contour,
    /// Lumen area, mm².
    pub lumen_area_mm2: f64,
    /// Vessel (EEM) area, mm².
    pub vessel_area_mm2: f64,
    /// Plaque burden `(EEM − lumen) / EEM`.
    pub plaque_burden: f64,
    /// Lumen area centroid, mm.
    pub lumen_centroid_mm: [f64; 2],
    /// Vessel area centroid, mm.
    pub vessel_centroid_mm: [f64; 2],
    /// Display angle of the lumen centroid seen from the catheter, degrees in `[0, 360)`.
    pub lumen_centroid_angle_deg: f64,
    /// Distance from the catheter centre to the lumen centroid, mm.
    pub lumen_centroid_distance_mm: f64,
    /// Mean lumen diameter through the centroid, mm.
    pub lumen_mean_diameter_mm: f64,
    /// Minimum lumen diameter through the centroid, mm.
    pub lumen_min_diameter_mm: f64,
    /// Mean vessel diameter through the centroid, mm.
    pub vessel_mean_diameter_mm: f64,
    /// Maximum vessel diameter through the centroid, mm.
    pub vessel_max_diameter_mm: f64,
    /// Media thickness, mm.
    pub media_thickness_mm: f64,
    /// Catheter centre in the Cartesian image, pixels `[col, row]`.
    pub catheter_center_px: [f64; 2],
    /// Catheter radius, mm.
    pub catheter_radius_mm: f64,
    /// Whether the catheter lies inside the lumen (with its whole disc).
    pub catheter_in_lumen: bool,
    /// Cartesian pixel size, mm.
    pub mm_per_px: f64,
    /// Cartesian image size `[cols, rows]`.
    pub image_size_px: [usize; 2],
    /// Geometry of the polar frame.
    pub polar_geometry: PolarGeometry,
    /// Lumen filled with thrombus / soft plaque.
    pub occluded: bool,
    /// Second guidewire, if any.
    pub guidewire: Option<GuidewireTruth>,
    /// Calcium arcs (only those that intersect the plaque).
    pub calcium: Vec<CalciumTruth>,
    /// The full spec used (gain, dynamic range, noise, seed...).
    pub spec: PhantomSpec,
    /// The IVUS catheter's own wire, if the phantom has one (omitted from JSON when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivus_wire: Option<IvusWireTruth>,
    /// Catheter position class; written for CTO scenes (`spec.cto` set) only, so that the
    /// truth of older phantoms stays as it was. [`Truth::catheter_position_class`] gives it
    /// for any frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catheter_position: Option<CatheterPosition>,
    /// Whether the true lumen contains the catheter centre; written for CTO scenes only
    /// ([`Truth::lumen_contains_catheter`] for any frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lumen_encloses_catheter: Option<bool>,
}

impl Truth {
    /// Whether the true lumen contains the catheter centre.
    pub fn lumen_contains_catheter(&self) -> bool {
        self.lumen.contains([0.0, 0.0])
    }

    /// Catheter position: in the lumen → `Intraluminal` (patent) or `Intraplaque` (occluded);
    /// otherwise `Subintimal` (the catheter lies in the wall inside the EEM).
    pub fn catheter_position_class(&self) -> CatheterPosition {
        match (self.lumen_contains_catheter(), self.occluded) {
            (true, false) => CatheterPosition::Intraluminal,
            (true, true) => CatheterPosition::Intraplaque,
            (false, _) => CatheterPosition::Subintimal,
        }
    }
}

/// A simulated frame: polar and Cartesian images (grey levels 0–255, integer-valued) and truth.
#[derive(Debug, Clone)]
pub struct Phantom {
    /// Polar frame, rows = A-lines.
    pub polar: PolarImage,
    /// Geometry of `polar`.
    pub polar_geom: PolarGeometry,
    /// Cartesian rendering.
    pub cart: CartImage,
    /// Calibration of `cart`.
    pub cart_geom: CartGeometry,
    /// Pixel size of `cart`, mm.
    pub mm_per_px: f64,
    /// Ground truth.
    pub truth: Truth,
}

/// Simulates one frame with a fresh [`Simulator`].
///
/// # Errors
/// [`Error::InvalidParam`] if the spec is invalid ([`PhantomSpec::validate`]).
///
/// # Examples
/// ```
/// use truelumen::sim::{PhantomSpec, simulate};
/// let spec = PhantomSpec { n_lines: 128, n_samples: 128, image_side_px: 96, ..PhantomSpec::default() };
/// let p = simulate(&spec)?;
/// assert_eq!(p.polar.shape(), (128, 128));
/// assert!(p.truth.lumen.contains([0.0, 0.0]));
/// # Ok::<(), truelumen::Error>(())
/// ```
pub fn simulate(spec: &PhantomSpec) -> Result<Phantom, Error> {
    Simulator::new().simulate(spec)
}

impl Simulator {
    /// Simulates one frame, reusing this simulator's FFT plans.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if the spec is invalid ([`PhantomSpec::validate`]).
    pub fn simulate(&mut self, spec: &PhantomSpec) -> Result<Phantom, Error> {
        spec.validate()?;
        let polar_geom = PolarGeometry::new(spec.n_lines, spec.n_samples, spec.depth_mm / spec.n_samples as f64)?
            .with_line0_angle_deg(spec.line0_angle_deg)
            .with_rotation(spec.rotation);
        let polar = self.polar_frame(spec, &polar_geom);
        let side = spec.image_side_px;
        let mm_per_px = spec.mm_per_px();
        let c = (side as f64 - 1.0) / 2.0;
        let cart_geom = CartGeometry {
            center_col: c + spec.catheter_offset_px[0],
            center_row: c + spec.catheter_offset_px[1],
            mm_per_px,
        };
        let sampler =
            CartesianSampler::new(polar_geom, side, side, cart_geom.center_col, cart_geom.center_row, mm_per_px)?;
        let mut cart = CartImage::default();
        sampler.convert_into(&polar, 0.0, &mut cart)?;
        cart.as_mut_slice().iter_mut().for_each(|v| *v = v.round());
        let truth = truth_of(spec, polar_geom, &cart_geom);
        Ok(Phantom { polar, polar_geom, cart, cart_geom, mm_per_px, truth })
    }
}

fn truth_of(spec: &PhantomSpec, polar_geometry: PolarGeometry, cart: &CartGeometry) -> Truth {
    let lumen = spec.lumen.contour(TRUTH_CONTOUR_VERTICES);
    let vessel = spec.vessel.contour(TRUTH_CONTOUR_VERTICES);
    let lumen_area = lumen.area_mm2();
    let vessel_area = vessel.area_mm2();
    let lc = lumen.centroid_mm().unwrap_or(spec.lumen.center_mm);
    let vc = vessel.centroid_mm().unwrap_or(spec.vessel.center_mm);
    let ld = lumen.diameters();
    let vd = vessel.diameters();
    let guidewire = spec.guidewire.as_ref().map(|w| {
        let angle = angle_deg_of_point(w.center_mm);
        GuidewireTruth {
            center_mm: w.center_mm,
            radius_mm: w.radius_mm,
            angle_deg: angle,
            in_true_lumen: lumen.contains(w.center_mm),
            relative_angle_deg: relative_angle_deg(angle_deg_of_point(lc), angle),
            distance_to_lumen_mm: lumen.signed_distance_mm(w.center_mm),
        }
    });
    let calcium = spec.calcium.iter().filter_map(|c| calcium_truth(spec, c)).collect();
    let mut t = Truth {
        schema_version: TRUTH_SCHEMA_VERSION,
        lumen_area_mm2: lumen_area,
        vessel_area_mm2: vessel_area,
        plaque_burden: if vessel_area > 0.0 { (vessel_area - lumen_area) / vessel_area } else { 0.0 },
        lumen_centroid_mm: lc,
        vessel_centroid_mm: vc,
        lumen_centroid_angle_deg: angle_deg_of_point(lc),
        lumen_centroid_distance_mm: lc[0].hypot(lc[1]),
        lumen_mean_diameter_mm: ld.map_or(0.0, |d| d.mean_mm),
        lumen_min_diameter_mm: ld.map_or(0.0, |d| d.min_mm),
        vessel_mean_diameter_mm: vd.map_or(0.0, |d| d.mean_mm),
        vessel_max_diameter_mm: vd.map_or(0.0, |d| d.max_mm),
        media_thickness_mm: spec.media_thickness_mm,
        catheter_center_px: [cart.center_col, cart.center_row],
        catheter_radius_mm: spec.catheter_radius_mm,
        catheter_in_lumen: lumen.signed_distance_mm([0.0, 0.0]) <= -spec.catheter_radius_mm,
        mm_per_px: cart.mm_per_px,
        image_size_px: [spec.image_side_px, spec.image_side_px],
        polar_geometry,
        occluded: spec.occluded,
        guidewire,
        calcium,
        catheter_position: None,
        lumen_encloses_catheter: None,
        lumen,
        vessel,
        spec: spec.clone(),
        ivus_wire: spec.ivus_wire.as_ref().map(|w| {
            let c = w.center_mm(spec.catheter_radius_mm);
            IvusWireTruth { center_mm: c, radius_mm: w.radius_mm, angle_deg: angle_deg_of_point(c) }
        }),
    };
    if spec.cto.is_some() {
        t.catheter_position = Some(t.catheter_position_class());
        t.lumen_encloses_catheter = Some(t.lumen_contains_catheter());
    }
    t
}

/// Catheter-view extent of a calcium arc, from a dense sampling of its region.
fn calcium_truth(spec: &PhantomSpec, c: &CalciumSpec) -> Option<CalciumTruth> {
    let lc = spec.lumen.center_mm;
    let mut pts = Vec::new();
    let n_a = (c.arc_deg / 0.25).ceil().max(1.0) as usize;
    for i in 0..=n_a {
        let psi = c.start_deg + c.arc_deg * i as f64 / n_a as f64;
        let (sn, cs) = psi.to_radians().sin_cos();
        let rl = spec.lumen.radius_at_deg(psi);
        for j in 0..=8 {
            let rho = rl + c.gap_mm + c.thickness_mm * j as f64 / 8.0;
            let p = [lc[0] + rho * cs, lc[1] + rho * sn];
            if spec.vessel.radial_excess_mm(p) < -spec.media_thickness_mm && p[0].hypot(p[1]) > spec.catheter_radius_mm
            {
                pts.push(p);
            }
        }
    }
    let mid = *pts.get(pts.len() / 2)?;
    let mid_angle = angle_deg_of_point(mid);
    let (mut lo, mut hi, mut depth) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY);
    for p in &pts {
        let rel = relative_angle_deg(mid_angle, angle_deg_of_point(*p));
        lo = lo.min(rel);
        hi = hi.max(rel);
        depth = depth.min(p[0].hypot(p[1]));
    }
    Some(CalciumTruth {
        start_deg: wrap_deg(mid_angle + lo),
        end_deg: wrap_deg(mid_angle + hi),
        arc_deg: hi - lo,
        depth_mm: depth,
    })
}

/// Writes `{dir}/{name}.png` (Cartesian, 8-bit grey), `{dir}/polar/{name}.png` (polar, rows =
/// A-lines) and `{dir}/truth/{name}.json`, creating the folders.
///
/// # Errors
/// [`Error::Io`] with the path when a folder or file cannot be written, [`Error::Format`] if
/// encoding fails.
pub fn write_phantom(dir: &Path, name: &str, p: &Phantom) -> Result<(), Error> {
    let polar_dir = dir.join("polar");
    let truth_dir = dir.join("truth");
    for d in [dir, polar_dir.as_path(), truth_dir.as_path()] {
        std::fs::create_dir_all(d).map_err(|source| Error::Io { path: d.to_path_buf(), source })?;
    }
    let save = |img: &crate::plane::Plane<f32>, path: std::path::PathBuf| -> Result<(), Error> {
        img.to_gray_image().save(&path).map_err(|e| match e {
            image::ImageError::IoError(source) => Error::Io { path: path.clone(), source },
            other => Error::Format { path: path.clone(), reason: other.to_string() },
        })
    };
    save(&p.cart, dir.join(format!("{name}.png")))?;
    save(&p.polar, polar_dir.join(format!("{name}.png")))?;
    let json_path = truth_dir.join(format!("{name}.json"));
    let json = serde_json::to_string(&p.truth)
        .map_err(|e| Error::Format { path: json_path.clone(), reason: e.to_string() })?;
    std::fs::write(&json_path, json).map_err(|source| Error::Io { path: json_path, source })
}

#[cfg(test)]
mod tests;
