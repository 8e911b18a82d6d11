"""The photo pipeline on real files made here with Pillow: what passes, what is refused, and
that nothing but pixels comes out."""

import io

import pillow_heif
import pytest
from PIL import Image, ImageCms, ImageDraw, ImageOps

from app.errors import Invalid
from app.media import pipeline
from tests.helpers import (
    BAD_FILES,
    BLUE,
    GREEN,
    RED,
    STORE,
    XMP,
    close,
    encode,
    gps_exif,
    heic,
    phone_jpeg,
    png_claiming,
    upright_marker,
)

GPS_LAT = 60.6572  # Flisa


# --- files ---------------------------------------------------------------------------------


def p3_profile() -> bytes:
    """Display P3 (what iPhones embed), taken from libvips' built-in profiles."""
    import pyvips

    im = pyvips.Image.black(2, 2, bands=3).copy(interpretation="srgb")
    return im.icc_transform("p3", input_profile="srgb").get("icc-profile-data")


def decoded(variant: pipeline.Encoded) -> Image.Image:
    im = Image.open(io.BytesIO(variant.data))
    im.load()
    return im


# --- what passes ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_every_orientation_comes_out_upright(orientation, fmt):
    upright = upright_marker()
    method = STORE[orientation]
    stored = upright if method is None else upright.transpose(method)
    data = encode(stored, fmt, exif=gps_exif(orientation))
    # The oracle agrees that this file, turned by its EXIF, is our upright picture.
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(data))).size == upright.size

    result = pipeline.process(data)

    assert (result.width, result.height) == (400, 300)
    for variant in result.variants:
        im = decoded(variant).convert("RGB")
        w, h = im.size
        assert w > h, f"orientation {orientation}: {variant.name} is not landscape"
        assert close(im.getpixel((w // 10, h // 10)), RED), f"{orientation}: no red top-left"
        assert close(im.getpixel((w - w // 10, h // 10)), BLUE), f"{orientation}: top-right"
        assert close(im.getpixel((w // 2, h - 3)), GREEN), f"{orientation}: bottom"


def test_variants_are_webp_and_progressive_jpeg_at_each_width_never_upscaled():
    big = pipeline.process(encode(upright_marker(2000, 1000)))
    assert [(v.width, v.height, v.format) for v in big.variants] == [
        (320, 160, "webp"),
        (320, 160, "jpg"),
        (800, 400, "webp"),
        (800, 400, "jpg"),
        (1600, 800, "webp"),
        (1600, 800, "jpg"),
    ]
    for v in big.variants:
        im = decoded(v)
        assert im.format == {"webp": "WEBP", "jpg": "JPEG"}[v.format]
        assert im.size == (v.width, v.height)
        if v.format == "jpg":
            assert im.info.get("progressive") == 1
    small = pipeline.process(encode(upright_marker(500, 250)))
    assert sorted({v.width for v in small.variants}) == [320, 500]
    tiny = pipeline.process(encode(upright_marker(200, 100)))
    assert sorted({v.width for v in tiny.variants}) == [200]


def test_keys_are_the_hash_of_the_encoded_bytes():
    import hashlib

    result = pipeline.process(phone_jpeg())
    for v in result.variants:
        assert v.sha256 == hashlib.sha256(v.data).hexdigest()
    assert len({v.sha256 for v in result.variants}) == len(result.variants)
    assert pipeline.process(phone_jpeg()).variants == result.variants  # deterministic


def _assert_clean(variant: pipeline.Encoded) -> None:
    im = decoded(variant)
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"):
        assert key not in im.info, f"{variant.name} keeps {key}"
    assert not im.getexif(), f"{variant.name} has EXIF"
    raw = variant.data
    for marker in (b"Exif", b"GPS", b"xpacket", b"adobe", b"ICC_PROFILE", b"Flisa", b"PhoneMaker"):
        assert marker not in raw, f"{variant.name} contains {marker!r}"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_xmp_comments_and_icc_are_gone_from_every_variant(fmt):
    source = upright_marker()
    kw = {"exif": gps_exif(), "xmp": XMP, "icc_profile": p3_profile()}
    if fmt == "JPEG":
        kw["comment"] = b"Taken at Flisa"
    data = encode(source, fmt, **kw)
    seen = Image.open(io.BytesIO(data))
    assert seen.getexif().get_ifd(0x8825), "the input must carry GPS for this test to mean much"
    assert seen.info.get("icc_profile")

    result = pipeline.process(data)

    assert len(result.variants) == 4
    for variant in result.variants:
        _assert_clean(variant)


def test_heic_from_a_phone_passes_without_its_gps():
    data = heic(upright_marker(), exif=gps_exif().tobytes())
    assert Image.open(io.BytesIO(data)).format == "HEIF"
    result = pipeline.process(data)
    assert (result.width, result.height) == (400, 300)
    for variant in result.variants:
        _assert_clean(variant)
        im = decoded(variant).convert("RGB")
        assert close(im.getpixel((20, 20)), RED)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_heic_turned_by_the_phone_comes_out_upright(orientation):
    """pillow-heif stores the EXIF orientation as HEIF transforms, which libheif applies."""
    stored = upright_marker().transpose(STORE[orientation])
    result = pipeline.process(heic(stored, exif=gps_exif(orientation).tobytes()))
    assert (result.width, result.height) == (400, 300)
    for variant in result.variants:
        im = decoded(variant).convert("RGB")
        w, h = im.size
        assert close(im.getpixel((w // 10, h // 10)), RED), f"{orientation}: no red top-left"
        assert close(im.getpixel((w - w // 10, h // 10)), BLUE), f"{orientation}: top-right"
        assert close(im.getpixel((w // 2, h - 3)), GREEN), f"{orientation}: bottom"


def test_heic_profile_is_converted_to_srgb_and_dropped():
    colour = (200, 120, 60)
    data = heic(Image.new("RGB", (400, 300), colour), icc_profile=p3_profile())
    assert Image.open(io.BytesIO(data)).info.get("icc_profile")
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), colour),
        ImageCms.ImageCmsProfile(io.BytesIO(p3_profile())),
        ImageCms.createProfile("sRGB"),
    ).getpixel((0, 0))
    for variant in pipeline.process(data).variants:
        _assert_clean(variant)
        assert close(decoded(variant).convert("RGB").getpixel((200, 150)), expected, 6)


def test_heic_is_reduced_strip_by_strip_as_one_reduce_would():
    """The decoded frame is copied into Pillow in strips, each box-reduced: the result must be
    the whole frame reduced at once (here factor 3, and a height that is no multiple of it)."""
    photo = upright_marker(1000, 751)
    data = heic(photo)
    whole = pillow_heif.open_heif(data).to_pillow().reduce(3)
    reduced = pipeline._load_heif(data, (320, 240))
    assert reduced.size == whole.size == (334, 251)
    assert reduced.tobytes() == whole.tobytes()
    result = pipeline.process(data, widths=(320,))
    assert [(v.width, v.height) for v in result.variants] == [(320, 240), (320, 240)]
    assert close(decoded(result.variants[0]).convert("RGB").getpixel((20, 20)), RED)


def test_resize_in_strips_is_one_resize_with_its_passes_swapped():
    """Per strip Pillow runs the vertical pass first (one whole resize runs the horizontal one
    first): the same filter, so the result is that of a vertical-then-horizontal resize,
    give or take a level or two of rounding where the scale is not exact."""
    from PIL import ImageChops

    noise = [Image.effect_noise((2000, 1333), sigma) for sigma in (20, 60, 120)]
    im = Image.merge("RGB", noise)  # texture in every channel: any difference would show
    strips = pipeline._resize(im, (1600, 1066))
    oracle = im.resize((2000, 1066), pipeline.RESAMPLE).resize((1600, 1066), pipeline.RESAMPLE)
    assert strips.size == oracle.size
    assert max(hi for _, hi in ImageChops.difference(strips, oracle).getextrema()) <= 2


def test_mpo_from_a_phone_is_a_jpeg():
    """Phones write HDR gain maps as a second frame: Pillow calls that MPO."""
    buf = io.BytesIO()
    upright_marker().save(buf, "MPO", save_all=True, append_images=[Image.new("L", (100, 75))])
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    result = pipeline.process(buf.getvalue())
    assert (result.width, result.height) == (400, 300)


def test_embedded_profile_is_converted_to_srgb():
    colour = (200, 120, 60)
    data = encode(Image.new("RGB", (400, 300), colour), "PNG", icc_profile=p3_profile())
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), colour),
        ImageCms.ImageCmsProfile(io.BytesIO(p3_profile())),
        ImageCms.createProfile("sRGB"),
    ).getpixel((0, 0))
    assert expected != colour  # P3 and sRGB differ for this colour
    result = pipeline.process(data)
    for variant in result.variants:
        assert close(decoded(variant).convert("RGB").getpixel((200, 150)), expected, 3)


def test_png_alpha_is_kept_in_webp_and_flattened_on_white_in_jpeg():
    im = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((100, 100, 300, 200), fill=(*RED, 255))
    result = pipeline.process(encode(im, "PNG"))
    webp = decoded(next(v for v in result.variants if v.format == "webp" and v.width == 400))
    jpeg = decoded(next(v for v in result.variants if v.format == "jpg" and v.width == 400))
    assert webp.mode == "RGBA" and webp.getpixel((10, 10))[3] == 0
    assert jpeg.mode == "RGB"
    assert close(jpeg.getpixel((10, 10)), (255, 255, 255), 4)
    assert close(jpeg.getpixel((200, 150)), RED)


@pytest.mark.parametrize(
    "mode,colour", [("P", 5), ("L", 128), ("I;16", 40_000), ("CMYK", (0, 200, 200, 0)), ("1", 1)]
)
def test_other_modes_become_rgb(mode, colour):
    im = Image.new(mode, (400, 300), colour)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    result = pipeline.process(encode(im, fmt))
    out = decoded(result.variants[-1]).convert("RGB")
    assert out.size == (400, 300)
    if mode == "I;16":  # scaled to 8 bits, not clipped to white
        assert close(out.getpixel((5, 5)), (155, 155, 155), 8)
    if mode == "CMYK":
        r, g, b = out.getpixel((5, 5))
        assert r > 200 and g < 100 and b < 100


def test_animation_keeps_its_first_frame():
    frames = [Image.new("RGB", (400, 300), c) for c in (RED, BLUE, GREEN)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    result = pipeline.process(buf.getvalue())
    assert close(decoded(result.variants[-1]).convert("RGB").getpixel((5, 5)), RED)


def test_original_is_kept_only_when_asked():
    data = phone_jpeg()
    assert pipeline.process(data).original is None
    kept = pipeline.process(data, keep_original=True).original
    assert kept is not None and kept.data == data and kept.ext == "jpg"


def test_jpeg_is_decoded_at_a_reduced_scale():
    """draft() with the target's aspect ratio: a 4000 x 3000 JPEG decodes at 2000 x 1500."""
    data = encode(upright_marker(4000, 3000), quality=80)
    im = pipeline.open_image(data)
    im.draft("RGB", (1600, 1200))
    assert im.size == (2000, 1500)
    assert pipeline.process(data).width == 1600


# --- what is refused -----------------------------------------------------------------------


def _code(data: bytes, **kw) -> str:
    with pytest.raises(Invalid) as info:
        pipeline.process(data, **kw)
    return info.value.errors["photo"].code


@pytest.mark.parametrize("name", BAD_FILES)
def test_refused_with_a_clear_code(name):
    make, code = BAD_FILES[name]
    data = make() if callable(make) else make
    assert _code(data) == code


def test_pillows_bomb_warning_is_an_error_here():
    """Between MAX_IMAGE_PIXELS and twice that Pillow only warns; we must refuse."""
    width = height = int((Image.MAX_IMAGE_PIXELS * 1.5) ** 0.5)
    assert _code(png_claiming(width, height)) == "too_many_pixels"


def test_too_large_file():
    data = phone_jpeg()
    assert _code(data, max_bytes=len(data) - 1) == "too_large"
    assert pipeline.process(data, max_bytes=len(data)).variants


def test_polyglot_with_html_in_the_first_kilobyte_is_refused():
    im = upright_marker()
    data = encode(im, "JPEG", comment=b"<html><script>alert(1)</script></html>")
    assert _code(data) == "unsupported"


def test_trailing_payload_after_a_photo_is_dropped_by_reencoding():
    """Phones append videos after the JPEG's end (motion photos): accepted, never served."""
    data = phone_jpeg() + b"<script>alert(1)</script>" + b"\x00" * 1000
    for variant in pipeline.process(data).variants:
        assert b"<script" not in variant.data
