//! `truelumen score`: the J-BTK CTO score from the five items given on the command line.

use crate::pullback_args::tri;
use clap::Args;
use truelumen::Error;
use truelumen::pullback::jbtk::{self, Grade, JbtkItems};

#[derive(Args)]
pub(crate) struct ScoreArgs {
    /// Blunt-type proximal stump (1 point)
    #[arg(long, conflicts_with = "tapered_stump")]
    blunt_stump: bool,
    /// Tapered proximal stump (0 points)
    #[arg(long)]
    tapered_stump: bool,
    /// Calcification at the proximal entry point (1 point)
    #[arg(long, conflicts_with = "no_calcified_entry")]
    calcified_entry: bool,
    /// No calcification at the proximal entry point (0 points)
    #[arg(long)]
    no_calcified_entry: bool,
    /// Reference vessel diameter, mm (1 point when < 2.0 mm)
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    rvd_mm: Option<f64>,
    /// CTO length, mm (1 point when > 200 mm)
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    length_mm: Option<f64>,
    /// No outflow of the target vessel (2 points)
    #[arg(long, conflicts_with = "outflow")]
    no_outflow: bool,
    /// The target vessel has outflow (0 points)
    #[arg(long)]
    outflow: bool,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub(crate) fn score(a: &ScoreArgs) -> anyhow::Result<()> {
    for (name, v) in [("rvd_mm", a.rvd_mm), ("length_mm", a.length_mm)] {
        if let Some(v) = v
            && !(v.is_finite() && v > 0.0)
        {
            return Err(Error::param(name, format!("must be a finite number > 0, got {v}")).into());
        }
    }
    let items = JbtkItems {
        blunt_stump: tri(a.blunt_stump, a.tapered_stump),
        entry_calcification: tri(a.calcified_entry, a.no_calcified_entry),
        rvd_below_2mm: a.rvd_mm.map(jbtk::rvd_item),
        length_over_200mm: a.length_mm.map(jbtk::length_item),
        no_outflow: tri(a.no_outflow, a.outflow),
    };
    let s = jbtk::score(&items);
    let grades: Vec<Grade> = [Grade::A, Grade::B, Grade::C, Grade::D]
        .into_iter()
        .filter(|g| *g >= s.grade_min && *g <= s.grade_max)
        .collect();
    if a.json {
        let rates: Vec<serde_json::Value> = grades
            .iter()
            .map(|g| {
                let (t, h) = g.published_success_pct();
                serde_json::json!({"grade": g.letter(), "tan_2021_pct": t, "hayakawa_2023_pct": h})
            })
            .collect();
        let doc = serde_json::json!({
            "items": items, "points_min": s.points_min, "points_max": s.points_max,
            "grade": s.grade().map(|g| g.letter()), "grade_min": s.grade_min.letter(), "grade_max": s.grade_max.letter(),
            "missing_items": s.missing_items, "text": s.describe(), "published_success": rates,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("J-BTK CTO score (Tan et al., J Vasc Surg 2021;74:506-13)");
    for (name, pts, v) in jbtk::item_table(&items) {
        let v = match v {
            Some(true) => format!("yes  +{pts}"),
            Some(false) => "no   +0".to_string(),
            None => format!("not given (0 or {pts})"),
        };
        println!("  {name:<45} {v}");
    }
    println!("score: {}", s.describe());
    for g in grades {
        let (t, h) = g.published_success_pct();
        println!(
            "  grade {}: guidewire success {t} % (Tan et al. 2021, conventional), {h} % (Hayakawa et al. 2023, IVUS-guided)",
            g.letter()
        );
    }
    Ok(())
}
