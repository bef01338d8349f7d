//! Coordinate conventions, calibration and angle helpers.
//!
//! These conventions hold everywhere in truelumen (library, JSON, CSV, overlays):
//!
//! * **Cartesian pixels** are `(row, col)`: row 0 at the top of the displayed image, col 0 at
//!   the left. Pixel centres sit at integer coordinates.
//! * **Millimetre coordinates** are relative to the catheter centre `(center_col, center_row)`:
//!   `x_mm = (col - center_col) * mm_per_px` (+x = image right) and
//!   `y_mm = -(row - center_row) * mm_per_px` (+y = image up).
//! * **Angles** are degrees, counter-clockwise from +x *as displayed*, in `[0, 360)`.
//!   Relative angles (`b - a`) are wrapped to `(-180, 180]`; positive = counter-clockwise.
//! * **Polar frames**: rows = A-lines, columns = samples. Sample `s` lies at depth
//!   `s * mm_per_sample` from the rotation centre. Line `l` points at
//!   `line0_angle_deg + dir * l * 360 / n_lines` with `dir = +1` for [`Rotation::Ccw`] and `-1`
//!   for [`Rotation::Cw`]; both are parameters because imaging systems differ.

use crate::error::{Error, check_positive, check_range};
use serde::{Deserialize, Serialize};

/// Direction in which successive A-lines advance, as displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// Line angle increases counter-clockwise (displayed).
    #[default]
    Ccw,
    /// Line angle increases clockwise (displayed).
    Cw,
}

impl Rotation {
    /// `+1.0` for counter-clockwise, `-1.0` for clockwise.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Rotation::Ccw => 1.0,
            Rotation::Cw => -1.0,
        }
    }
}

/// Physical layout of a polar frame (A-lines x samples).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolarGeometry {
    /// Number of A-lines per revolution (rows).
    pub n_lines: usize,
    /// Number of depth samples per A-line (columns).
    pub n_samples: usize,
    /// Depth step between samples in mm (sample `s` at `s * mm_per_sample`).
    pub mm_per_sample: f64,
    /// Display angle of line 0, degrees counter-clockwise from +x.
    pub line0_angle_deg: f64,
    /// Direction in which line angles advance.
    pub rotation: Rotation,
}

impl PolarGeometry {
    /// A geometry with line 0 at 0° and counter-clockwise rotation.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for fewer than 8 lines or samples or a non-positive depth step.
    pub fn new(n_lines: usize, n_samples: usize, mm_per_sample: f64) -> Result<Self, Error> {
        let g = Self { n_lines, n_samples, mm_per_sample, line0_angle_deg: 0.0, rotation: Rotation::Ccw };
        g.validate()?;
        Ok(g)
    }

    /// Sets the angle of line 0.
    #[must_use]
    pub fn with_line0_angle_deg(mut self, deg: f64) -> Self {
        self.line0_angle_deg = deg;
        self
    }

    /// Sets the rotation direction.
    #[must_use]
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Checks all fields.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.n_lines < 8 || self.n_lines > 1 << 14 {
            return Err(Error::param("n_lines", format!("must be within [8, 16384], got {}", self.n_lines)));
        }
        if self.n_samples < 8 || self.n_samples > 1 << 16 {
            return Err(Error::param("n_samples", format!("must be within [8, 65536], got {}", self.n_samples)));
        }
        check_positive("mm_per_sample", self.mm_per_sample)?;
        check_range("line0_angle_deg", self.line0_angle_deg, -3600.0, 3600.0)?;
        Ok(())
    }

    /// Imaging depth covered by the samples, in mm.
    #[inline]
    pub fn depth_mm(&self) -> f64 {
        self.n_samples as f64 * self.mm_per_sample
    }

    /// Angular step between lines in degrees (always positive).
    #[inline]
    pub fn deg_per_line(&self) -> f64 {
        360.0 / self.n_lines as f64
    }

    /// Display angle of a (possibly fractional) line index, in `[0, 360)`.
    #[inline]
    pub fn angle_deg_of_line(&self, line: f64) -> f64 {
        wrap_deg(self.line0_angle_deg + self.rotation.sign() * line * self.deg_per_line())
    }

    /// Fractional line index in `[0, n_lines)` that points at a display angle.
    #[inline]
    pub fn line_of_angle_deg(&self, angle_deg: f64) -> f64 {
        let l = (angle_deg - self.line0_angle_deg) * self.rotation.sign() / self.deg_per_line();
        l.rem_euclid(self.n_lines as f64)
    }

    /// Depth in mm of a (fractional) sample index.
    #[inline]
    pub fn depth_mm_of_sample(&self, sample: f64) -> f64 {
        sample * self.mm_per_sample
    }

    /// Point in mm (catheter-centred, +y up) for a fractional line and sample.
    #[inline]
    pub fn xy_mm(&self, line: f64, sample: f64) -> [f64; 2] {
        let a = self.angle_deg_of_line(line).to_radians();
        let r = self.depth_mm_of_sample(sample);
        [r * a.cos(), r * a.sin()]
    }
}

/// Calibration of a Cartesian frame: the catheter (rotation) centre and pixel size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CartGeometry {
    /// Catheter centre column in pixels (fractional).
    pub center_col: f64,
    /// Catheter centre row in pixels (fractional).
    pub center_row: f64,
    /// Pixel size in mm (square pixels).
    pub mm_per_px: f64,
}

impl CartGeometry {
    /// Millimetre coordinates of a pixel position.
    #[inline]
    pub fn mm_of_px(&self, col: f64, row: f64) -> [f64; 2] {
        [(col - self.center_col) * self.mm_per_px, -(row - self.center_row) * self.mm_per_px]
    }
    /// Pixel position `(col, row)` of a millimetre point.
    #[inline]
    pub fn px_of_mm(&self, p: [f64; 2]) -> (f64, f64) {
        (self.center_col + p[0] / self.mm_per_px, self.center_row - p[1] / self.mm_per_px)
    }
}

/// Wraps an angle to `[0, 360)`.
#[inline]
pub fn wrap_deg(a: f64) -> f64 {
    let w = a.rem_euclid(360.0);
    // rem_euclid can return exactly 360.0 for tiny negative inputs.
    if w >= 360.0 { 0.0 } else { w }
}

/// Wraps a relative angle to `(-180, 180]`.
#[inline]
pub fn wrap_rel_deg(a: f64) -> f64 {
    let w = wrap_deg(a);
    if w > 180.0 { w - 360.0 } else { w }
}

/// Signed angle from direction `from_deg` to direction `to_deg`, in `(-180, 180]`,
/// positive = counter-clockwise as displayed.
#[inline]
pub fn relative_angle_deg(from_deg: f64, to_deg: f64) -> f64 {
    wrap_rel_deg(to_deg - from_deg)
}

/// Display angle of a millimetre point as seen from the catheter centre, in `[0, 360)`.
#[inline]
pub fn angle_deg_of_point(p: [f64; 2]) -> f64 {
    wrap_deg(p[1].atan2(p[0]).to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_ranges() {
        assert_eq!(wrap_deg(-90.0), 270.0);
        assert_eq!(wrap_deg(360.0), 0.0);
        assert_eq!(wrap_rel_deg(180.0), 180.0);
        assert_eq!(wrap_rel_deg(-180.0), 180.0);
        assert_eq!(wrap_rel_deg(190.0), -170.0);
        assert!((relative_angle_deg(350.0, 10.0) - 20.0).abs() < 1e-12);
        assert!((relative_angle_deg(10.0, 350.0) + 20.0).abs() < 1e-12);
    }

    #[test]
    fn line_angle_round_trip_both_rotations() {
        for rot in [Rotation::Ccw, Rotation::Cw] {
            let g = PolarGeometry::new(256, 100, 0.02).unwrap().with_line0_angle_deg(90.0).with_rotation(rot);
            for l in [0.0, 1.5, 100.0, 255.9] {
                let a = g.angle_deg_of_line(l);
                let back = g.line_of_angle_deg(a);
                assert!((back - l).abs() < 1e-9, "{rot:?} {l} -> {a} -> {back}");
            }
        }
        let cw = PolarGeometry::new(4 * 90, 10, 0.1).unwrap().with_rotation(Rotation::Cw);
        assert!((cw.angle_deg_of_line(90.0) - 270.0).abs() < 1e-9);
    }

    #[test]
    fn image_up_is_positive_y() {
        let g = CartGeometry { center_col: 10.0, center_row: 10.0, mm_per_px: 0.5 };
        assert_eq!(g.mm_of_px(10.0, 0.0), [0.0, 5.0]);
        assert!((angle_deg_of_point(g.mm_of_px(10.0, 0.0)) - 90.0).abs() < 1e-12);
        assert_eq!(g.px_of_mm([0.0, 5.0]), (10.0, 0.0));
    }

    #[test]
    fn rejects_nan_and_tiny() {
        assert!(PolarGeometry::new(256, 256, f64::NAN).is_err());
        assert!(PolarGeometry::new(2, 256, 0.01).is_err());
        assert!(PolarGeometry::new(256, 256, -1.0).is_err());
    }
}
