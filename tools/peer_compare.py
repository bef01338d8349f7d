#!/usr/bin/env python3
"""Side-by-side speed comparison of truelumen with OpenCV / scikit-image / NumPy peers.

Run from the repository root:

    python3 tools/peer_compare.py [--threads 2] [--frames 8] [--venv target/peer-venv]

What it does, in one run:
1. creates a virtual environment (default `target/peer-venv`) and installs numpy,
   opencv-python-headless and scikit-image from PyPI into it (only the first time), then
   re-runs itself with that interpreter;
2. builds truelumen (`cargo build --release`) and writes phantom frames with
   `truelumen simulate --polar` (512x512 8-bit Cartesian PNGs over 10 mm, and their 512x512
   polar frames) into a temporary folder;
3. runs `truelumen bench --json --kernels` on the same phantoms (same seeds, size, FOV);
4. times the peers on those PNGs (median of repeated runs, buffers and maps built outside the
   timed loop, OpenCV limited to --threads threads):
   cv2.warpPolar / skimage.transform.warp_polar (Cartesian -> polar, 512 lines x 256 samples),
   cv2.remap (polar -> Cartesian 512x512 with precomputed maps), cv2.medianBlur 5x5,
   cv2.bilateralFilter d=9, cv2.fastNlMeansDenoising, skimage denoise_nl_means (fast mode),
   a NumPy SRAD with truelumen's scheme and parameters (15 iterations, dt 0.2, q0 from the
   median ICOV each iteration), and a straightforward Python pipeline doing truelumen's stages
   (catheter search by radial-profile rise on a coarse grid, warpPolar, NumPy SRAD, shadow
   detection, dynamic-programming border search, contour measurements);
5. prints one table: kernel, peer ms, truelumen ms, peer / truelumen.

Not part of CI (it needs network access to PyPI the first time). Figures on a loaded machine
are noisy: compare the ratios, which are measured in the same run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["numpy", "opencv-python-headless", "scikit-image"]


def ensure_venv(venv: Path) -> None:
    """Re-executes this script inside `venv`, creating it and installing PACKAGES if needed."""
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv} and installing {', '.join(PACKAGES)} ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", *PACKAGES])
    os.execv(str(py), [str(py), *sys.argv])


def median_ms(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    ts.sort()
    return ts[len(ts) // 2]


# ---------------------------------------------------------------- NumPy SRAD (our scheme)

def srad_numpy(img, iterations=15, dt=0.2):
    """SRAD as in truelumen (src/filter/srad.rs): 4-neighbour explicit scheme, angle (rows)
    wraps, depth (columns) replicates, q0^2 = median ICOV^2 at every iteration."""
    import numpy as np

    I = img.astype(np.float32)
    rows, cols = I.shape
    stride = min(max(1, -(-(rows * cols) // 16384)), cols)  # as truelumen's stats_stride
    for _ in range(iterations):
        n = np.roll(I, 1, axis=0)
        s = np.roll(I, -1, axis=0)
        w = np.concatenate([I[:, :1], I[:, :-1]], axis=1)
        e = np.concatenate([I[:, 1:], I[:, -1:]], axis=1)
        dn, ds, dw, de = n - I, s - I, w - I, e - I
        g = dn * dn + ds * ds + dw * dw + de * de
        lap = dn + ds + dw + de
        m4 = 0.25 * (n + s + w + e)
        q2 = (0.5 * g - 0.0625 * lap * lap) / np.maximum(m4 * m4, np.finfo(np.float32).tiny)
        sample = q2[:, stride // 2 :: stride]
        valid = m4[:, stride // 2 :: stride] > 0
        q0 = float(np.median(sample[valid])) if valid.any() else 0.0
        if q0 <= 0:
            break
        a, b = q0 * (1 + q0), q0 * q0
        c = np.minimum(a / np.maximum(q2 + b, np.finfo(np.float32).tiny), 1.0)
        cs = np.roll(c, -1, axis=0)
        ce = np.concatenate([c[:, 1:], np.zeros((rows, 1), np.float32)], axis=1)
        I = I + dt * (cs * (s - I) + c * (n - I) + ce * (e - I) + c * (w - I))
    return I


# ---------------------------------------------------------- straightforward Python pipeline

def py_catheter(img, mm_per_px):
    """Coarse-to-fine maximisation of the steepest rise of the angular-mean radial profile."""
    import numpy as np

    h, w = img.shape
    rays = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    radii = np.arange(0.15, 1.05, 0.02) / mm_per_px
    X = np.cos(rays)[None, :] * radii[:, None]
    Y = -np.sin(rays)[None, :] * radii[:, None]
    f = img.astype(np.float32)

    def score(cx, cy):
        xs = np.clip(cx + X, 0, w - 1.001)
        ys = np.clip(cy + Y, 0, h - 1.001)
        x0, y0 = xs.astype(int), ys.astype(int)
        fx, fy = xs - x0, ys - y0
        v = (f[y0, x0] * (1 - fx) * (1 - fy) + f[y0, x0 + 1] * fx * (1 - fy)
             + f[y0 + 1, x0] * (1 - fx) * fy + f[y0 + 1, x0 + 1] * fx * fy)
        p = v.mean(axis=1)
        return float(np.max(p[2:] - p[:-2]))

    c = ((w - 1) / 2, (h - 1) / 2)
    best, step = c, 4.0
    half = 0.15 * min(h, w)
    grid = np.arange(-half, half + 1e-9, step)
    scores = [(score(c[0] + dx, c[1] + dy), (c[0] + dx, c[1] + dy)) for dx in grid for dy in grid]
    best = max(scores)[1]
    while step > 0.3:
        step /= 3
        cands = [(best[0] + i * step, best[1] + j * step) for i in (-2, -1, 0, 1, 2) for j in (-2, -1, 0, 1, 2)]
        best = max((score(*q), q) for q in cands)[1]
    return best


def dp_border(cost, max_jump=2):
    """Minimum-cost path with one sample per line (rows = lines), |jump| <= max_jump."""
    import numpy as np

    n, m = cost.shape
    acc = cost[0].copy()
    back = np.zeros((n, m), np.int16)
    for l in range(1, n):
        cands = np.stack([np.roll(acc, k) if k else acc for k in range(-max_jump, max_jump + 1)])
        for i, k in enumerate(range(-max_jump, max_jump + 1)):
            if k > 0:
                cands[i, :k] = np.inf
            elif k < 0:
                cands[i, k:] = np.inf
        arg = np.argmin(cands, axis=0)
        acc = cands[arg, np.arange(m)] + cost[l]
        back[l] = arg - max_jump
    path = np.zeros(n, int)
    path[-1] = int(np.argmin(acc))
    for l in range(n - 1, 0, -1):
        path[l - 1] = path[l] - back[l, path[l]]
    return path


def py_pipeline(img, mm_per_px):
    import cv2
    import numpy as np

    cx, cy = py_catheter(img, mm_per_px)
    n_s = int(min(5.0 / mm_per_px, min(img.shape) / 2))
    polar = cv2.warpPolar(img, (n_s, 360), (cx, cy), n_s, cv2.INTER_LINEAR)
    polar = polar.astype(np.float32)
    prof = np.median(polar[:, : n_s // 4], axis=0)
    rd = int(np.argmax(prof)) + 3
    polar[:, :rd] = np.maximum(polar[:, :rd] - (prof[:rd] - prof[rd:].min()), 0)
    echo = polar[:, rd:].mean(axis=1)
    shadows = echo < 0.5 * np.median(echo)
    filt = srad_numpy(polar, 15, 0.2)
    grad = np.zeros_like(filt)
    grad[:, 1:-1] = filt[:, 2:] - filt[:, :-2]
    lumen = dp_border(-grad[:, rd:] + 0.0) + rd
    vessel = dp_border(grad[:, rd:]) + rd
    ang = np.deg2rad(np.arange(360))
    res = {}
    for name, path in (("lumen", lumen), ("vessel", vessel)):
        r = path * mm_per_px
        pts = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1).astype(np.float32)
        res[name] = (cv2.contourArea(pts), cv2.arcLength(pts, True))
    res["shadow_lines"] = int(shadows.sum())
    return res


# ------------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=8, help="distinct phantom frames")
    ap.add_argument("--venv", type=Path, default=ROOT / "target" / "peer-venv")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args()
    ensure_venv(args.venv)

    import cv2
    import numpy as np
    import skimage
    from skimage.restoration import denoise_nl_means
    from skimage.transform import warp_polar

    cv2.setNumThreads(args.threads)
    exe = ROOT / "target" / "release" / "truelumen"
    if not args.no_build:
        subprocess.check_call(["cargo", "build", "--release", "--quiet"], cwd=ROOT)

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([str(exe), "simulate", "--out", tmp, "--count", str(args.frames), "--side", "512",
                               "--fov-mm", "10", "--polar"], stderr=subprocess.DEVNULL)
        names = sorted(p for p in Path(tmp).glob("frame_*.png"))
        carts = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in names]
        polars = [cv2.imread(str(Path(tmp) / "polar" / p.name), cv2.IMREAD_GRAYSCALE) for p in names]
        truths = [json.load(open(Path(tmp) / "truth" / (p.stem + ".json"))) for p in names]
        mm_per_px = truths[0]["mm_per_px"]

        bench = subprocess.run([str(exe), "bench", "--json", "--kernels", "--threads", str(args.threads),
                                "--distinct", str(args.frames), "--frames", "64", "--repeat", "2"],
                               check=True, capture_output=True, text=True)
        tl = json.loads(bench.stdout)
        tl1 = json.loads(subprocess.run([str(exe), "bench", "--json", "--threads", "1", "--distinct",
                                         str(args.frames), "--frames", "32", "--repeat", "1"],
                                        check=True, capture_output=True, text=True).stdout)
        k = tl["kernels"]

        cart, polar = carts[0], polars[0]
        c = ((cart.shape[1] - 1) / 2, (cart.shape[0] - 1) / 2)
        rows = []

        def row(name, peer_ms, ours_ms, note=""):
            rows.append({"kernel": name, "peer_ms": peer_ms, "truelumen_ms": ours_ms,
                         "ratio": peer_ms / ours_ms if ours_ms else float("nan"), "note": note})

        row("Cartesian->polar 512x256: cv2.warpPolar",
            median_ms(lambda: cv2.warpPolar(cart, (256, 512), c, 256, cv2.INTER_LINEAR), 50),
            k["cart_to_polar_512x256_ms"], "ours f32, 1 thread")
        row("Cartesian->polar 512x256: skimage warp_polar",
            median_ms(lambda: warp_polar(cart, center=(c[1], c[0]), radius=256, output_shape=(512, 256)), 5),
            k["cart_to_polar_512x256_ms"])
        # polar -> Cartesian with precomputed maps (as ours)
        side = 512
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
        dx, dy = xx - (side - 1) / 2, -(yy - (side - 1) / 2)
        ns, nl = polar.shape[1], polar.shape[0]
        map_s = np.hypot(dx, dy) * (ns / (side / 2))
        map_l = (np.degrees(np.arctan2(dy, dx)) % 360) * nl / 360
        mx, my = cv2.convertMaps(map_s.astype(np.float32), map_l.astype(np.float32), cv2.CV_16SC2)
        row("polar->Cartesian 512x512: cv2.remap (precomputed maps)",
            median_ms(lambda: cv2.remap(polar, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP), 50),
            k["polar_to_cart_ms"], "ours f32 bilinear, 1 thread")
        row("median 5x5 on 512x512 polar: cv2.medianBlur", median_ms(lambda: cv2.medianBlur(polar, 5), 50),
            k["median5x5_ms"], "ours: 8-bit frame, byte path, 1 thread")
        row("bilateral d9 vs our Lee 5x5 (edge-preserving smoother)",
            median_ms(lambda: cv2.bilateralFilter(polar, 9, 40, 5), 20), k["lee5x5_ms"], "different filters")
        pf = polar.astype(np.float32)
        srad_ms = median_ms(lambda: srad_numpy(pf, 15, 0.2), 3)
        row("SRAD 15 it on 512x512: NumPy (same scheme)", srad_ms, k["srad15_serial_ms"], "ours serial")
        row("SRAD 15 it on 512x512: NumPy vs ours parallel", srad_ms, k["srad15_parallel_ms"], "ours rayon")
        row("cv2.fastNlMeansDenoising h10 vs our SRAD", median_ms(lambda: cv2.fastNlMeansDenoising(polar, None, 10, 7, 21), 3),
            k["srad15_serial_ms"], "different filters")
        small = polar.astype(np.float32) / 255
        row("skimage denoise_nl_means (fast) vs our SRAD",
            median_ms(lambda: denoise_nl_means(small, h=0.08, patch_size=5, patch_distance=6, fast_mode=True), 1),
            k["srad15_serial_ms"], "different filters")
        # whole pipeline per frame
        ts = []
        for img in carts[: min(4, len(carts))]:
            t = time.perf_counter()
            py_pipeline(img, mm_per_px)
            ts.append((time.perf_counter() - t) * 1e3)
        py_ms = sorted(ts)[len(ts) // 2]
        row("whole frame, 1 thread: Python pipeline vs truelumen", py_ms, 1e3 / tl1["frames_per_s"],
            "Python: simplified stages")
        row(f"whole frame: Python 1 thread vs truelumen batch {tl['threads']} threads", py_ms,
            1e3 / tl["frames_per_s"], "throughput")

    print(f"\ntruelumen {tl['frames_per_s']:.1f} frames/s on {tl['threads']} threads, "
          f"{tl1['frames_per_s']:.1f} frames/s on 1 thread (512x512 Cartesian, peak RSS "
          f"{(tl['peak_rss_bytes'] or 0) / 2**20:.0f} MiB); numpy {np.__version__}, OpenCV {cv2.__version__}, "
          f"scikit-image {skimage.__version__}, OpenCV threads {args.threads}\n")
    w = max(len(r["kernel"]) for r in rows)
    print(f"{'kernel':<{w}}  {'peer ms':>9}  {'truelumen ms':>12}  {'peer/ours':>9}  note")
    for r in rows:
        print(f"{r['kernel']:<{w}}  {r['peer_ms']:9.2f}  {r['truelumen_ms']:12.2f}  {r['ratio']:9.2f}  {r['note']}")
    if args.json:
        args.json.write_text(json.dumps({"truelumen": tl, "truelumen_1t": tl1, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
