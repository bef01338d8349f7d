//! Overlay images: a frame's results drawn over the Cartesian frame.
//!
//! What is drawn (colours in [`colors`]):
//! * the **lumen** contour (cyan) and the **vessel** (EEM) contour (orange); the lumen is
//!   dashed when the frame is flagged `lumen_side_uncertain` (it may be the wrong lumen);
//! * the **catheter**: a green circle of `catheter_radius_mm` and a cross at `center_px`;
//! * the **guidewire** (second wire): a red disc at its centre;
//! * the IVUS catheter's **own wire**: a yellow ring at its centre;
//! * **calcium** arcs: magenta arcs at the depth of each calcium echo, from its start to its end
//!   angle (counter-clockwise as displayed), with short radial ticks at both ends;
//! * two rays from the catheter centre: towards the **lumen centroid** (cyan) and towards the
//!   **wire** (red), and a white arc between them from the wire direction to the lumen
//!   direction; when the guidance suggests a rotation (`guidance.rotate_deg`), the arc ends in
//!   an arrowhead at the lumen direction, i.e. it shows which way to move the wire on screen.
//!
//! Millimetre positions map to pixels with [`CartGeometry::px_of_mm`] using the result's
//! `center_px` and `mm_per_px` (see [`crate::geometry`]). Shapes partly outside the image are
//! clipped; non-finite coordinates are skipped. Lines are 1 px wide up to 600 px frames and
//! grow with the frame size.

use crate::geometry::CartGeometry;
use crate::plane::CartImage;
use crate::report::{FrameResult, QualityFlag};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_cross_mut, draw_filled_circle_mut, draw_hollow_circle_mut, draw_line_segment_mut};

/// Overlay colours.
pub mod colors {
    use image::Rgb;
    /// Lumen contour and lumen-centroid ray.
    pub const LUMEN: Rgb<u8> = Rgb([0, 255, 255]);
    /// Vessel (EEM) contour.
    pub const VESSEL: Rgb<u8> = Rgb([255, 160, 0]);
    /// Catheter circle and centre cross.
    pub const CATHETER: Rgb<u8> = Rgb([0, 220, 0]);
    /// Guidewire marker and ray.
    pub const WIRE: Rgb<u8> = Rgb([255, 0, 0]);
    /// Arc between the lumen and wire directions.
    pub const ARC: Rgb<u8> = Rgb([255, 255, 255]);
    /// The IVUS catheter's own wire.
    pub const IVUS_WIRE: Rgb<u8> = Rgb([255, 230, 0]);
    /// Calcium arcs.
    pub const CALCIUM: Rgb<u8> = Rgb([255, 0, 255]);
}

/// Renders the overlay of `result` over the grey frame `image` (values clamped to 0–255).
#[must_use = "returns a new image"]
pub fn render_overlay(image: &CartImage, result: &FrameResult) -> RgbImage {
    let (rows, cols) = image.shape();
    let mut out = RgbImage::from_fn(cols as u32, rows as u32, |c, r| {
        let v = image.get(r as usize, c as usize).clamp(0.0, 255.0).round() as u8;
        Rgb([v, v, v])
    });
    let geom =
        CartGeometry { center_col: result.center_px[0], center_row: result.center_px[1], mm_per_px: result.mm_per_px };
    if !(geom.mm_per_px.is_finite()
        && geom.mm_per_px > 0.0
        && geom.center_col.is_finite()
        && geom.center_row.is_finite())
    {
        return out;
    }
    let mut canvas = Canvas { img: &mut out, width: ((rows.max(cols) / 600) as i32).max(1) };
    let px = |p: [f64; 2]| geom.px_of_mm(p);
    let center = (geom.center_col, geom.center_row);

    let lumen_dashed = result.quality.has(QualityFlag::LumenSideUncertain);
    for (region, color, dashed) in
        [(&result.vessel, colors::VESSEL, false), (&result.lumen, colors::LUMEN, lumen_dashed)]
    {
        if let Some(r) = region {
            let mut pts: Vec<(f64, f64)> = r.contour_mm.points_mm.iter().map(|&p| px(p)).collect();
            if dashed {
                if let Some(&first) = pts.first() {
                    pts.push(first);
                }
                canvas.dashed_polyline(&pts, DASH_PX * canvas.width as f64, color);
            } else {
                canvas.polyline(&pts, true, color);
            }
        }
    }

    if result.catheter_radius_mm > 0.0 && result.catheter_radius_mm.is_finite() {
        canvas.circle(center, result.catheter_radius_mm / geom.mm_per_px, colors::CATHETER, false);
    }
    if let (Ok(c), Ok(r)) = (i32::try_from(center.0.round() as i64), i32::try_from(center.1.round() as i64)) {
        draw_cross_mut(canvas.img, colors::CATHETER, c, r);
    }

    let lumen_dir = result.lumen.as_ref().map(|l| (l.centroid_angle_deg, l.centroid_mm[0].hypot(l.centroid_mm[1])));
    let wire_dir = result.guidewire.as_ref().map(|w| (w.angle_deg, w.center_mm[0].hypot(w.center_mm[1])));
    // Rays reach a bit beyond the farther of the two targets (at least 1 mm).
    let reach_mm = lumen_dir.iter().chain(wire_dir.iter()).map(|d| d.1).fold(1.0f64, f64::max) * 1.15;
    let ray_end = |deg: f64, len: f64| {
        let a = deg.to_radians();
        px([len * a.cos(), len * a.sin()])
    };
    if let Some((deg, _)) = lumen_dir {
        canvas.segment(center, ray_end(deg, reach_mm), colors::LUMEN);
    }
    if let Some((deg, _)) = wire_dir {
        canvas.segment(center, ray_end(deg, reach_mm), colors::WIRE);
    }
    for a in &result.calcium.arcs {
        let r = a.depth_mm.max(result.catheter_radius_mm);
        let steps = ((a.arc_deg / 2.0).ceil() as usize).max(1);
        let arc: Vec<(f64, f64)> =
            (0..=steps).map(|k| ray_end(a.start_deg + a.arc_deg * k as f64 / steps as f64, r)).collect();
        let w0 = canvas.width;
        canvas.width = 2 * w0;
        canvas.polyline(&arc, false, colors::CALCIUM);
        canvas.width = w0;
        for deg in [a.start_deg, a.start_deg + a.arc_deg] {
            canvas.segment(ray_end(deg, r * 0.9), ray_end(deg, r * 1.1), colors::CALCIUM);
        }
    }
    if let (Some((to, _)), Some((from, _))) = (lumen_dir, wire_dir) {
        // From the wire direction to the lumen direction (the way to move the wire).
        let rel = crate::geometry::relative_angle_deg(from, to);
        let radius = reach_mm * 0.5;
        let steps = ((rel.abs() / 2.0).ceil() as usize).max(1);
        let arc: Vec<(f64, f64)> = (0..=steps).map(|k| ray_end(from + rel * k as f64 / steps as f64, radius)).collect();
        canvas.polyline(&arc, false, colors::ARC);
        if result.guidance.as_ref().is_some_and(|g| g.rotate_deg.is_some()) {
            // Arrowhead at the lumen end: two barbs pointing back along the arc.
            let back = to - rel.signum() * (8.0f64).min(rel.abs() / 2.0);
            let tip = ray_end(to, radius);
            canvas.segment(tip, ray_end(back, radius * 1.08), colors::ARC);
            canvas.segment(tip, ray_end(back, radius * 0.92), colors::ARC);
        }
    }
    if let Some(w) = &result.ivus_wire {
        let radius_px = (0.12 / geom.mm_per_px).clamp(3.0, 20.0);
        canvas.circle(px(w.center_mm), radius_px, colors::IVUS_WIRE, false);
    }
    if let Some(w) = &result.guidewire {
        let radius_px = (0.06 / geom.mm_per_px).clamp(2.0, 12.0);
        canvas.circle(px(w.center_mm), radius_px, colors::WIRE, true);
    }
    out
}

/// Length of the dashes and of the gaps between them of a dashed contour, px (× line width).
const DASH_PX: f64 = 6.0;

/// Line drawing with clipping and thickness.
struct Canvas<'a> {
    img: &'a mut RgbImage,
    width: i32,
}

impl Canvas<'_> {
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), color: Rgb<u8>) {
        let (w, h) = (self.img.width() as f64, self.img.height() as f64);
        let Some((a, b)) = clip_segment(a, b, (-1.0, -1.0), (w, h)) else {
            return;
        };
        let half = self.width / 2;
        for dy in -half..=(self.width - 1 - half) {
            for dx in -half..=(self.width - 1 - half) {
                let (ox, oy) = (dx as f64, dy as f64);
                draw_line_segment_mut(
                    self.img,
                    ((a.0 + ox) as f32, (a.1 + oy) as f32),
                    ((b.0 + ox) as f32, (b.1 + oy) as f32),
                    color,
                );
            }
        }
    }

    fn polyline(&mut self, pts: &[(f64, f64)], closed: bool, color: Rgb<u8>) {
        for w in pts.windows(2) {
            self.segment(w[0], w[1], color);
        }
        if let (true, Some(&first), Some(&last)) = (closed && pts.len() > 2, pts.first(), pts.last()) {
            self.segment(last, first, color);
        }
    }

    /// An open polyline drawn as dashes of `dash_px` with gaps of the same length, the pattern
    /// running on along the whole line. Only the part of each segment on the image is walked.
    fn dashed_polyline(&mut self, pts: &[(f64, f64)], dash_px: f64, color: Rgb<u8>) {
        if !(dash_px > 0.0) {
            return;
        }
        let (w, h) = (self.img.width() as f64, self.img.height() as f64);
        // Distance along the line at the start of the current segment.
        let mut at = 0.0f64;
        for seg in pts.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let Some((ca, cb)) = clip_segment(a, b, (-1.0, -1.0), (w, h)).filter(|_| len.is_finite() && len > 0.0)
            else {
                at += if len.is_finite() { len } else { 0.0 };
                continue;
            };
            let p = |u: f64| (a.0 + (b.0 - a.0) * u / len, a.1 + (b.1 - a.1) * u / len);
            let (mut t, t_end) = ((ca.0 - a.0).hypot(ca.1 - a.1), (cb.0 - a.0).hypot(cb.1 - a.1));
            while t < t_end {
                let phase = (at + t) % (2.0 * dash_px);
                let (on, left) = if phase < dash_px { (true, dash_px - phase) } else { (false, 2.0 * dash_px - phase) };
                let t1 = (t + left).min(t_end);
                if on {
                    self.segment(p(t), p(t1), color);
                }
                t = t1;
            }
            at += len;
        }
    }

    fn circle(&mut self, c: (f64, f64), radius_px: f64, color: Rgb<u8>, filled: bool) {
        let (w, h) = (self.img.width() as f64, self.img.height() as f64);
        let r = radius_px;
        // Skip circles that are not finite, absurdly large or entirely off the image.
        if !(c.0.is_finite() && c.1.is_finite() && r.is_finite())
            || r > 4.0 * (w + h)
            || c.0 + r < 0.0
            || c.1 + r < 0.0
            || c.0 - r > w
            || c.1 - r > h
        {
            return;
        }
        let (ci, ri) = ((c.0.round() as i32, c.1.round() as i32), r.round().max(1.0) as i32);
        if filled {
            draw_filled_circle_mut(self.img, ci, ri, color);
        } else {
            for k in 0..self.width {
                draw_hollow_circle_mut(self.img, ci, ri + k, color);
            }
        }
    }
}

/// Liang–Barsky clipping of segment `a`–`b` to the box `lo`–`hi`; `None` when outside or
/// not finite.
fn clip_segment(a: (f64, f64), b: (f64, f64), lo: (f64, f64), hi: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - lo.0), (dx, hi.0 - a.0), (-dy, a.1 - lo.1), (dy, hi.1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::Contour;
    use crate::report::{GuidewireResult, Quality, RegionResult};

    fn result() -> FrameResult {
        let contour = Contour::from_radii([0.5, 0.0], &[0.5; 64]);
        FrameResult {
            index: 0,
            source: "x".into(),
            mm_per_px: 0.05,
            center_px: [50.0, 50.0],
            catheter_radius_mm: 0.3,
            lumen: Some(RegionResult {
                contour_mm: contour,
                area_mm2: 0.785,
                centroid_mm: [0.5, 0.0],
                centroid_angle_deg: 0.0,
                min_diameter_mm: 1.0,
                max_diameter_mm: 1.0,
                mean_diameter_mm: 1.0,
                area_equivalent_diameter_mm: 1.0,
                eccentricity: 0.0,
                encloses_catheter: false,
            }),
            vessel: None,
            plaque_burden: None,
            guidewire: Some(GuidewireResult {
                center_mm: [0.0, 1.0],
                angle_deg: 90.0,
                relative_angle_deg: Some(90.0),
                in_true_lumen: Some(false),
                distance_to_lumen_mm: Some(0.5),
                shadow_width_deg: 5.0,
                confidence: 0.8,
            }),
            quality: Quality::default(),
            catheter_position: crate::report::CatheterPosition::Subintimal,
            ivus_wire: None,
            calcium: Default::default(),
            guidance: None,
            wire_candidates: Vec::new(),
        }
    }

    #[test]
    fn draws_at_the_right_places() {
        let img = CartImage::from_fn(101, 101, |_, _| 50.0);
        let out = render_overlay(&img, &result());
        // Lumen circle of 0.5 mm = 10 px around col 60, row 50: its rightmost point at col 70.
        assert_eq!(*out.get_pixel(70, 50), colors::LUMEN);
        // Wire 1 mm above the centre: row 30 (+y is up).
        assert_eq!(*out.get_pixel(50, 30), colors::WIRE);
        // Background untouched far away.
        assert_eq!(*out.get_pixel(5, 95), Rgb([50, 50, 50]));
    }

    /// A frame flagged `lumen_side_uncertain` has its lumen dashed: about half the pixels of
    /// the solid contour, spread all round it.
    #[test]
    fn an_uncertain_lumen_is_dashed() {
        let img = CartImage::from_fn(101, 101, |_, _| 50.0);
        let mut r = result();
        r.guidewire = None;
        let count = |out: &RgbImage, right_half: Option<bool>| {
            out.enumerate_pixels()
                .filter(|(c, _, p)| **p == colors::LUMEN && right_half.is_none_or(|h| (*c >= 60) == h))
                .count()
        };
        let solid = render_overlay(&img, &r);
        r.quality.flag(QualityFlag::LumenSideUncertain);
        let dashed = render_overlay(&img, &r);
        let (n_solid, n_dashed) = (count(&solid, None), count(&dashed, None));
        assert!(n_dashed * 10 > n_solid * 3 && n_dashed * 10 < n_solid * 7, "{n_dashed} of {n_solid}");
        assert!(count(&dashed, Some(true)) > 0 && count(&dashed, Some(false)) > 0);
    }

    #[test]
    fn survives_garbage_coordinates() {
        let img = CartImage::from_fn(40, 30, |r, c| (r + c) as f32);
        let mut r = result();
        r.lumen.as_mut().unwrap().contour_mm.points_mm = vec![[f64::NAN, 0.0], [1e300, -1e300], [0.1, 0.1]];
        r.guidewire.as_mut().unwrap().center_mm = [1e9, 1e9];
        r.catheter_radius_mm = f64::INFINITY;
        let out = render_overlay(&img, &r);
        assert_eq!(out.dimensions(), (30, 40));
        // The dashed lumen too, with a finite point far off the image (walked only on it).
        r.quality.flag(QualityFlag::LumenSideUncertain);
        r.lumen.as_mut().unwrap().contour_mm.points_mm = vec![[0.0, 0.0], [1e12, 3e11], [0.1, 0.5], [f64::NAN, 1.0]];
        let out = render_overlay(&img, &r);
        assert_eq!(out.dimensions(), (30, 40));
        r.mm_per_px = 0.0;
        let _ = render_overlay(&img, &r);
    }

    #[test]
    fn clipping() {
        let c = clip_segment((-10.0, 5.0), (20.0, 5.0), (0.0, 0.0), (10.0, 10.0)).unwrap();
        assert_eq!(c, ((0.0, 5.0), (10.0, 5.0)));
        assert!(clip_segment((-10.0, -5.0), (-1.0, -1.0), (0.0, 0.0), (10.0, 10.0)).is_none());
    }
}
