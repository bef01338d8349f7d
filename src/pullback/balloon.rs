//! Balloon-size suggestion: an explicit, configurable rule and catalogue.
//!
//! Common IVUS practice sizes a balloon about 1:1 to the vessel (EEM) or mid-wall diameter at the
//! reference segment, rounded to an available size (G. S. Mintz et al., "American College of
//! Cardiology clinical expert consensus document on standards for acquisition, measurement and
//! reporting of intravascular ultrasound studies", JACC 37(5):1478–1492, 2001, for the
//! measurements; the 1:1 EEM rule is the usual IVUS-guided sizing practice in the BTK literature,
//! e.g. Hayakawa et al., CVIR Endovascular 2023, Fig. 2G). Default: mean EEM diameter at the
//! distal reference × 1.0, rounded **down** to the catalogue 1.5, 2.0, 2.5, 3.0, 3.5, 4.0 mm.
//! The alternatives printed beside it use the mean lumen diameter and the mid-wall diameter
//! `(lumen + EEM) / 2`. This is a suggestion for a clinician, never a decision.

use crate::error::{Error, check_positive};
use serde::{Deserialize, Serialize};

/// Default balloon catalogue, mm (typical BTK balloons).
pub const DEFAULT_CATALOGUE_MM: [f64; 6] = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0];

/// The words every balloon suggestion carries.
pub const SUGGESTION_NOTE: &str =
    "suggestion for a clinician: a computed size from the rule and measurements shown, never a decision";

/// Which diameter the rule sizes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SizingBasis {
    /// Mean vessel (EEM) diameter.
    Vessel,
    /// Mean lumen diameter.
    Lumen,
    /// Mid-wall diameter: mean of the lumen and EEM mean diameters.
    MidWall,
}

impl SizingBasis {
    /// All bases, default first.
    pub const ALL: [SizingBasis; 3] = [SizingBasis::Vessel, SizingBasis::Lumen, SizingBasis::MidWall];

    /// Name as in the report.
    pub fn name(self) -> &'static str {
        match self {
            SizingBasis::Vessel => "vessel (EEM) mean diameter",
            SizingBasis::Lumen => "lumen mean diameter",
            SizingBasis::MidWall => "mid-wall diameter (lumen + EEM) / 2",
        }
    }

    /// The basis diameter from a lumen and a vessel mean diameter (either may be missing).
    pub fn diameter_mm(self, lumen_mm: Option<f64>, vessel_mm: Option<f64>) -> Option<f64> {
        match self {
            SizingBasis::Vessel => vessel_mm,
            SizingBasis::Lumen => lumen_mm,
            SizingBasis::MidWall => lumen_mm.zip(vessel_mm).map(|(l, v)| 0.5 * (l + v)),
        }
        .filter(|d| d.is_finite() && *d > 0.0)
    }
}

/// Which reference site the rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReferenceChoice {
    /// The distal reference (falls back to the proximal one when missing).
    Distal,
    /// The proximal reference (falls back to the distal one when missing).
    Proximal,
    /// The mean of both (or the one available).
    Mean,
}

/// How the target diameter is rounded to the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rounding {
    /// Largest size not above the target.
    Down,
    /// Nearest size (ties go down).
    Nearest,
}

/// The sizing rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalloonRule {
    /// Diameter sized to.
    pub basis: SizingBasis,
    /// Reference site.
    pub reference: ReferenceChoice,
    /// Balloon-to-diameter ratio (1.0 = 1:1).
    pub ratio: f64,
    /// Rounding to the catalogue.
    pub rounding: Rounding,
    /// Available sizes, mm, ascending.
    pub catalogue_mm: Vec<f64>,
}

impl Default for BalloonRule {
    fn default() -> Self {
        Self {
            basis: SizingBasis::Vessel,
            reference: ReferenceChoice::Distal,
            ratio: 1.0,
            rounding: Rounding::Down,
            catalogue_mm: DEFAULT_CATALOGUE_MM.to_vec(),
        }
    }
}

impl BalloonRule {
    /// Checks ratio and catalogue; sorts and de-duplicates the catalogue.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a ratio outside (0, 2] or an empty / non-positive catalogue.
    pub fn validated(mut self) -> Result<Self, Error> {
        check_positive("balloon_ratio", self.ratio)?;
        if self.ratio > 2.0 {
            return Err(Error::param("balloon_ratio", format!("must be within (0, 2], got {}", self.ratio)));
        }
        if self.catalogue_mm.is_empty() {
            return Err(Error::param("balloon_catalogue", "needs at least one size"));
        }
        for &d in &self.catalogue_mm {
            check_positive("balloon_catalogue", d)?;
        }
        self.catalogue_mm.sort_by(f64::total_cmp);
        self.catalogue_mm.dedup();
        Ok(self)
    }

    /// The catalogue size for a measured diameter, or `None` when the target is below the
    /// smallest size (rounding down) or the diameter is missing.
    pub fn size_for(&self, diameter_mm: Option<f64>) -> Option<f64> {
        let target = diameter_mm.filter(|d| d.is_finite() && *d > 0.0)? * self.ratio;
        // Tolerance of 1e-9 mm: a target equal to a size picks that size.
        match self.rounding {
            Rounding::Down => self.catalogue_mm.iter().rev().copied().find(|&s| s <= target + 1e-9),
            Rounding::Nearest => self
                .catalogue_mm
                .iter()
                .copied()
                .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()).then(a.total_cmp(b))),
        }
    }

    /// The size this rule gives for one frame's mean lumen and vessel diameters.
    pub fn size_for_frame(&self, lumen_mm: Option<f64>, vessel_mm: Option<f64>) -> Option<f64> {
        self.size_for(self.basis.diameter_mm(lumen_mm, vessel_mm))
    }

    /// One-line statement of the rule.
    pub fn describe(&self) -> String {
        let reference = match self.reference {
            ReferenceChoice::Distal => "distal reference (proximal if no distal one)",
            ReferenceChoice::Proximal => "proximal reference (distal if no proximal one)",
            ReferenceChoice::Mean => "mean of the proximal and distal references",
        };
        let rounding = match self.rounding {
            Rounding::Down => "rounded down",
            Rounding::Nearest => "rounded to the nearest size",
        };
        let cat: Vec<String> = self.catalogue_mm.iter().map(|d| format!("{d}")).collect();
        format!(
            "{} at the {reference} × {}, {rounding} to the catalogue {{{}}} mm",
            self.basis.name(),
            self.ratio,
            cat.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_down_and_nearest() {
        let r = BalloonRule::default();
        assert_eq!(r.size_for(Some(2.49)), Some(2.0));
        assert_eq!(r.size_for(Some(2.5)), Some(2.5));
        assert_eq!(r.size_for(Some(9.0)), Some(4.0));
        assert_eq!(r.size_for(Some(1.4)), None);
        assert_eq!(r.size_for(None), None);
        let n = BalloonRule { rounding: Rounding::Nearest, ..BalloonRule::default() };
        assert_eq!(n.size_for(Some(2.74)), Some(2.5));
        assert_eq!(n.size_for(Some(2.76)), Some(3.0));
        assert_eq!(n.size_for(Some(2.75)), Some(2.5));
        let half = BalloonRule { ratio: 0.9, ..BalloonRule::default() };
        assert_eq!(half.size_for(Some(2.9)), Some(2.5));
    }

    #[test]
    fn bases_and_validation() {
        assert_eq!(SizingBasis::MidWall.diameter_mm(Some(2.0), Some(3.0)), Some(2.5));
        assert_eq!(SizingBasis::MidWall.diameter_mm(None, Some(3.0)), None);
        assert!(BalloonRule { catalogue_mm: vec![], ..BalloonRule::default() }.validated().is_err());
        assert!(BalloonRule { ratio: 0.0, ..BalloonRule::default() }.validated().is_err());
        let r = BalloonRule { catalogue_mm: vec![3.0, 2.0, 2.0], ..BalloonRule::default() }.validated().unwrap();
        assert_eq!(r.catalogue_mm, vec![2.0, 3.0]);
        assert!(BalloonRule::default().describe().contains("rounded down"));
    }
}
