use truelumen::{Calibration, CartImage, Pipeline, PipelineConfig};
fn main() {
    let mut p = Pipeline::new(PipelineConfig::default()).unwrap();
    let mut x = 1u64;
    let noise = CartImage::from_fn(512, 512, |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 200) as f32
    });
    let black = CartImage::zeros(512, 512);
    let flat = CartImage::from_fn(512, 512, |_, _| 100.0);
    for (name, img) in [("noise", &noise), ("black", &black), ("flat", &flat)] {
        let r = p.process(img, Calibration::Cartesian { mm_per_px: 0.02 }, 0, name).unwrap();
        println!(
            "{name}: lumen {:?} vessel {:?} wire {:?} flags {:?} contrast {} {}",
            r.lumen.as_ref().map(|l| l.area_mm2),
            r.vessel.as_ref().map(|l| l.area_mm2),
            r.guidewire.is_some(),
            r.quality.flags,
            r.quality.lumen_contrast,
            r.quality.vessel_contrast
        );
    }
}
