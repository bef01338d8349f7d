//! Smooth random closed shapes ("star shapes": one radius per angle about their own centre).
//!
//! The radius function is `r(θ) = r0 · (1 + Σ_k a_k cos(kθ + φ_k))`, θ counter-clockwise from
//! +x about the shape's own centre. Every test here is relative to the shape's centre, never
//! to the catheter, so a shape need not contain the catheter.

use crate::contour::Contour;
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// One harmonic term `a cos(kθ + φ)` of a [`StarShape`] radius function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Harmonic {
    /// Order `k` (1 = shift, 2 = ellipse, 3 = triangle...).
    pub order: u32,
    /// Relative amplitude `a` (fraction of the mean radius).
    pub amplitude: f64,
    /// Phase `φ`, degrees.
    pub phase_deg: f64,
}

/// A closed shape given by its radius as a function of the angle about its centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StarShape {
    /// Centre in catheter-centred mm (+x right, +y up).
    pub center_mm: [f64; 2],
    /// Mean radius `r0`, mm.
    pub mean_radius_mm: f64,
    /// Harmonic terms of the radius function.
    pub harmonics: Vec<Harmonic>,
}

impl StarShape {
    /// A circle.
    pub fn circle(center_mm: [f64; 2], radius_mm: f64) -> Self {
        Self { center_mm, mean_radius_mm: radius_mm, harmonics: Vec::new() }
    }

    /// Radius (mm) in the direction `angle_deg` (CCW from +x) about the centre.
    pub fn radius_at_deg(&self, angle_deg: f64) -> f64 {
        let t = angle_deg.to_radians();
        let s: f64 =
            self.harmonics.iter().map(|h| h.amplitude * (h.order as f64 * t + h.phase_deg.to_radians()).cos()).sum();
        self.mean_radius_mm * (1.0 + s)
    }

    /// Radial excess of `p`: its distance from the centre minus the radius in its direction
    /// (mm; negative inside). Close to the signed distance for the gentle shapes used here.
    pub fn radial_excess_mm(&self, p: [f64; 2]) -> f64 {
        FastStar::new(self).radial_excess(p)
    }

    /// Whether `p` lies strictly inside.
    pub fn contains(&self, p: [f64; 2]) -> bool {
        self.radial_excess_mm(p) < 0.0
    }

    /// Polygon with `n` vertices at evenly spaced angles about the centre (counter-clockwise).
    pub fn contour(&self, n: usize) -> Contour {
        let radii: Vec<f64> = (0..n).map(|i| self.radius_at_deg(i as f64 * 360.0 / n as f64)).collect();
        Contour::from_radii(self.center_mm, &radii)
    }

    /// Smallest radius over 720 directions, mm.
    pub fn min_radius_mm(&self) -> f64 {
        (0..720).map(|i| self.radius_at_deg(i as f64 * 0.5)).fold(f64::INFINITY, f64::min)
    }

    /// The same shape moved by `d` mm.
    #[must_use]
    pub fn translated(&self, d: [f64; 2]) -> Self {
        let mut s = self.clone();
        s.center_mm = [s.center_mm[0] + d[0], s.center_mm[1] + d[1]];
        s
    }

    /// Checks that the shape is finite, positive and star-shaped (Σ|a_k| < 0.5).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming `name`.
    pub fn validate(&self, name: &'static str) -> Result<(), Error> {
        let ok_num = self.center_mm.iter().all(|v| v.is_finite())
            && self.mean_radius_mm.is_finite()
            && self.mean_radius_mm > 0.0
            && self.harmonics.iter().all(|h| h.amplitude.is_finite() && h.phase_deg.is_finite());
        if !ok_num {
            return Err(Error::param(name, "centre, radius and harmonics must be finite, radius > 0"));
        }
        let total: f64 = self.harmonics.iter().map(|h| h.amplitude.abs()).sum();
        if total >= 0.5 || self.harmonics.iter().any(|h| h.order == 0 || h.order > 16) {
            return Err(Error::param(
                name,
                format!("harmonic amplitudes must sum below 0.5 and orders be 1..=16 (sum {total})"),
            ));
        }
        Ok(())
    }
}

/// Precomputed evaluator of a [`StarShape`] (no trigonometric calls per query).
#[derive(Debug, Clone)]
pub(crate) struct FastStar {
    c: [f64; 2],
    r0: f64,
    max_order: u32,
    /// (order, a cos φ, a sin φ)
    terms: Vec<(u32, f64, f64)>,
}

impl FastStar {
    pub(crate) fn new(s: &StarShape) -> Self {
        let terms: Vec<(u32, f64, f64)> = s
            .harmonics
            .iter()
            .map(|h| {
                let (sp, cp) = h.phase_deg.to_radians().sin_cos();
                (h.order, h.amplitude * cp, h.amplitude * sp)
            })
            .collect();
        let max_order = terms.iter().map(|t| t.0).max().unwrap_or(0);
        Self { c: s.center_mm, r0: s.mean_radius_mm, max_order, terms }
    }

    /// Radius along the unit direction `(cx, sx)`.
    #[inline]
    pub(crate) fn radius_dir(&self, cx: f64, sx: f64) -> f64 {
        if self.terms.is_empty() {
            return self.r0;
        }
        // cos/sin of kθ by repeated complex multiplication.
        let mut pw = [(1.0f64, 0.0f64); 17];
        let (mut re, mut im) = (1.0, 0.0);
        for p in pw.iter_mut().take(self.max_order as usize + 1).skip(1) {
            let nre = re * cx - im * sx;
            im = re * sx + im * cx;
            re = nre;
            *p = (re, im);
        }
        let mut s = 0.0;
        for &(k, ac, as_) in &self.terms {
            let (ck, sk) = pw[k as usize];
            s += ck * ac - sk * as_;
        }
        self.r0 * (1.0 + s)
    }

    /// Distance from the centre minus radius in that direction (negative inside).
    #[inline]
    pub(crate) fn radial_excess(&self, p: [f64; 2]) -> f64 {
        let dx = p[0] - self.c[0];
        let dy = p[1] - self.c[1];
        let rho = dx.hypot(dy);
        if rho < 1e-12 {
            return -self.radius_dir(1.0, 0.0);
        }
        rho - self.radius_dir(dx / rho, dy / rho)
    }

    pub(crate) fn center(&self) -> [f64; 2] {
        self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_matches_direct() {
        let s = StarShape {
            center_mm: [0.3, -0.2],
            mean_radius_mm: 1.2,
            harmonics: vec![
                Harmonic { order: 2, amplitude: 0.07, phase_deg: 30.0 },
                Harmonic { order: 3, amplitude: 0.04, phase_deg: -110.0 },
                Harmonic { order: 4, amplitude: 0.02, phase_deg: 200.0 },
            ],
        };
        let f = FastStar::new(&s);
        for i in 0..100 {
            let a = i as f64 * 3.7;
            let (sn, cs) = a.to_radians().sin_cos();
            assert!((f.radius_dir(cs, sn) - s.radius_at_deg(a)).abs() < 1e-12);
        }
        let c = s.contour(720);
        assert!(c.signed_area_mm2() > 0.0);
        assert!(s.contains([0.3, -0.2]) && !s.contains([3.0, 0.0]));
        // Contour vertices lie on the border.
        for p in &c.points_mm {
            assert!(s.radial_excess_mm(*p).abs() < 1e-9);
        }
    }
}
