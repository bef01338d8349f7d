//! The pipeline's output depends only on its input frame: not on the rayon thread count, not on
//! which frames a reused [`Pipeline`] saw before (scratch buffers), not on repetition.
//!
//! Frames: 12 random phantoms ([`PhantomSpec::random`], seeds 100–111) with a 256x256 Cartesian
//! image (catheter offset scaled with the side) to keep the test fast; every third frame is fed
//! in polar form ([`Calibration::Polar`], 256 or 512 A-lines x 256–512 samples), the others in
//! Cartesian form, so sizes and calibrations change from frame to frame. Random specs vary
//! gain, anatomy, wires, calcium and occlusion, so lumen-found/not-found paths are mixed.
//!
//! Tolerance: none. Results are compared as their `serde_json` text, byte for byte, so any
//! change in float reduction order shows up.

use truelumen::pipeline::{BatchFrame, process_batch};
use truelumen::report::FrameResult;
use truelumen::sim::{PhantomSpec, simulate};
use truelumen::{Calibration, Error, Pipeline, PipelineConfig};

const SIDE: usize = 256;

fn frames() -> Vec<BatchFrame> {
    (0..12)
        .map(|i| {
            let mut s = PhantomSpec::random(100 + i as u64);
            let scale = SIDE as f64 / s.image_side_px as f64;
            s.catheter_offset_px = s.catheter_offset_px.map(|v| v * scale);
            s.image_side_px = SIDE;
            let ph = simulate(&s).expect("valid phantom spec");
            let (image, calib) = if i % 3 == 2 {
                (ph.polar, Calibration::Polar(ph.polar_geom))
            } else {
                (ph.cart, Calibration::Cartesian { mm_per_px: ph.mm_per_px })
            };
            BatchFrame { image, calib, index: i, source: format!("phantom_seed{}", 100 + i) }
        })
        .collect()
}

/// Canonical text of one frame's outcome.
fn text(r: &Result<FrameResult, Error>) -> String {
    match r {
        Ok(r) => serde_json::to_string(r).unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

fn process_one(p: &mut Pipeline, f: &BatchFrame) -> String {
    text(&p.process(&f.image, f.calib, f.index, &f.source))
}

/// One test, so the phantoms are simulated once.
#[test]
fn results_do_not_depend_on_threads_order_or_reuse() {
    let frames = frames();
    let config = PipelineConfig::default();

    // (a) process_batch on pools of 1, 2 and 4 threads; process_batch_timed on 8.
    let batches: Vec<Vec<String>> = [1, 2, 4, 8]
        .into_iter()
        .map(|n| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
            let out = if n == 8 {
                let times = truelumen::timing::SharedStageTimes::new();
                let out = pool.install(|| truelumen::pipeline::process_batch_timed(&config, &frames, &times)).unwrap();
                let ok = out.iter().filter(|r| r.is_ok()).count();
                assert_eq!(times.snapshot().frames as usize, ok, "every analysed frame timed once");
                out
            } else {
                pool.install(|| process_batch(&config, &frames)).unwrap()
            };
            assert_eq!(out.len(), frames.len());
            out.iter().map(text).collect()
        })
        .collect();
    let ok = batches[0].iter().filter(|t| !t.starts_with("error")).count();
    assert!(ok >= frames.len() - 1, "most phantom frames should be analysable: {:?}", batches[0]);
    for (k, n) in [(1, 2), (2, 4), (3, 8)] {
        for (i, (a, b)) in batches[0].iter().zip(&batches[k]).enumerate() {
            assert_eq!(a, b, "frame {i}: 1 thread vs {n} threads");
        }
    }

    // (b) a fresh pipeline per frame, in input order...
    let fresh: Vec<String> =
        frames.iter().map(|f| process_one(&mut Pipeline::new(config.clone()).unwrap(), f)).collect();
    // ...equals one reused pipeline fed the frames in a different order (reversed, then
    // interleaved), so each frame meets scratch buffers left by a frame of another size.
    let mut order: Vec<usize> = (0..frames.len()).rev().collect();
    order.sort_by_key(|&i| (i % 2, std::cmp::Reverse(i)));
    let mut reused = Pipeline::new(config.clone()).unwrap();
    let mut shuffled = vec![String::new(); frames.len()];
    for &i in &order {
        shuffled[i] = process_one(&mut reused, &frames[i]);
    }
    for i in 0..frames.len() {
        assert_eq!(fresh[i], shuffled[i], "frame {i}: fresh pipeline vs reused pipeline (order {order:?})");
        assert_eq!(fresh[i], batches[0][i], "frame {i}: serial vs process_batch");
    }

    // (c) the same frame twice in a row, and again after the others.
    for (i, f) in frames.iter().enumerate() {
        let again = process_one(&mut reused, f);
        let twice = process_one(&mut reused, f);
        assert_eq!(again, twice, "frame {i}: processed twice in a row");
        assert_eq!(again, fresh[i], "frame {i}: repeated on a reused pipeline");
    }
}

/// The CLI end to end: `analyze` on the same folder with 1, 2 and 8 worker threads, and twice
/// with 2, writes byte-identical results.json and measurements.csv (chunking, parallel decoding
/// and parallel overlay writing must not reorder or change anything).
#[test]
fn analyze_output_is_byte_identical_for_any_thread_count() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("frames");
    let sim = std::process::Command::new(env!("CARGO_BIN_EXE_truelumen"))
        .args(["simulate", "--count", "10", "--seed", "300", "--side", "160", "--out"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(sim.status.success(), "{}", String::from_utf8_lossy(&sim.stderr));
    let run = |threads: &str, tag: &str| {
        let out = t.path().join(format!("out_{tag}"));
        let r = std::process::Command::new(env!("CARGO_BIN_EXE_truelumen"))
            .args(["analyze", "-q", "--threads", threads, "--out"])
            .arg(&out)
            .arg(&input)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        (std::fs::read(out.join("results.json")).unwrap(), std::fs::read(out.join("measurements.csv")).unwrap())
    };
    let reference = run("1", "1");
    let doc: truelumen::report::Results = serde_json::from_slice(&reference.0).unwrap();
    assert_eq!(doc.frames.len(), 10);
    for (threads, tag) in [("2", "2"), ("8", "8"), ("2", "2again")] {
        let other = run(threads, tag);
        assert!(other.0 == reference.0, "results.json differs with {threads} threads ({tag})");
        assert!(other.1 == reference.1, "measurements.csv differs with {threads} threads ({tag})");
    }
}
