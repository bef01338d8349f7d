//! Replays the fuzzing regression corpus: every file under `tests/regressions/<target>/` goes
//! through the same harness as the libFuzzer target `<target>` in `tools/fuzz/`
//! (`tests/regressions/harness.rs`), which panics when an invariant is broken. Each file there is
//! an input that once crashed, hung or misbehaved (see `tests/regressions/README.md`), or a seed
//! worth keeping.

#[path = "regressions/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn regression_corpus_replays_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut total = 0;
    for (name, run) in harness::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} breaks an invariant (see the panic above)", f.display());
        }
        println!("{name}: {} inputs replayed", files.len());
        total += files.len();
    }
    assert!(total > 0, "empty regression corpus");
}

/// Writes the committed seed inputs of the `image` fuzz target (`tools/fuzz/seeds/image/`): a
/// 40x40 frame in each format, prefixed with the byte that selects the file extension. Run
/// with `cargo test --release --test regressions -- --ignored` after changing the harness input
/// layout.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    use image::ImageFormat::{Bmp, Jpeg, Png, Tiff};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/fuzz/seeds/image");
    std::fs::create_dir_all(&dir).unwrap();
    let img = image::GrayImage::from_fn(40, 40, |x, y| image::Luma([((x * 5 + y * 3) % 200) as u8 + 20]));
    let rgb = image::DynamicImage::ImageLuma8(img.clone()).to_rgb8();
    let l16 = image::DynamicImage::ImageLuma8(img.clone()).to_luma16();
    let cases: [(&str, u8, image::ImageFormat, image::DynamicImage); 6] = [
        ("grey.png", 0, Png, img.clone().into()),
        ("grey16.png", 0, Png, l16.clone().into()),
        ("grey.tif", 1, Tiff, img.clone().into()),
        ("rgb.tif", 1, Tiff, rgb.clone().into()),
        ("grey.jpg", 3, Jpeg, img.clone().into()),
        ("rgb.bmp", 5, Bmp, rgb.into()),
    ];
    for (name, ext, fmt, im) in cases {
        let mut buf = std::io::Cursor::new(vec![ext]);
        buf.set_position(1);
        im.write_to(&mut buf, fmt).unwrap();
        std::fs::write(dir.join(name), buf.into_inner()).unwrap();
    }
}
