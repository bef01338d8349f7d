//! Thickness of the media, measured on each frame.
//!
//! The media is the dark band just inside the EEM (smooth muscle between the internal and
//! external elastic laminae). Its thickness varies between vessels and between patients
//! (0.1–0.3 mm in tibial arteries; it thins under plaque), and the true-lumen search beside a
//! subintimal catheter must stop where the media begins ([`super::beside`], "The wall"): an
//! assumed thickness that is too thin lets a dark lumen run on into the dark media.
//!
//! The band is measured from the frame's unfiltered polar image, aligned on the EEM found by
//! the path search: for each depth offset from the EEM (0.15 mm outward to 0.6 mm inward) the
//! median over the usable A-lines (unshadowed, EEM far enough from the catheter) gives an
//! aligned profile, in which the media is the darkest point near the EEM. Its inner edge is the
//! half-level point between that minimum and the plaque level inside it (the upper quartile of
//! the profile from the minimum inward, so a dark lumen reaching the media on a few lines does
//! not pull it down), the same half-power rule that places the EEM
//! ([`super::refine`]; after the speckle-tracking "mid-level" border definition of
//! A. Hernàndez-Sabaté et al., "Approaching artery rigid dynamics in IVUS", IEEE TMI 28(11),
//! 2009, used there for the lumen; here applied to an A-line ensemble median). The aligned
//! median replaces the per-line edge detection of the classic layered models (M. Sonka et al.,
//! IEEE TMI 14(4), 1995, which search the internal elastic lamina line by line): the internal
//! elastic lamina is rarely visible line by line at 40 MHz, but the ensemble shows it.
//!
//! Sensitivity (tuning CTO frames 1000–1899, `tools/tune.rs`, `BESIDE=1 CTO=1`, subintimal lumen
//! Jaccard): least dip 0.25 / 0.5 / 1.0 speckle SDs of the unfiltered frame 0.817 / 0.817 /
//! 0.818 (0.5 is used); the measured thickness capped at 0.3 mm instead of [`MEDIA_MAX_MM`]:
//! 0.818.

use crate::plane::Plane;

/// Least media thickness taken from a measurement, mm.
pub const MEDIA_MIN_MM: f64 = 0.06;
/// Greatest media thickness taken from a measurement, mm.
pub const MEDIA_MAX_MM: f64 = 0.4;

/// Reusable buffers of [`media_inner_offset`].
#[derive(Debug, Default, Clone)]
pub struct MediaWorkspace {
    values: Vec<f32>,
    column: Vec<f32>,
    profile: Vec<f32>,
}

/// Offset inward from the EEM `wall` (samples per line) at which the media ends, in samples,
/// measured on the unfiltered polar frame `polar` (module docs). Lines flagged in `shadowed`
/// and lines whose EEM lies closer than 0.6 mm to sample `s_min` (the catheter) are skipped.
/// `min_step` is the least depth of the media dip below the plaque level (grey levels) that
/// counts as a band. `None` when fewer than a quarter of the lines (or 16) are usable or no
/// band shows.
pub fn media_inner_offset(
    polar: &Plane<f32>,
    wall: &[usize],
    shadowed: &[bool],
    s_min: usize,
    mm_per_sample: f64,
    min_step: f64,
    ws: &mut MediaWorkspace,
) -> Option<f64> {
    let d_in = (0.6 / mm_per_sample).round() as usize;
    let d_out = (0.15 / mm_per_sample).round() as usize;
    let width = d_in + d_out + 1;
    if d_in < 4 {
        return None;
    }
    ws.values.clear();
    let mut lines = 0usize;
    for (l, &e) in wall.iter().enumerate().take(polar.rows()) {
        if shadowed.get(l).copied().unwrap_or(false) || e < s_min + d_in || e + d_out >= polar.cols() {
            continue;
        }
        // Offset j = 0 is d_out samples outside the EEM, j = d_out the EEM, then inward.
        ws.values.extend(polar.row(l)[e - d_in..=e + d_out].iter().rev());
        lines += 1;
    }
    if lines < (wall.len() / 4).max(16) {
        return None;
    }
    ws.profile.clear();
    for j in 0..width {
        ws.column.clear();
        ws.column.extend((0..lines).map(|i| ws.values[i * width + j]));
        let mid = lines / 2;
        ws.profile.push(*ws.column.select_nth_unstable_by(mid, f32::total_cmp).1);
    }
    let p = &ws.profile;
    // The media: the darkest point from half the outer window to 0.3 mm inside the EEM.
    let lo = d_out / 2;
    let hi = (d_out + (0.3 / mm_per_sample).round() as usize).min(width - 1);
    let j_min = (lo..=hi).min_by(|&a, &b| p[a].total_cmp(&p[b]))?;
    // Plaque level: upper quartile of the profile from the minimum inward.
    ws.column.clear();
    ws.column.extend_from_slice(&p[j_min..]);
    let q = ws.column.len() * 3 / 4;
    let plaque = *ws.column.select_nth_unstable_by(q, f32::total_cmp).1;
    let dip = plaque - p[j_min];
    if !(dip as f64 >= min_step) {
        return None;
    }
    let level = p[j_min] + 0.5 * dip;
    let j = (j_min + 1..width).find(|&j| p[j] >= level)?;
    // Linear interpolation between j − 1 and j.
    let f = (level - p[j - 1]) / (p[j] - p[j - 1]);
    Some((j - 1) as f64 + f as f64 - d_out as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adventitia 200 beyond the EEM at sample 100, media 20 over samples 80..100, plaque 120
    /// inside: the media ends 20.5 samples inside the EEM sample (half level 70 between 79 and 80).
    #[test]
    fn finds_the_inner_edge_of_a_dark_band() {
        let polar = Plane::from_fn(64, 200, |l, k| {
            if l == 7 {
                return 255.0; // shadowed line with nonsense
            }
            match k {
                0..=79 => 120.0,
                80..=99 => 20.0,
                _ => 200.0,
            }
        });
        let wall = vec![100usize; 64];
        let mut shadowed = vec![false; 64];
        shadowed[7] = true;
        let mut ws = MediaWorkspace::default();
        let off = media_inner_offset(&polar, &wall, &shadowed, 10, 0.01, 10.0, &mut ws).unwrap();
        assert!((off - 20.5).abs() < 1e-6, "{off}");
        // Too weak a band.
        assert_eq!(media_inner_offset(&polar, &wall, &shadowed, 10, 0.01, 150.0, &mut ws), None);
        // EEM too close to the catheter on every line.
        assert_eq!(media_inner_offset(&polar, &wall, &shadowed, 60, 0.01, 10.0, &mut ws), None);
    }
}
