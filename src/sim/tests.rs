use super::scene::Scene;
use super::*;

#[test]
#[ignore]
fn debug_dump_scatterers() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let spec = PhantomSpec::random(seed);
    let scene = Scene::new(&spec);
    let n = 512;
    let nf = (spec.depth_mm / 0.01) as usize;
    let mut img = CartImage::zeros(n, nf);
    for j in 0..n {
        let ang = j as f64 * 360.0 / n as f64;
        let mut rng = rng::Rng::new(j as u64);
        let mut row = vec![0.0f32; nf];
        scene.fill_line(ang, 0.01, &mut rng, &mut row);
        for (k, v) in row.iter().enumerate() {
            *img.get_mut(j, k) = (v.abs().max(1e-3).log10() * 60.0 + 150.0).clamp(0.0, 255.0);
        }
    }
    img.to_gray_image().save("/tmp/scat.png").unwrap();
}

#[test]
#[ignore]
fn debug_ray() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let ang: f64 = std::env::var("ANG").ok().and_then(|s| s.parse().ok()).unwrap_or(180.0);
    let spec = PhantomSpec::random(seed);
    let scene = Scene::new(&spec);
    let (s, c) = ang.to_radians().sin_cos();
    let mut last = None;
    for k in 0..600 {
        let z = k as f64 * 0.005;
        let t = scene.tissue([z * c, z * s]);
        if Some(t) != last {
            println!("{z:.3} {t:?} echo {:.3}", scene.echo([z * c, z * s], t));
            last = Some(t);
        }
    }
}

#[test]
#[ignore]
fn debug_profile() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let ang: f64 = std::env::var("ANG").ok().and_then(|s| s.parse().ok()).unwrap_or(180.0);
    let spec = PhantomSpec::random(seed);
    let p = simulate(&spec).unwrap();
    let l = p.polar_geom.line_of_angle_deg(ang).round() as usize % spec.n_lines;
    let row = p.polar.row(l);
    for s in (0..spec.n_samples).step_by(4) {
        let z = p.polar_geom.depth_mm_of_sample(s as f64);
        print!("{z:.2}:{} ", row[s..s + 4].iter().sum::<f32>() / 4.0);
    }
    println!();
}
