//! Frames with nothing to find must give results with quality flags, never a panic or an
//! invented border; invalid frames must give errors.

use truelumen::report::QualityFlag;
use truelumen::{Calibration, CartImage, Error, Pipeline, PipelineConfig, PolarGeometry};

fn pipeline() -> Pipeline {
    Pipeline::new(PipelineConfig::default()).unwrap()
}

#[test]
fn blank_and_flat_frames_report_no_lumen() {
    let mut p = pipeline();
    for (name, value) in [("black", 0.0), ("grey", 100.0), ("white", 255.0)] {
        let img = CartImage::from_fn(256, 256, |_, _| value);
        let r = p.process(&img, Calibration::Cartesian { mm_per_px: 0.02 }, 0, name).unwrap();
        assert!(r.lumen.is_none() && r.vessel.is_none() && r.guidewire.is_none(), "{name}: {r:?}");
        assert!(r.plaque_burden.is_none(), "{name}");
        for f in [QualityFlag::NoLumenFound, QualityFlag::NoVesselFound, QualityFlag::CatheterNotFound] {
            assert!(r.quality.has(f), "{name}: {:?}", r.quality.flags);
        }
    }
}

#[test]
fn noise_frame_gives_finite_numbers() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let img = CartImage::from_fn(300, 280, |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 256) as f32
    });
    let r = pipeline().process(&img, Calibration::Cartesian { mm_per_px: 0.03 }, 3, "noise").unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("NaN") && !json.contains("null,\"vessel\":{\"contour_mm\":[]"), "{json}");
    for region in [&r.lumen, &r.vessel].into_iter().flatten() {
        assert!(region.area_mm2.is_finite() && region.area_mm2 > 0.0);
        assert!(region.contour_mm.points_mm.iter().flatten().all(|v| v.is_finite()));
    }
}

#[test]
fn invalid_frames_are_errors() {
    let mut p = pipeline();
    let small = CartImage::zeros(16, 16);
    assert!(matches!(
        p.process(&small, Calibration::Cartesian { mm_per_px: 0.02 }, 0, "small"),
        Err(Error::FrameTooSmall { .. })
    ));
    let mut nan = CartImage::from_fn(64, 64, |_, _| 10.0);
    *nan.get_mut(3, 3) = f32::NAN;
    assert!(matches!(
        p.process(&nan, Calibration::Cartesian { mm_per_px: 0.02 }, 0, "nan"),
        Err(Error::InvalidParam { .. })
    ));
    let ok = CartImage::from_fn(64, 64, |_, _| 10.0);
    for bad in [0.0, -0.01, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            p.process(&ok, Calibration::Cartesian { mm_per_px: bad }, 0, "calib"),
            Err(Error::InvalidParam { .. })
        ));
    }
    let g = PolarGeometry::new(64, 32, 0.05).unwrap();
    assert!(matches!(p.process(&ok, Calibration::Polar(g), 0, "polar"), Err(Error::FrameShape { .. })));
}
