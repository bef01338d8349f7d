//! Segmentation accuracy measures of the IVUS segmentation challenge (Balocco et al.,
//! "Standardized evaluation methodology and reference database for evaluating IVUS image
//! segmentation", Computerized Medical Imaging and Graphics 38(2):70–90, 2014):
//! Jaccard measure on filled regions, Hausdorff distance between contours (mm), and percentage
//! of area difference.

use crate::contour::Contour;

/// Grid step used to rasterise regions for [`jaccard`], mm.
pub const JACCARD_STEP_MM: f64 = 0.005;

/// Jaccard measure `|A ∩ B| / |A ∪ B|` of the filled regions, by sampling a grid of
/// [`JACCARD_STEP_MM`] over the union's bounding box (scanline even-odd fill). 1 = identical.
/// Two empty contours give 1, one empty contour gives 0.
pub fn jaccard(a: &Contour, b: &Contour) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in a.points_mm.iter().chain(&b.points_mm) {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    let step = JACCARD_STEP_MM;
    let ny = ((y1 - y0) / step).ceil() as usize + 1;
    let (mut inter, mut union) = (0u64, 0u64);
    let mut xa = Vec::new();
    let mut xb = Vec::new();
    for j in 0..ny {
        let y = y0 + (j as f64 + 0.5) * step;
        crossings(a, y, &mut xa);
        crossings(b, y, &mut xb);
        let len_a = span_len(&xa);
        let len_b = span_len(&xb);
        let both = overlap_len(&xa, &xb);
        inter += (both / step).round() as u64;
        union += ((len_a + len_b - both) / step).round() as u64;
    }
    if union == 0 { 1.0 } else { inter as f64 / union as f64 }
}

/// Sorted x positions where the horizontal line `y` crosses the polygon.
fn crossings(c: &Contour, y: f64, out: &mut Vec<f64>) {
    out.clear();
    for (p, q) in c.edges() {
        if (p[1] > y) != (q[1] > y) {
            out.push(p[0] + (y - p[1]) / (q[1] - p[1]) * (q[0] - p[0]));
        }
    }
    out.sort_by(f64::total_cmp);
}

fn span_len(x: &[f64]) -> f64 {
    x.chunks_exact(2).map(|s| s[1] - s[0]).sum()
}

fn overlap_len(a: &[f64], b: &[f64]) -> f64 {
    let mut total = 0.0;
    for sa in a.chunks_exact(2) {
        for sb in b.chunks_exact(2) {
            let lo = sa[0].max(sb[0]);
            let hi = sa[1].min(sb[1]);
            if hi > lo {
                total += hi - lo;
            }
        }
    }
    total
}

/// Symmetric Hausdorff distance between two contours, mm (contours densified to 5 µm).
pub fn hausdorff_mm(a: &Contour, b: &Contour) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::INFINITY;
    }
    let da = a.densified(0.005);
    let db = b.densified(0.005);
    let directed =
        |pts: &[[f64; 2]], c: &Contour| pts.iter().map(|&p| c.distance_to_border_mm(p)).fold(0.0f64, f64::max);
    directed(&da, b).max(directed(&db, a))
}

/// Percentage of area difference `|A − B| / B` (B = reference), as a fraction.
pub fn area_difference(auto: &Contour, reference: &Contour) -> f64 {
    let r = reference.area_mm2();
    if r > 0.0 { (auto.area_mm2() - r).abs() / r } else { f64::INFINITY }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circle(c: [f64; 2], r: f64) -> Contour {
        Contour::from_radii(c, &vec![r; 720])
    }

    #[test]
    fn identical_and_shifted_circles() {
        let a = circle([0.0, 0.0], 1.0);
        assert!((jaccard(&a, &a) - 1.0).abs() < 1e-3);
        assert!(hausdorff_mm(&a, &a) < 1e-6);
        // Concentric circles r=1 and r=0.9: J = 0.81.
        let b = circle([0.0, 0.0], 0.9);
        assert!((jaccard(&a, &b) - 0.81).abs() < 0.005, "{}", jaccard(&a, &b));
        assert!((hausdorff_mm(&a, &b) - 0.1).abs() < 1e-3);
        assert!((area_difference(&b, &a) - 0.19).abs() < 1e-3);
        // Disjoint.
        let c = circle([5.0, 0.0], 1.0);
        assert_eq!(jaccard(&a, &c), 0.0);
    }
}
