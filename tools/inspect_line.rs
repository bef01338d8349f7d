//! Prints, for one tuning phantom (seed, 512 px / 10 mm like the fixtures) and one A-line of the
//! pipeline's polar frame (line l at l degrees), the normalised intensity and the lumen and vessel
//! cost along depth next to the true border positions: what the border search saw.
//! `cargo run --release --example inspect_line -- SEED LINE`; `CTO=1`: the chronic-total-occlusion
//! scene of that seed (`PhantomSpec::random_cto`) at its drawn size instead; `WIRELINES=1`: the
//! shadow measures of the 20 lines either side too.
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Pipeline, PipelineConfig};
fn main() {
    let seed: u64 = std::env::args().nth(1).unwrap().parse().unwrap();
    let line: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let mut spec = PhantomSpec::random(seed);
    if std::env::var("CTO").is_ok() {
        spec = PhantomSpec::random_cto(seed);
    } else {
        let f = 512.0 / spec.image_side_px as f64;
        spec.catheter_offset_px = [spec.catheter_offset_px[0] * f, spec.catheter_offset_px[1] * f];
        spec.image_side_px = 512;
        spec.fov_mm = 10.0;
    }
    let ph = simulate(&spec).unwrap();
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let r = p.process(&ph.cart, Calibration::Cartesian { mm_per_px: ph.mm_per_px }, 0, "").unwrap();
    if std::env::var("WIRELINES").is_ok() {
        let sh = p.last_shadows();
        for l in line.saturating_sub(20)..(line + 20).min(sh.depth.len()) {
            println!("line {l} peak {} depth {:.2} prom {:.2}", sh.peak[l], sh.depth[l], sh.prom[l]);
        }
    }
    let seg = p.last_segmentation();
    println!(
        "cath r {} stats {:?} lumen@line {} vessel@line {}",
        r.catheter_radius_mm, seg.stats, seg.borders.lumen[line], seg.borders.vessel[line]
    );
    // truth radius along this line (pipeline polar: line l at l deg)
    let a = (line as f64).to_radians();
    let t = &ph.truth;
    let d = [
        (r.center_px[0] - t.catheter_center_px[0]) * ph.mm_per_px,
        -(r.center_px[1] - t.catheter_center_px[1]) * ph.mm_per_px,
    ];
    let mut tl = 0;
    let mut tv = 0;
    for k in 0..300 {
        let rr = k as f64 * ph.mm_per_px;
        let q = [rr * a.cos() + d[0], rr * a.sin() + d[1]];
        if t.lumen.contains(q) {
            tl = k;
        }
        if t.vessel.contains(q) {
            tv = k;
        }
    }
    println!("truth lumen {} vessel {}", tl + 1, tv + 1);
    for s in 15..(tv + 20).min(250) {
        println!(
            "{s:3} J {:5.2} cl {:6.3} cv {:6.3}",
            seg.norm.get(line, s),
            seg.cost.get(line, s),
            seg.cost_v.get(line, s)
        );
    }
}
