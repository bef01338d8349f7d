//! Longitudinal consistency of per-frame measurements: running median and Hampel outliers.
//!
//! Along a pullback, neighbouring frames image almost the same cross-section, so a frame whose
//! measurement disagrees with all its neighbours is more likely a segmentation failure than
//! anatomy. Two robust tools, both on a window of `w` frames (odd, centred; the window shrinks at
//! the ends of the series):
//!
//! * [`running_median`]: each value is replaced by the median of its window. A median filter
//!   keeps step edges exactly where they are and keeps every plateau (narrowing, widening) that
//!   lasts at least `(w + 1) / 2` frames; it removes only excursions shorter than that. This is
//!   the sense in which the smoothing "never hides a real change": any change that persists over
//!   half a window (by default half of 1 mm of pullback) survives unmoved, while a linear filter
//!   would blur edges and shift the lesion ends.
//! * [`hampel_outliers`]: the Hampel identifier (F. R. Hampel, "The influence curve and its role
//!   in robust estimation", J. Am. Stat. Assoc. 69(346):383–393, 1974; as a filter: R. K. Pearson,
//!   "Outliers in process modeling and identification", IEEE Trans. Control Syst. Technol.
//!   10(1):55–63, 2002): a value is an outlier when it lies more than `k` scaled median absolute
//!   deviations (MAD · 1.4826) from its window's median, with a floor on the MAD so that a flat
//!   series does not flag tiny wiggles. We flag the frame (it stays in `measurements.csv`
//!   unchanged); the summary uses the running median, into which the outlier does not leak.
//!
//! Missing values (`NaN`) are skipped inside a window; a window of only missing values gives `NaN`.

/// Median of the finite values of `v` (sorted in place); `NaN` when there is none.
fn median_of(v: &mut Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Window half-width in frames for a window of `window_mm` at `spacing_mm` per frame (at least 1,
/// so that the window spans 3 frames).
pub fn half_window_frames(window_mm: f64, spacing_mm: f64) -> usize {
    if spacing_mm.is_nan() || spacing_mm <= 0.0 || !window_mm.is_finite() {
        return 1;
    }
    ((0.5 * window_mm / spacing_mm).round() as usize).clamp(1, 500)
}

/// Running median with half-width `half` (window `2·half + 1`, truncated at the ends).
pub fn running_median(x: &[f64], half: usize) -> Vec<f64> {
    let mut buf = Vec::with_capacity(2 * half + 1);
    (0..x.len())
        .map(|i| {
            buf.clear();
            buf.extend_from_slice(&x[i.saturating_sub(half)..(i + half + 1).min(x.len())]);
            median_of(&mut buf)
        })
        .collect()
}

/// Indices of Hampel outliers: `|x_i − med_i| > k · max(1.4826 · MAD_i, floor)`.
pub fn hampel_outliers(x: &[f64], half: usize, k: f64, floor: f64) -> Vec<usize> {
    let mut buf = Vec::with_capacity(2 * half + 1);
    let mut out = Vec::new();
    for i in 0..x.len() {
        if !x[i].is_finite() {
            continue;
        }
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(x.len());
        buf.clear();
        buf.extend_from_slice(&x[lo..hi]);
        let med = median_of(&mut buf);
        for v in buf.iter_mut() {
            *v = (*v - med).abs();
        }
        let mad = median_of(&mut buf);
        if (x[i] - med).abs() > k * (1.4826 * mad).max(floor) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_keeps_steps_and_long_plateaus_and_removes_spikes() {
        let mut x = vec![5.0; 10];
        x.extend(vec![1.0; 10]);
        x[3] = 50.0; // one-frame spike
        let m = running_median(&x, 2);
        assert_eq!(&m[..10], &[5.0; 10]);
        assert_eq!(&m[10..], &[1.0; 10]);
        // A 3-frame dip survives a half-width-2 window (5 frames).
        let mut y = vec![4.0; 12];
        y[5..8].copy_from_slice(&[2.0, 2.0, 2.0]);
        assert_eq!(running_median(&y, 2), y);
    }

    #[test]
    fn hampel_flags_the_spike_only() {
        let mut x: Vec<f64> = (0..30).map(|i| 3.0 + 0.01 * (i % 3) as f64).collect();
        x[12] = 0.5;
        x[20] = f64::NAN;
        assert_eq!(hampel_outliers(&x, 3, 3.5, 0.05), vec![12]);
    }

    #[test]
    fn nan_windows() {
        assert!(running_median(&[f64::NAN, f64::NAN], 1)[0].is_nan());
        assert_eq!(running_median(&[f64::NAN, 2.0, 4.0], 1), vec![2.0, 3.0, 3.0]); // end window [2, 4]
        assert_eq!(half_window_frames(1.0, 0.5), 1);
        assert_eq!(half_window_frames(1.0, 1.0 / 60.0), 30);
    }
}
