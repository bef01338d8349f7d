use truelumen::*;
fn main() {
    let side = 512; let mmpp = 0.02; let c = 255.5 + 20.0;
    let mut seed = 12345u64;
    let mut rnd = move || { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; (seed % 1000) as f32 / 1000.0 };
    let wire = [0.9 * 60f64.to_radians().cos(), 0.9 * 60f64.to_radians().sin()];
    let img = CartImage::from_fn(side, side, |r, col| {
        let x = (col as f64 - c) * mmpp; let y = -(r as f64 - (c - 20.0)) * mmpp;
        let rr = x.hypot(y);
        let a = y.atan2(x);
        let wa = wire[1].atan2(wire[0]);
        let in_shadow = (a - wa).abs() < 0.2 && rr > 0.9;
        let dl = (x - 0.2).hypot(y);
        let n = rnd();
        let mut v = if rr < 0.45 { 5.0 } else if rr < 0.55 { 220.0 } else if dl < 1.0 { 20.0 + 30.0 * n } else if dl < 1.5 { 90.0 + 60.0 * n } else if dl < 1.65 { 25.0 + 20.0 * n } else if dl < 2.1 { 170.0 + 60.0 * n } else { 60.0 + 50.0 * n };
        if ((x - wire[0]).hypot(y - wire[1]) - 0.18).abs() < 0.04 && (x*wire[0]+y*wire[1]) < 0.81 { v = 250.0; }
        else if in_shadow && (x*wire[0]+y*wire[1]) > 0.85 { v = 8.0 * n; }
        v
    });
    img.to_gray_image().save("/tmp/crude.png").unwrap();
    timing(&img);
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let t = std::time::Instant::now();
    let mut res = p.process(&img, Calibration::Cartesian { mm_per_px: mmpp }, 0, "crude").unwrap();
    let t2 = std::time::Instant::now(); for _ in 0..10 { res = p.process(&img, Calibration::Cartesian { mm_per_px: mmpp }, 0, "crude").unwrap(); } eprintln!("process {:?}", t2.elapsed()/10);
    eprintln!("{:?}", t.elapsed());
    let mut r2 = res.clone();
    if let Some(l) = r2.lumen.as_mut() { l.contour_mm.points_mm.truncate(2); }
    if let Some(l) = r2.vessel.as_mut() { l.contour_mm.points_mm.truncate(2); }
    println!("{}", serde_json::to_string_pretty(&r2).unwrap());
    p.last_polar().to_gray_image().save("/tmp/crude_polar.png").unwrap();
}
#[allow(dead_code)]
fn timing(img: &CartImage) {
    let t = std::time::Instant::now();
    for _ in 0..10 { let _ = truelumen::catheter::find_catheter(img, 0.02, &Default::default()); }
    eprintln!("catheter {:?}", t.elapsed() / 10);
}
