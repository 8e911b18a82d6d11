"""The photo pipeline: untrusted bytes in, clean re-encoded variants out. Pure functions, no I/O.

What comes in is decided by its content alone (never the file name or the declared type):
JPEG (also MPO, the multi-picture JPEG that phones write for HDR gain maps), PNG, WebP and
HEIC/HEIF. Everything else, and anything that does not decode completely, is refused with an
`Invalid` whose code says why. Work is bounded before any pixel is decoded: the header's size
is checked against our own caps, and JPEGs are decoded at the smallest DCT scale that still
covers the largest variant. What goes out carries no metadata at all (EXIF with GPS, XMP, ICC,
comments): the pixels are turned upright from the EXIF orientation, converted to sRGB with the
embedded ICC profile, and re-encoded as WebP and as a progressive JPEG fallback per width.

This is CPU-bound work of a fraction of a second: call it from a worker thread (a sync route
runs in FastAPI's threadpool; async code uses `anyio.to_thread.run_sync`), never on the event
loop.
"""

import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import pillow_heif
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from app.errors import N_, Invalid, Problem

pillow_heif.register_heif_opener()
# Pillow only warns between MAX_IMAGE_PIXELS and twice that; here a bomb is always an error.
# (Our own header check below refuses far smaller images first; this is the second belt.)
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

# The only plugins Pillow may try. Its JPEG plugin also opens MPO (a JPEG with more frames,
# which phones write for HDR gain maps) and reports it as "MPO".
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
MAX_PIXELS = 40_000_000  # a 48-megapixel phone mode is refused; 12-24 MP pass
MAX_SIDE = 12_000  # also refuses 40 000 x 1 strips that pass the pixel count
WIDTHS = (320, 800, 1600)
WEBP_QUALITY = 80
# WebP's `method` sets the encoder's effort. Measured on a 12 MP photo (bench/bench_images.py
# --webp-methods): 0 and 1 are fastest, 2 costs about 40 ms more per photo and makes the WebP
# variants about 19 % smaller, 3-6 cost 150-300 ms more for another 5-7 %. Every viewer
# downloads the bytes; the photo is processed once: 2.
WEBP_METHOD = 2
JPEG_QUALITY = 80
# Bicubic, not Lanczos: at these ratios (1.25x, 2x) the difference is not visible in a feed,
# and Lanczos' wider kernel cost about 40 % more time per resize here.
RESAMPLE = Image.Resampling.BICUBIC
# Like Pillow's resize(reducing_gap=3.0): shrink by a whole factor first (a cheap box filter)
# when the photo is at least 6x wider than the target, then resample the rest.
REDUCING_GAP = 3
# Rows per strip when copying decoded HEIC pixels and when resizing: small enough that the
# strips cost a few MB, large enough that the per-call overhead does not show.
STRIP_ROWS = 128
# Polyglots that a browser or PDF reader would take for something else hide their markers in
# the first kilobyte (PDF readers search it); a photo never has them there. We re-encode
# anyway, so this only refuses files whose purpose is plainly not to be a photo.
POLYGLOT_MARKERS = (b"%PDF-", b"<html", b"<!doctype", b"<script", b"<svg", b"<?xml")
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg"}
ORIGINAL_EXT = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}
ORIGINAL_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
}

SRGB = ImageCms.createProfile("sRGB")
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Encoded:
    width: int
    height: int
    format: str  # "webp" or "jpg": also the file extension
    data: bytes
    sha256: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def name(self) -> str:
        """How the serving URL names it: `800.webp`."""
        return f"{self.width}.{self.format}"


@dataclass(frozen=True)
class Original:
    data: bytes
    ext: str
    sha256: str

    @property
    def content_type(self) -> str:
        return ORIGINAL_TYPES[self.ext]


@dataclass(frozen=True)
class Processed:
    width: int  # of the largest variant, upright
    height: int
    variants: list[Encoded]  # smallest first; WebP before JPEG at each width
    original: Original | None


def problem(code: str) -> Invalid:
    messages = {
        "unsupported": N_("Choose a photo in JPEG, PNG, WebP or HEIC format."),
        "corrupt": N_("The photo could not be read. It may be damaged; try another one."),
        "too_many_pixels": N_(
            "The photo has too many pixels. Choose one of at most 40 megapixels."
        ),
        "too_large": N_("The file is too large."),
        "empty": N_("Choose a photo."),
    }
    return Invalid({"photo": Problem(code, messages[code])})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _signed_as_ours(data: bytes) -> bool:
    return (
        data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or (data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"))
    )


def open_image(data: bytes, *, max_bytes: int | None = None) -> ImageFile.ImageFile:
    """Identify the bytes and check the header's size; nothing is decoded yet."""
    if not data:
        raise problem("empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise problem("too_large")
    head = data[:1024].lower()
    if any(marker in head for marker in POLYGLOT_MARKERS):
        raise problem("unsupported")
    try:
        # BytesIO(bytes) shares the bytes until written to: the upload is not copied.
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise problem("too_many_pixels") from exc
    except UnidentifiedImageError as exc:
        # Pillow says "unidentified" also when our own format's header is broken.
        raise problem("corrupt" if _signed_as_ours(data) else "unsupported") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise problem("corrupt") from exc
    except Exception as exc:  # plugins raise odd things on hostile headers
        raise problem("corrupt") from exc
    width, height = im.size
    if width < 1 or height < 1:
        raise problem("corrupt")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise problem("too_many_pixels")
    return im


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block is ignored, not fatal: the pixels are fine
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def target_widths(upright_width: int, widths: Sequence[int] = WIDTHS) -> list[int]:
    """The variants' widths: never wider than the photo, so a small photo gets fewer."""
    return sorted({min(w, upright_width) for w in widths})


def _fit(size: tuple[int, int], width: int) -> tuple[int, int]:
    w, h = size
    return width, max(1, round(h * width / w))


@lru_cache(maxsize=16)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """An ICC -> sRGB transform, built once per profile (phones use a handful)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(source).strip().lower().startswith("srgb"):
            return None  # already sRGB: nothing to convert
        return ImageCms.buildTransform(
            source, SRGB, mode, "RGBA" if mode == "RGBA" else "RGB", flags=ImageCms.Flags.NONE
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile is ignored rather than refusing the photo


def _to_rgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit RGB or RGBA in sRGB, whatever came in (palette, grey, 16-bit, CMYK ...)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's plain convert clips 16-bit grey at 255: scale it down instead.
        im = im.convert("I").point(lambda v: v / 257).convert("L")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        transform = _transform(icc, im.mode)
        if transform is not None:
            # In place when the mode stays (RGB, RGBA): no second copy of the pixels.
            in_place = transform.input_mode == transform.output_mode and not im.readonly
            try:
                return ImageCms.applyTransform(im, transform, inPlace=in_place) or im
            except (ImageCms.PyCMSError, ValueError):
                pass
    target = "RGBA" if has_alpha else "RGB"
    return im if im.mode == target else im.convert(target)


def _load_heif(data: bytes, at_least: tuple[int, int]) -> Image.Image:
    """The HEIC's primary image, box-reduced by the largest whole factor that still covers
    `at_least` (what draft() does for JPEG).

    libheif has no reduced-size decode: it decodes the whole frame, 3 bytes per pixel (36 MB at
    12 MP), and Pillow keeps 4 bytes per pixel, so a plain load adds 48 MB next to it. Copied
    and reduced strip by strip, only the reduced image is added (12 MB at 12 MP, factor 2), and
    the decoded frame is freed when this returns.
    """
    heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, remove_stride=False)
    frame = heif[heif.primary_index]  # what Image.open reported and open_image checked
    pixels, stride = frame.data, frame.stride  # decodes; a memoryview of libheif's buffer
    (width, height), mode = frame.size, frame.mode
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:  # not what the header said
        raise Image.DecompressionBombError(f"{width}x{height}")
    factor = max(1, min(width // at_least[0], height // at_least[1]))
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = STRIP_ROWS * factor  # a multiple of the factor: the same result as one reduce()
    for top in range(0, height, rows):
        n = min(rows, height - top)
        view = pixels[top * stride : (top + n) * stride]
        strip = Image.frombuffer(mode, (width, n), view, "raw", mode, stride, 1)
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


def _load(im: ImageFile.ImageFile, data: bytes, at_least: tuple[int, int]) -> Image.Image:
    """Decode the first frame, at a reduced size that still covers `at_least` where possible."""
    if im.format == "HEIF":
        return _load_heif(data, at_least)
    im.seek(0)  # animations and bursts: the first frame is the photo
    if im.format in ("JPEG", "MPO"):
        # Decode at 1/2, 1/4 or 1/8 scale when that still covers the largest variant. The
        # requested size must have the photo's own aspect ratio, or Pillow decodes it whole.
        im.draft("RGB", at_least)
    im.load()
    return im


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`im.resize(size)`, made in strips of output rows. Pillow resizes in two passes, and
    for a whole image its first pass makes a full intermediate (1600 x 1500 px, 9.6 MB, for
    2000 x 1500 -> 1600 x 1200); per strip it is a few hundred kB. Each strip's filter reads
    the source rows beyond its box, so there are no seams; Pillow runs the vertical pass first
    for a strip, so values can differ from one resize() by rounding (a level or two)."""
    factor = min(im.width // size[0], im.height // size[1]) // REDUCING_GAP
    if factor > 1:
        im = im.reduce(factor)
    if im.mode not in ("RGB", "L"):  # resize premultiplies alpha, over the whole image per call
        return im.resize(size, RESAMPLE)
    out = Image.new(im.mode, size)
    scale = im.height / size[1]
    for top in range(0, size[1], STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, size[1])
        box = (0.0, top * scale, float(im.width), bottom * scale)
        out.paste(im.resize((size[0], bottom - top), RESAMPLE, box=box), (0, top))
    return out


def _flatten(im: Image.Image) -> Image.Image:
    """JPEG has no alpha: put the photo on white."""
    if im.mode != "RGBA":
        return im
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


def _encode(im: Image.Image, fmt: str, *, webp_method: int) -> Encoded:
    im.info = {}  # nothing from the source may ride along (JPEG copies a comment from info)
    buf = io.BytesIO()
    if fmt == "webp":
        im.save(buf, "WEBP", quality=WEBP_QUALITY, method=webp_method)
    else:
        im = _flatten(im)
        im.info = {}
        im.save(buf, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
    data = buf.getvalue()
    return Encoded(im.width, im.height, fmt, data, _sha(data))


def process(
    data: bytes,
    *,
    keep_original: bool = False,
    widths: Sequence[int] = WIDTHS,
    max_bytes: int | None = None,
    webp_method: int = WEBP_METHOD,
) -> Processed:
    """Validate and re-encode one uploaded photo; raise `Invalid` ("photo": code) if it is not one."""
    im = open_image(data, max_bytes=max_bytes)
    fmt = im.format or ""
    orientation = _orientation(im)
    turned = orientation in (5, 6, 7, 8)  # stored sideways: upright width is the stored height
    stored_w, stored_h = im.size
    upright = (stored_h, stored_w) if turned else (stored_w, stored_h)
    sizes = [_fit(upright, w) for w in target_widths(upright[0], widths)]
    largest = sizes[-1]
    icc = im.info.get("icc_profile") or None
    scaled_stored = (largest[1], largest[0]) if turned else largest
    try:
        work = _load(im, data, scaled_stored)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise problem("too_many_pixels") from exc
    except Exception as exc:  # truncated, broken CRC, bad Huffman table, decoder errors ...
        raise problem("corrupt") from exc
    # From here each step replaces `work`, so the image before it is freed at once: only two
    # images (source and result of one step) exist at any time, never the decoded one as well.
    del im

    # Scale first, then turn upright and convert colour: both are cheaper on fewer pixels.
    if work.mode not in ("RGB", "RGBA", "L"):
        # Resizing a palette or 1-bit image would fall back to nearest-neighbour; CMYK is
        # converted with its profile here because the sRGB step below expects RGB.
        cmyk = work.mode == "CMYK"
        work = _to_rgb(work, icc if cmyk else None)
        icc = None if cmyk else icc
    if work.size != scaled_stored:
        work = _resize(work, scaled_stored)
    if orientation != 1:
        work = work.transpose(TRANSPOSE[orientation])  # the table ImageOps.exif_transpose uses
    current = _to_rgb(work, icc)
    del work

    # Serially, each width from the one before. Encoding in two threads was tried: on two
    # busy cores it gained little and each encoder needs its own copy (more peak memory).
    variants: list[Encoded] = []
    for size in reversed(sizes):
        if current.size != size:
            current = current.resize(size, RESAMPLE, reducing_gap=3.0)
        variants.append(_encode(current, "jpg", webp_method=webp_method))
        variants.append(_encode(current, "webp", webp_method=webp_method))
    variants.sort(key=lambda v: (v.width, v.format != "webp"))
    original = None
    if keep_original:
        ext = ORIGINAL_EXT[fmt]
        original = Original(data=data, ext=ext, sha256=_sha(data))
    return Processed(width=largest[0], height=largest[1], variants=variants, original=original)
