//! `report.html`: one self-contained page (inline CSS, inline SVG plots, base64 PNG images).

use super::jbtk::Grade;
use super::report::{PullbackReport, Site, data_uri_png, esc, fmt_opt, lmode_png, role_color, row};
use crate::error::Error;
use plotters::prelude::*;
use std::fmt::Write as _;

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Format { path: "<report.html plot>".into(), reason: e.to_string() }
}

/// Finite runs of `(x, y)` so that missing values leave gaps.
fn runs(xs: &[f64], ys: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (&x, &y) in xs.iter().zip(ys) {
        if y.is_finite() {
            if let Some(r) = out.last_mut() {
                r.push((x, y));
            }
        } else if out.last().is_some_and(|r| !r.is_empty()) {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// One line plot of several series along the pullback, lesion shaded, key sites marked.
fn plot(r: &PullbackReport, title: &str, y_desc: &str, series: &[(&str, Vec<f64>, RGBColor)]) -> Result<String, Error> {
    let pos = &r.positions_mm;
    let x1 = pos.last().copied().unwrap_or(1.0).max(1e-6);
    let ymax =
        series.iter().flat_map(|(_, v, _)| v.iter().copied()).filter(|v| v.is_finite()).fold(0.0f64, f64::max).max(0.5)
            * 1.6; // headroom: the legend sits above the data
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(title, ("sans-serif", 18))
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x1, 0.0..ymax)
            .map_err(plot_err)?;
        let dir = match r.summary.frame_order {
            super::FrameOrder::DistalFirst => "distal → proximal",
            super::FrameOrder::ProximalFirst => "proximal → distal",
        };
        chart
            .configure_mesh()
            .x_desc(format!("position along the pullback, mm ({dir})"))
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        if let Some(l) = &r.summary.lesion {
            let (a, b) = (
                l.start_mm - 0.5 * r.summary.timing.frame_spacing_mm,
                l.end_mm + 0.5 * r.summary.timing.frame_spacing_mm,
            );
            chart
                .draw_series(std::iter::once(Rectangle::new([(a, 0.0), (b, ymax)], RGBColor(255, 222, 222).filled())))
                .map_err(plot_err)?
                .label("lesion (CTO)")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], RGBColor(255, 222, 222).filled()));
        }
        for (name, ys, color) in series {
            let color = *color;
            let mut first = true;
            for run in runs(pos, ys) {
                let s = chart.draw_series(LineSeries::new(run, color.stroke_width(2))).map_err(plot_err)?;
                if first {
                    s.label(*name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
                    first = false;
                }
            }
        }
        for k in &r.summary.key_frames {
            let c = role_color(&k.role);
            let c = RGBColor(c[0], c[1], c[2]);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(k.position_mm, 0.0), (k.position_mm, ymax)],
                    c.stroke_width(1),
                )))
                .map_err(plot_err)?
                .label(k.role.replace('_', " "))
                .legend(move |(x, y)| PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn site_rows(out: &mut String, name: &str, s: Option<&Site>) {
    let v = s.map_or("not found".to_string(), |s| {
        format!(
            "frame {} ({}) at {:.1} mm: lumen {} mm² / {} mm mean diameter, vessel {} mm² / {} mm, plaque burden {}",
            s.index,
            esc(&s.source),
            s.position_mm,
            fmt_opt(s.lumen_area_mm2, 2),
            fmt_opt(s.lumen_mean_diameter_mm, 2),
            fmt_opt(s.vessel_area_mm2, 2),
            fmt_opt(s.vessel_mean_diameter_mm, 2),
            fmt_opt(s.plaque_burden.map(|p| 100.0 * p), 0) + " %"
        )
    });
    row(out, name, &v);
}

/// Renders the page.
pub(crate) fn render(r: &PullbackReport) -> Result<String, Error> {
    let s = &r.summary;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>truelumen pullback report</title>\n<style>\n\
         body{{font-family:sans-serif;margin:24px;max-width:1000px;color:#222}} h1{{font-size:22px}} h2{{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}}\n\
         table{{border-collapse:collapse;margin:8px 0}} th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}} th{{background:#f4f4f4}}\n\
         .note{{background:#fff6d6;border:1px solid #e6c200;padding:8px;margin:8px 0}} .big{{font-size:20px;font-weight:bold}}\n\
         .thumbs{{display:flex;flex-wrap:wrap;gap:12px}} figure{{margin:0}} figcaption{{font-size:13px}} img.lmode{{width:100%;image-rendering:pixelated;border:1px solid #999}}\n\
         .warn{{color:#a00}}</style></head><body>\n<h1>IVUS pullback report</h1>\n<p>{} · {} frames · results are measurements for a clinician to check, not decisions.</p>\n",
        esc(&s.generator),
        s.n_frames
    );
    for w in &s.warnings {
        let _ = writeln!(h, "<p class=\"warn\">⚠ {}</p>", esc(w));
    }

    // Summary table.
    h.push_str("<h2>Summary</h2>\n<table>\n");
    row(
        &mut h,
        "Timing",
        &esc(&format!(
            "{} frames/s, pullback {} mm/s → {:.4} mm per frame, {:.1} mm in total ({}{})",
            s.timing.fps,
            s.timing.pullback_mm_per_s,
            s.timing.frame_spacing_mm,
            s.timing.length_mm,
            s.timing.origin,
            if s.timing.frame_times_given { "; per-frame times given" } else { "" }
        )),
    );
    row(
        &mut h,
        "Frame order",
        match s.frame_order {
            super::FrameOrder::DistalFirst => "first frame distal (pullback toward proximal)",
            super::FrameOrder::ProximalFirst => "first frame proximal",
        },
    );
    row(
        &mut h,
        "Gating",
        &s.gating.as_ref().map_or("off (all frames used)".to_string(), |g| {
            format!(
                "heart rate <b>{:.0} beats/min</b> ({:.2} Hz), {} gated frames used",
                g.heart_rate_bpm,
                g.cardiac_frequency_hz,
                g.frames.len()
            )
        }),
    );
    row(
        &mut h,
        "Smoothing",
        &if s.smoothing.enabled {
            format!(
                "running median over {} frames ({} mm); {} outlier frames flagged",
                s.smoothing.window_frames,
                s.smoothing.window_mm,
                s.outlier_frames.len()
            )
        } else {
            format!("off; {} outlier frames flagged", s.outlier_frames.len())
        },
    );
    match &s.lesion {
        Some(l) => {
            row(
                &mut h,
                "Lesion (CTO)",
                &format!(
                    "<span class=\"big\">{:.1} mm</span> — frames {}–{} ({:.1}–{:.1} mm, {} frames, {} occluded); second guidewire seen in {} lesion frames; catheter subintimal (true lumen beside it) in {} lesion frames",
                    l.length_mm,
                    l.first_frame,
                    l.last_frame,
                    l.start_mm,
                    l.end_mm,
                    l.n_frames,
                    l.occluded_frames,
                    l.frames_with_guidewire,
                    l.subintimal_frames
                ),
            );
            row(
                &mut h,
                "Calcium at lesion entry",
                &format!(
                    "entry frame {}: largest arc {}° → {} <br><small>{}</small>",
                    l.entry_frame,
                    fmt_opt(l.entry_calcium_arc_deg, 0),
                    match l.entry_calcified {
                        Some(true) => "calcified",
                        Some(false) => "not calcified",
                        None => "unknown",
                    },
                    esc(&l.calcium_source)
                ),
            );
        }
        None => row(&mut h, "Lesion (CTO)", "none found"),
    }
    site_rows(&mut h, "Minimum lumen area (MLA, outside occluded frames)", s.mla.as_ref());
    site_rows(&mut h, "Proximal reference", s.proximal_reference.as_ref());
    site_rows(&mut h, "Distal reference", s.distal_reference.as_ref());
    row(
        &mut h,
        "Reference vessel diameter (RVD)",
        &format!("<span class=\"big\">{} mm</span> — {}", fmt_opt(s.rvd_mm, 2), esc(&s.rvd_definition)),
    );
    h.push_str("</table>\n");

    // Balloon.
    let b = &s.balloon;
    h.push_str("<h2>Balloon size</h2>\n");
    let _ = writeln!(h, "<div class=\"note\"><b>{}</b>.</div>", esc(&b.note));
    h.push_str("<table>\n");
    row(&mut h, "Rule", &esc(&b.rule_text));
    row(&mut h, "Reference used", &esc(&b.reference_used.join(" + ")));
    row(
        &mut h,
        "Suggested balloon",
        &format!(
            "<span class=\"big\">{}</span> (from {} {} mm)",
            b.suggested.size_mm.map_or("none (below the catalogue or no reference)".into(), |d| format!("{d} mm")),
            esc(b.suggested.basis.name()),
            fmt_opt(b.suggested.diameter_mm, 2)
        ),
    );
    for a in &b.alternatives {
        row(
            &mut h,
            &format!("Alternative: {}", a.basis.name()),
            &format!("{} mm → {}", fmt_opt(a.diameter_mm, 2), a.size_mm.map_or("none".into(), |d| format!("{d} mm"))),
        );
    }
    h.push_str("</table>\n");

    // J-BTK.
    let j = &s.jbtk;
    h.push_str("<h2>J-BTK CTO score</h2>\n<p>Tan et al., J Vasc Surg 2021;74:506–13. Items not given are counted both ways, so the grade is shown as a range until they are supplied.</p>\n<table><tr><th>item</th><th>points</th><th>present</th><th>source</th><th>from</th></tr>\n");
    for it in &j.items {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&it.item),
            it.points,
            match it.present {
                Some(true) => "yes",
                Some(false) => "no",
                None => "<i>not given</i>",
            },
            esc(&it.source),
            esc(&it.detail)
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(h, "<p>Score: <span class=\"big\">{}</span></p>", esc(&j.text));
    h.push_str("<table><tr><th>grade</th><th>guidewire success, Tan et al. 2021 (conventional)</th><th>Hayakawa et al. 2023 (IVUS-guided)</th></tr>\n");
    for (g, t, hy) in &j.published_success_pct {
        let _ = writeln!(h, "<tr><td>{}</td><td>{t} %</td><td>{hy} %</td></tr>", Grade::letter(*g));
    }
    h.push_str("</table>\n");

    // L-mode.
    let lpng = lmode_png(r)?;
    let _ = writeln!(
        h,
        "<h2>Longitudinal view</h2>\n<p>Cut at {}° through the catheter, ±{:.1} mm; lumen border cyan, vessel (EEM) orange; ticks: key frames (red MLA, green proximal reference, blue distal reference, magenta lesion entry). Left = first frame.</p>\n<img class=\"lmode\" alt=\"L-mode\" src=\"{}\">",
        r.lmode.angle_deg(),
        r.lmode.half_depth_mm(),
        data_uri_png(&lpng)
    );

    // Plots.
    let col = |f: &dyn Fn(&super::FrameRecord) -> f64| -> Vec<f64> { r.records.iter().map(f).collect() };
    h.push_str("<h2>Along the pullback</h2>\n");
    h.push_str(&plot(
        r,
        "Lumen and vessel area (per frame)",
        "area, mm²",
        &[
            ("lumen area", col(&|x| x.lumen_area_mm2), RGBColor(0, 150, 190)),
            ("vessel (EEM) area", col(&|x| x.vessel_area_mm2), RGBColor(230, 130, 0)),
        ],
    )?);
    h.push_str(&plot(
        r,
        "Mean diameters (per frame)",
        "diameter, mm",
        &[
            ("lumen mean diameter", col(&|x| x.lumen_mean_diameter_mm), RGBColor(0, 150, 190)),
            ("vessel mean diameter", col(&|x| x.vessel_mean_diameter_mm), RGBColor(230, 130, 0)),
        ],
    )?);

    // Key frames.
    h.push_str("<h2>Key frames</h2>\n<div class=\"thumbs\">\n");
    for (k, png) in s.key_frames.iter().zip(&r.thumbnails) {
        let _ = writeln!(
            h,
            "<figure><img alt=\"{}\" src=\"{}\"><figcaption>{} — frame {} at {:.1} mm</figcaption></figure>",
            esc(&k.role),
            data_uri_png(png),
            esc(&k.role.replace('_', " ")),
            k.index,
            k.position_mm
        );
    }
    h.push_str("</div>\n<p><small>Overlays: lumen cyan, vessel orange, catheter green, second guidewire red.</small></p>\n</body></html>\n");
    Ok(h)
}
