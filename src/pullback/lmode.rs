//! Longitudinal view (L-mode): a cut through every frame along one line through the catheter.
//!
//! The cut at display angle `θ` runs from depth `−R` (direction `θ + 180°`) through the catheter
//! centre to `+R` (direction `θ`), [`LMODE_ROWS`] samples, so the stack of cuts is an image of
//! `rows x frames` in which the pullback runs left to right. Each frame contributes one `u8`
//! column at the time it is analysed (bilinear sampling of the Cartesian frame, or of the two polar
//! A-lines nearest to `θ` and `θ + 180°`), plus the depths where the lumen and vessel contours
//! cross the cut, so the view costs `LMODE_ROWS` bytes + 16 bytes per frame and needs no frame
//! to be kept.

use crate::contour::Contour;
use crate::pipeline::Calibration;
use crate::plane::CartImage;
use crate::report::FrameResult;
use image::{Rgb, RgbImage};

/// Samples per L-mode column.
pub const LMODE_ROWS: usize = 192;

/// Lumen and vessel border depths on one cut: `[+θ side, −θ side]`, mm (NaN = no border).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CutBorders {
    /// Lumen border depth in direction θ and θ+180°, mm.
    pub lumen_mm: [f32; 2],
    /// Vessel border depth in direction θ and θ+180°, mm.
    pub vessel_mm: [f32; 2],
}

/// Accumulates the L-mode column by column.
#[derive(Debug, Clone)]
pub struct LModeBuilder {
    angle_deg: f64,
    half_depth_mm: f64,
    columns: Vec<u8>,
    borders: Vec<CutBorders>,
}

/// Farthest crossing of the ray from the origin in direction `angle_deg` with `c`, mm.
pub fn ray_border_mm(c: &Contour, angle_deg: f64) -> Option<f64> {
    let (s, co) = angle_deg.to_radians().sin_cos();
    let dir = [co, s];
    let mut best: Option<f64> = None;
    for (a, b) in c.edges() {
        let e = [b[0] - a[0], b[1] - a[1]];
        let denom = dir[0] * e[1] - dir[1] * e[0];
        if denom.abs() < 1e-15 {
            continue;
        }
        let t = (a[0] * e[1] - a[1] * e[0]) / denom;
        let u = (a[0] * dir[1] - a[1] * dir[0]) / denom;
        if t >= 0.0 && (0.0..=1.0).contains(&u) {
            best = Some(best.map_or(t, |bt: f64| bt.max(t)));
        }
    }
    best
}

fn bilinear(img: &CartImage, col: f64, row: f64) -> f32 {
    let (rows, cols) = img.shape();
    if !(col >= 0.0 && row >= 0.0 && col <= (cols - 1) as f64 && row <= (rows - 1) as f64) {
        return 0.0;
    }
    let (c0, r0) = (col.floor() as usize, row.floor() as usize);
    let (c1, r1) = ((c0 + 1).min(cols - 1), (r0 + 1).min(rows - 1));
    let (fc, fr) = ((col - c0 as f64) as f32, (row - r0 as f64) as f32);
    let top = img.get(r0, c0) * (1.0 - fc) + img.get(r0, c1) * fc;
    let bot = img.get(r1, c0) * (1.0 - fc) + img.get(r1, c1) * fc;
    top * (1.0 - fr) + bot * fr
}

impl LModeBuilder {
    /// A builder for a cut at `angle_deg` (display convention) covering ±`half_depth_mm`.
    pub fn new(angle_deg: f64, half_depth_mm: f64) -> Self {
        Self { angle_deg, half_depth_mm, columns: Vec::new(), borders: Vec::new() }
    }

    /// Number of columns so far.
    pub fn len(&self) -> usize {
        self.borders.len()
    }

    /// Whether no column was added.
    pub fn is_empty(&self) -> bool {
        self.borders.is_empty()
    }

    /// Cut angle, degrees.
    pub fn angle_deg(&self) -> f64 {
        self.angle_deg
    }

    /// Half depth of the cut, mm.
    pub fn half_depth_mm(&self) -> f64 {
        self.half_depth_mm
    }

    /// Adds the column of one frame (`image` as given to the pipeline, with its calibration).
    pub fn push(&mut self, result: &FrameResult, image: &CartImage, calib: &Calibration) {
        let step = 2.0 * self.half_depth_mm / (LMODE_ROWS - 1) as f64;
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        for k in 0..LMODE_ROWS {
            // Row 0 at the top = +half depth in direction θ.
            let d = self.half_depth_mm - k as f64 * step;
            let v = match calib {
                Calibration::Cartesian { mm_per_px } => {
                    let col = result.center_px[0] + d * c / mm_per_px;
                    let row = result.center_px[1] - d * s / mm_per_px;
                    bilinear(image, col, row)
                }
                Calibration::Polar(g) => {
                    let angle = if d >= 0.0 { self.angle_deg } else { self.angle_deg + 180.0 };
                    let line = g.line_of_angle_deg(angle).round().rem_euclid(g.n_lines as f64) as usize;
                    let sample = d.abs() / g.mm_per_sample;
                    if line < image.rows() && sample <= (image.cols() - 1) as f64 {
                        bilinear(image, sample, line as f64)
                    } else {
                        0.0
                    }
                }
            };
            self.columns.push(v.clamp(0.0, 255.0).round() as u8);
        }
        let cross = |c: Option<&Contour>| {
            let f = |a: f64| c.and_then(|c| ray_border_mm(c, a)).map_or(f32::NAN, |v| v as f32);
            [f(self.angle_deg), f(self.angle_deg + 180.0)]
        };
        self.borders.push(CutBorders {
            lumen_mm: cross(result.lumen.as_ref().map(|r| &r.contour_mm)),
            vessel_mm: cross(result.vessel.as_ref().map(|r| &r.contour_mm)),
        });
    }

    /// Border depths of every column.
    pub fn borders(&self) -> &[CutBorders] {
        &self.borders
    }

    /// Renders the L-mode with at most `max_width` columns (frames picked evenly when there are
    /// more), borders drawn (lumen cyan, vessel orange), and `marks` as vertical lines
    /// `(frame index, colour)` at the top and bottom edges.
    pub fn render(&self, max_width: usize, marks: &[(usize, Rgb<u8>)]) -> RgbImage {
        let n = self.len();
        let width = n.min(max_width.max(1)).max(1);
        let frame_of = |x: usize| if n <= width { x } else { (x * (n - 1) + (width - 1) / 2) / (width - 1).max(1) };
        let mut img = RgbImage::new(width as u32, LMODE_ROWS as u32);
        if n == 0 {
            return img;
        }
        let step = 2.0 * self.half_depth_mm / (LMODE_ROWS - 1) as f64;
        let row_of = |d: f64| ((self.half_depth_mm - d) / step).round();
        for x in 0..width {
            let f = frame_of(x).min(n - 1);
            for r in 0..LMODE_ROWS {
                let v = self.columns[f * LMODE_ROWS + r];
                img.put_pixel(x as u32, r as u32, Rgb([v, v, v]));
            }
            let b = self.borders[f];
            for (pair, color) in [(b.vessel_mm, Rgb([255, 160, 0])), (b.lumen_mm, Rgb([0, 255, 255]))] {
                for (k, d) in pair.iter().enumerate() {
                    if d.is_finite() {
                        let depth = if k == 0 { f64::from(*d) } else { -f64::from(*d) };
                        let row = row_of(depth);
                        if row >= 0.0 && row < LMODE_ROWS as f64 {
                            img.put_pixel(x as u32, row as u32, color);
                        }
                    }
                }
            }
        }
        for &(frame, color) in marks {
            let x = if n <= width { frame } else { (frame * (width - 1) + (n - 1) / 2) / (n - 1).max(1) };
            if x < width {
                for r in (0..10).chain(LMODE_ROWS - 10..LMODE_ROWS) {
                    img.put_pixel(x as u32, r as u32, color);
                }
            }
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_crossing_of_a_square() {
        let sq = Contour::new(vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]);
        assert!((ray_border_mm(&sq, 0.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((ray_border_mm(&sq, 45.0).unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert!((ray_border_mm(&sq, 180.0).unwrap() - 1.0).abs() < 1e-12);
    }
}
