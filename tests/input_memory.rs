//! Streaming: reading every frame of a long DICOM pullback keeps memory at one frame, not one
//! pullback. A 400-frame 512x512 native file (105 MB) is written frame by frame, then read
//! through [`DicomSource`] in order and at random; the process's peak resident memory (VmHWM,
//! Linux) may grow by at most 30 MB (the file is 3.5x that). Its own test binary, so that no
//! other test's allocations count. The 10,000-frame CLI measurement is in the README ("Memory").

#[path = "../tools/dicom_writer.rs"]
mod dicom_writer;

use truelumen::io::{DicomSource, FrameBuf, FrameSource};

#[cfg(target_os = "linux")]
fn vm_hwm_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn frame_bytes(i: usize, side: usize) -> Vec<u8> {
    (0..side * side).map(|p| ((p / side + 3 * (p % side) + 7 * i) % 251) as u8).collect()
}

#[cfg(target_os = "linux")]
#[test]
fn long_dicom_pullback_streams_in_constant_memory() {
    const N: usize = 400;
    const SIDE: usize = 512;
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("long.dcm");
    let mut spec = dicom_writer::Spec::mono(SIDE, SIDE, N, dicom_writer::EXPLICIT_LE);
    spec.regions_mm_per_px = Some(0.02);
    spec.frame_time_ms = Some(33.0);
    dicom_writer::write_native(&path, &spec, |i| frame_bytes(i, SIDE)).unwrap();
    let file_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;

    let before = vm_hwm_kb();
    let mut src = DicomSource::open(&path).unwrap();
    assert_eq!((src.len(), src.shape()), (N, (SIDE, SIDE)));
    assert_eq!(src.timing().frame_times_s.unwrap().len(), N);
    let mut buf = FrameBuf::default();
    let mut checksum = 0f64;
    for i in 0..N {
        src.read_frame(i, &mut buf).unwrap();
        checksum += f64::from(buf.as_slice()[i % (SIDE * SIDE)]);
    }
    // Random access: frames re-read out of order equal what was written.
    for i in [N - 1, 0, N / 2, 17] {
        src.read_frame(i, &mut buf).unwrap();
        let want = frame_bytes(i, SIDE);
        assert!(buf.as_slice().iter().zip(&want).all(|(a, &b)| *a == f32::from(b)), "frame {i}");
    }
    let grown_mb = (vm_hwm_kb() - before) as f64 / 1024.0;
    println!("{N} frames ({file_mb:.0} MB file) read; peak memory grew by {grown_mb:.1} MB (checksum {checksum})");
    assert!(grown_mb < 30.0, "peak memory grew by {grown_mb:.1} MB");
}
