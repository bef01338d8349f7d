//! The J-BTK CTO score for below-the-knee chronic total occlusions.
//!
//! T.-W. Tan et al. (J-BTK CTO registry), "Japanese below-the-knee chronic total occlusion
//! score to predict guidewire crossing", J. Vasc. Surg. 74(2):506–513, 2021. Five items:
//!
//! | item | points |
//! |---|---|
//! | blunt-type proximal stump (entry) | 1 |
//! | calcification at the proximal entry point | 1 |
//! | reference vessel diameter < 2.0 mm | 1 |
//! | CTO length > 200 mm | 1 |
//! | no outflow of the target vessel | 2 |
//!
//! Grade A = 0–1, B = 2–3, C = 4–5, D = 6 points. Published guidewire success by grade: Tan et
//! al. (conventional wiring) A 97.3 %, B 76.8 %, C 19.3 %, D 0 %; Hayakawa et al., CVIR
//! Endovascular 2023 (IVUS-guided wiring) A 100 %, B 100 %, C 91.7 %, D 0 %.
//!
//! The thresholds are strict: an RVD of exactly 2.0 mm and a length of exactly 200 mm score 0.
//! An item that is not known (`None`) is *not* counted as absent: [`score`] returns the range of
//! points and grades the missing items allow, and a single grade only when the range is one grade.

use serde::{Deserialize, Serialize};

/// RVD threshold: the item scores when the RVD is strictly below it, mm.
pub const RVD_THRESHOLD_MM: f64 = 2.0;
/// Length threshold: the item scores when the CTO is strictly longer, mm.
pub const LENGTH_THRESHOLD_MM: f64 = 200.0;

/// The five items; `None` = not given / not measurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JbtkItems {
    /// Blunt-type proximal stump (1 point).
    pub blunt_stump: Option<bool>,
    /// Calcification at the proximal entry point (1 point).
    pub entry_calcification: Option<bool>,
    /// Reference vessel diameter < 2.0 mm (1 point).
    pub rvd_below_2mm: Option<bool>,
    /// CTO length > 200 mm (1 point).
    pub length_over_200mm: Option<bool>,
    /// No outflow of the target vessel (2 points).
    pub no_outflow: Option<bool>,
}

/// The RVD item from a diameter (strict: exactly 2.0 mm does not score).
pub fn rvd_item(rvd_mm: f64) -> bool {
    rvd_mm < RVD_THRESHOLD_MM
}

/// The length item from a length (strict: exactly 200 mm does not score).
pub fn length_item(length_mm: f64) -> bool {
    length_mm > LENGTH_THRESHOLD_MM
}

/// J-BTK grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grade {
    /// 0–1 points.
    A,
    /// 2–3 points.
    B,
    /// 4–5 points.
    C,
    /// 6 points.
    D,
}

impl Grade {
    /// Grade of a point total (0–6).
    pub fn of_points(points: u32) -> Grade {
        match points {
            0 | 1 => Grade::A,
            2 | 3 => Grade::B,
            4 | 5 => Grade::C,
            _ => Grade::D,
        }
    }

    /// Published guidewire success for this grade, percent: `(Tan et al. 2021 conventional,
    /// Hayakawa et al. 2023 IVUS-guided)`.
    pub fn published_success_pct(self) -> (f64, f64) {
        match self {
            Grade::A => (97.3, 100.0),
            Grade::B => (76.8, 100.0),
            Grade::C => (19.3, 91.7),
            Grade::D => (0.0, 0.0),
        }
    }

    /// `"A"`…`"D"`.
    pub fn letter(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
}

/// A score: exact when every item is known, else the range the missing items allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JbtkScore {
    /// Points counting missing items as absent.
    pub points_min: u32,
    /// Points counting missing items as present.
    pub points_max: u32,
    /// Grade of `points_min`.
    pub grade_min: Grade,
    /// Grade of `points_max`.
    pub grade_max: Grade,
    /// Number of items not given.
    pub missing_items: u32,
}

impl JbtkScore {
    /// The grade when it is determined (all items known, or the range stays in one grade).
    pub fn grade(&self) -> Option<Grade> {
        (self.grade_min == self.grade_max).then_some(self.grade_min)
    }

    /// `"B (3 points)"`, or `"A–C (1–4 points; 2 items not given)"`.
    pub fn describe(&self) -> String {
        let pts = if self.points_min == self.points_max {
            format!("{} points", self.points_min)
        } else {
            format!("{}–{} points", self.points_min, self.points_max)
        };
        let missing = match self.missing_items {
            0 => String::new(),
            1 => "; 1 item not given".to_string(),
            n => format!("; {n} items not given"),
        };
        match self.grade() {
            Some(g) => format!("{} ({pts}{missing})", g.letter()),
            None => format!("{}–{} ({pts}{missing})", self.grade_min.letter(), self.grade_max.letter()),
        }
    }
}

/// Item names, points and values in table order.
pub fn item_table(items: &JbtkItems) -> [(&'static str, u32, Option<bool>); 5] {
    [
        ("blunt-type proximal stump", 1, items.blunt_stump),
        ("calcification at the proximal entry point", 1, items.entry_calcification),
        ("reference vessel diameter < 2.0 mm", 1, items.rvd_below_2mm),
        ("CTO length > 200 mm", 1, items.length_over_200mm),
        ("no outflow of the target vessel", 2, items.no_outflow),
    ]
}

/// Scores the items.
pub fn score(items: &JbtkItems) -> JbtkScore {
    let (mut lo, mut hi, mut missing) = (0, 0, 0);
    for (_, pts, v) in item_table(items) {
        match v {
            Some(true) => {
                lo += pts;
                hi += pts;
            }
            Some(false) => {}
            None => {
                hi += pts;
                missing += 1;
            }
        }
    }
    JbtkScore {
        points_min: lo,
        points_max: hi,
        grade_min: Grade::of_points(lo),
        grade_max: Grade::of_points(hi),
        missing_items: missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_cases_with_boundaries() {
        // (blunt, calcium, rvd_mm, length_mm, no_outflow) -> (points, grade)
        let cases: &[(bool, bool, f64, f64, bool, u32, Grade)] = &[
            (false, false, 2.5, 100.0, false, 0, Grade::A),
            (false, false, 2.0, 200.0, false, 0, Grade::A), // exactly at both thresholds
            (false, false, 1.999, 200.0, false, 1, Grade::A),
            (false, false, 2.0, 200.001, false, 1, Grade::A),
            (true, false, 1.99, 100.0, false, 2, Grade::B),
            (true, true, 2.0, 200.0, false, 2, Grade::B),
            (false, false, 2.0, 200.0, true, 2, Grade::B),
            (true, true, 1.5, 150.0, false, 3, Grade::B),
            (true, true, 1.9, 250.0, false, 4, Grade::C),
            (false, true, 2.0, 201.0, true, 4, Grade::C),
            (true, true, 1.8, 200.0, true, 5, Grade::C),
            (true, false, 1.8, 250.0, true, 5, Grade::C),
            (true, true, 1.8, 250.0, true, 6, Grade::D),
        ];
        for &(blunt, calc, rvd, len, no_out, pts, grade) in cases {
            let items = JbtkItems {
                blunt_stump: Some(blunt),
                entry_calcification: Some(calc),
                rvd_below_2mm: Some(rvd_item(rvd)),
                length_over_200mm: Some(length_item(len)),
                no_outflow: Some(no_out),
            };
            let s = score(&items);
            assert_eq!((s.points_min, s.points_max, s.grade()), (pts, pts, Some(grade)), "{items:?}");
        }
    }

    #[test]
    fn missing_items_give_a_range() {
        let items = JbtkItems { rvd_below_2mm: Some(true), length_over_200mm: Some(false), ..Default::default() };
        let s = score(&items);
        assert_eq!((s.points_min, s.points_max, s.missing_items), (1, 5, 3));
        assert_eq!((s.grade_min, s.grade_max, s.grade()), (Grade::A, Grade::C, None));
        assert_eq!(s.describe(), "A–C (1–5 points; 3 items not given)");
        // A range inside one grade is still a grade.
        let items = JbtkItems { blunt_stump: None, ..JbtkItems { rvd_below_2mm: Some(true), ..all_false() } };
        assert_eq!(score(&items).grade(), None); // 1–2 points: A or B
        let items = JbtkItems {
            blunt_stump: None,
            ..JbtkItems { rvd_below_2mm: Some(true), entry_calcification: Some(true), ..all_false() }
        };
        assert_eq!(score(&items).grade(), Some(Grade::B)); // 2–3 points
    }

    fn all_false() -> JbtkItems {
        JbtkItems {
            blunt_stump: Some(false),
            entry_calcification: Some(false),
            rvd_below_2mm: Some(false),
            length_over_200mm: Some(false),
            no_outflow: Some(false),
        }
    }

    #[test]
    fn published_rates() {
        assert_eq!(Grade::A.published_success_pct(), (97.3, 100.0));
        assert_eq!(Grade::B.published_success_pct(), (76.8, 100.0));
        assert_eq!(Grade::C.published_success_pct(), (19.3, 91.7));
        assert_eq!(Grade::D.published_success_pct(), (0.0, 0.0));
    }
}
