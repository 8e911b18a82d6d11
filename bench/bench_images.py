"""Photo pipeline benchmark: our pipeline against naive Pillow and libvips, same variants.

    .venv/bin/python bench/bench_images.py                 # 12 MP JPEG and HEIC, 5 runs each
    .venv/bin/python bench/bench_images.py --runs 9 --webp-methods

The HEIC comes twice: one HEVC frame, and a grid of 512 px tiles as iPhones write it. For
HEIC a fourth row, "decode", only decodes the frame with pillow-heif: the floor that every
pipeline here shares, since libvips' wheel cannot decode HEVC and gets pillow-heif's pixels.

Every case runs in a fresh subprocess, so that its peak RSS is its own: the table shows the
process's max RSS after the imports and the input are in memory (base), after processing
(peak) and the difference, plus tracemalloc's peak of Python allocations during one photo
(Pillow's and libvips' pixel buffers are C allocations and only show in RSS). Time is the
median of the warm runs; the first (cold) run is shown apart. All cases produce the same
variants: 320, 800 and 1600 px wide, WebP (quality 80, the pipeline's method/effort) and
progressive JPEG (quality 80), no metadata.
"""

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTHS = (320, 800, 1600)
CASES = ("ours", "naive", "vips")
INPUTS = ("jpeg", "heic", "heic-grid")
CACHE = Path(tempfile.gettempdir()) / "tod-bench-images"


# --- inputs ------------------------------------------------------------------------------------


def make_photo(width: int = 4000, height: int = 3000, seed: int = 7):  # type: ignore[no-untyped-def]
    """Gradients, shapes, edges and sensor-like noise: compresses roughly like a phone photo."""
    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    gx = Image.linear_gradient("L").resize((width, height))
    gy = Image.linear_gradient("L").rotate(90).resize((width, height))
    im = Image.merge("RGB", (gx, gy, Image.blend(gx, gy, 0.5)))
    draw = ImageDraw.Draw(im)
    for _ in range(400):
        x, y = rnd.randrange(width), rnd.randrange(height)
        s = rnd.randrange(width // 60, width // 6)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        if rnd.random() < 0.5:
            draw.ellipse((x, y, x + s, y + s * 2 // 3), fill=colour)
        else:
            draw.rectangle((x, y, x + s // 2, y + s), outline=colour, width=rnd.randrange(2, 12))
    im = im.filter(ImageFilter.GaussianBlur(1.5))
    # Fine texture (foliage, fabric) and sensor noise, different per channel.
    noise = [Image.effect_noise((width, height), 60).filter(ImageFilter.BoxBlur(1)) for _ in "rgb"]
    im = Image.merge(
        "RGB", [Image.blend(c, n, 0.22) for c, n in zip(im.split(), noise, strict=True)]
    )
    return im


def inputs() -> dict[str, Path]:
    """A 12-megapixel JPEG and HEIC, as a phone would send them (EXIF with GPS, orientation).
    The HEIC twice: one HEVC frame, and a grid of 512 px tiles as iPhones write it (libheif
    decodes a grid tile by tile, which needs less memory than one 12 MP frame)."""
    CACHE.mkdir(exist_ok=True)
    paths = {
        "jpeg": CACHE / "photo-12mp.jpg",
        "heic": CACHE / "photo-12mp.heic",
        "heic-grid": CACHE / "photo-12mp-grid.heic",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    import pillow_heif
    from PIL import Image

    photo = make_photo()
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Bench"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (60.0, 39.0, 26.0), "E", (12.0, 0.0, 47.0)
    photo.save(paths["jpeg"], "JPEG", quality=92, exif=exif.tobytes())
    pillow_heif.from_pillow(photo).save(paths["heic"], quality=85, exif=exif.tobytes())
    pillow_heif.from_pillow(photo).save(
        paths["heic-grid"], quality=85, exif=exif.tobytes(), tile_size=512
    )
    return paths


# --- the three pipelines -----------------------------------------------------------------------


def run_ours(data: bytes, method: int) -> int:
    from app.media import pipeline

    result = pipeline.process(data, webp_method=method)
    return sum(len(v.data) for v in result.variants)


def run_naive(data: bytes, method: int) -> int:
    """What most code does: decode everything, turn it, thumbnail each size from the full image."""
    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")  # loads: no draft
    total = 0
    for width in WIDTHS:
        t = im.copy()
        t.thumbnail((width, width * 10))
        for fmt, kw in (
            ("WEBP", {"quality": 80, "method": method}),
            ("JPEG", {"quality": 80, "progressive": True, "optimize": True}),
        ):
            buf = io.BytesIO()
            t.save(buf, fmt, **kw)
            total += buf.tell()
    return total


def run_vips(data: bytes, method: int) -> int:
    import pyvips

    heif = data[4:8] == b"ftyp"
    if heif:
        # The binary wheel's libheif has no HEVC decoder (patents): pillow-heif decodes, and
        # libvips gets the pixels. That is the best libvips can do with HEIC here.
        import pillow_heif

        decoded = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        # libvips wraps libheif's buffer as it is (a memoryview, no copy; pyvips keeps a
        # reference). Earlier versions of this script copied it with bytes() first: 36 MB
        # more at 12 MP that libvips does not need, which flattered our ratio.
        w, h = decoded.size
        pixels = decoded.data if decoded.stride == w * 3 else decoded.to_pillow().tobytes()
        source = pyvips.Image.new_from_memory(pixels, w, h, 3, "uchar")
    total = 0
    for width in WIDTHS:
        # Shrink-on-load, auto-rotate and import/export to sRGB are thumbnail's defaults.
        if heif:
            t = source.thumbnail_image(width, height=100_000, size="down")
        else:
            t = pyvips.Image.thumbnail_buffer(data, width, height=100_000, size="down")
        t = t.copy_memory()  # rendered once for both encoders (a sequential image reads once)
        total += len(t.webpsave_buffer(Q=80, effort=method, keep="none"))
        total += len(t.jpegsave_buffer(Q=80, interlace=True, optimize_coding=True, keep="none"))
    return total


def run_decode(data: bytes, method: int) -> int:
    """Only what every HEIC row above does first: libheif decodes the whole frame to RGB."""
    import pillow_heif

    decoded = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    decoded[decoded.primary_index].load()
    return 0  # nothing encoded


RUNNERS = {"ours": run_ours, "naive": run_naive, "vips": run_vips, "decode": run_decode}


def _max_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: that one survives exec and
    so starts at the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB (Linux)


def worker(case: str, path: str, runs: int, method: int) -> None:
    """One case in this (fresh) process; prints one JSON line."""
    runner = RUNNERS[case]
    if case == "vips":
        import pyvips  # noqa: F401 - loaded before the baseline, like Pillow for the others
    else:
        import pillow_heif  # noqa: F401
    if case in ("ours", "naive"):
        from PIL import Image  # noqa: F401

        from app.media import pipeline  # noqa: F401
    data = Path(path).read_bytes()
    base = _max_rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    size = runner(data, method)
    cold = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _max_rss_mb()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        runner(data, method)
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "cold_ms": cold * 1000,
                "median_ms": statistics.median(times) * 1000,
                "min_ms": min(times) * 1000,
                "base_mb": base,
                "peak_mb": peak,
                "after_runs_mb": _max_rss_mb(),
                "traced_mb": traced_peak / 2**20,
                "output_kb": size / 1024,
            }
        )
    )


def measure(case: str, path: Path, runs: int, method: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", case, str(path), str(runs), str(method)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode:
        sys.exit(f"{case} on {path.name} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs per case (default 5)")
    parser.add_argument("--webp-methods", action="store_true", help="also time methods 0-6")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, path, runs, method = args.worker
        worker(case, path, int(runs), int(method))
        return

    from PIL import Image

    from app.media import pipeline

    paths = inputs()
    method = pipeline.WEBP_METHOD
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    for name, path in paths.items():
        with Image.open(path) as im:
            print(f"input {name}: {im.size[0]}x{im.size[1]}, {path.stat().st_size / 2**20:.1f} MB")
    print(f"variants: {WIDTHS} px wide x (WebP q80 method {method}, progressive JPEG q80)\n")
    header = (
        "| input | pipeline | median ms | cold ms | RSS base MB | RSS peak MB | RSS +MB "
        "| tracemalloc peak MB | output kB |"
    )
    print(header)
    print("|" + "---|" * 9)
    results: dict[tuple[str, str], dict[str, float]] = {}
    for name, path in paths.items():
        for case in CASES + (("decode",) if name.startswith("heic") else ()):
            r = measure(case, path, args.runs, method)
            results[(name, case)] = r
            print(
                f"| {name} | {case} | {r['median_ms']:.0f} | {r['cold_ms']:.0f} "
                f"| {r['base_mb']:.0f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} "
                f"| {r['traced_mb']:.1f} | {r['output_kb']:.0f} |",
                flush=True,
            )
    print()
    for name in paths:
        ours, vips = results[(name, "ours")], results[(name, "vips")]
        time_ratio = ours["median_ms"] / vips["median_ms"]
        rss_ratio = ours["peak_mb"] / vips["peak_mb"]
        delta_ratio = (ours["peak_mb"] - ours["base_mb"]) / max(
            1.0, vips["peak_mb"] - vips["base_mb"]
        )
        print(
            f"{name}: ours/libvips time {time_ratio:.2f} (target <= 1.00), "
            f"peak RSS {rss_ratio:.2f}, RSS growth {delta_ratio:.2f} (target <= 0.75)"
        )
    if args.webp_methods:
        print("\n| WebP method | ours median ms (jpeg input) | WebP bytes at 320+800+1600 |")
        print("|---|---|---|")
        data = paths["jpeg"].read_bytes()
        for m in range(7):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                result = pipeline.process(data, webp_method=m)
                times.append(time.perf_counter() - started)
            webp = sum(len(v.data) for v in result.variants if v.format == "webp")
            print(f"| {m} | {statistics.median(times) * 1000:.0f} | {webp / 1024:.0f} kB |")


if __name__ == "__main__":
    main()
