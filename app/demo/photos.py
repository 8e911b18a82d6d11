"""Photos for the demo: photo-like JPEGs drawn with Pillow, the same bytes for the same seed.

Landscapes in a season's colours and rooms with the season outside the window; they go
through the real photo pipeline like any upload.
"""

import io
import random
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
PHOTO_SIZE = (1024, 768)  # a photo sent at a small size; about 100 kB as JPEG
_CANVAS = (600, 450)  # drawn smaller, then scaled up: soft edges, like a lens


@dataclass(frozen=True)
class Palette:
    sky: tuple[RGB, RGB]  # top, horizon
    hills: RGB
    ground: tuple[RGB, RGB]  # near the horizon, at the bottom
    trees: tuple[RGB, ...]
    snow: bool = False
    round_trees: bool = False  # birches and maples instead of spruce only


PALETTES = {
    "winter": Palette(
        ((112, 146, 194), (226, 233, 242)),
        (170, 186, 204),
        ((232, 238, 246), (196, 208, 226)),
        ((34, 62, 48), (46, 74, 56)),
        snow=True,
    ),
    "dusk": Palette(
        ((30, 42, 94), (236, 146, 96)),
        (62, 60, 96),
        ((206, 210, 230), (110, 118, 152)),
        ((22, 32, 40), (30, 40, 48)),
        snow=True,
    ),
    "spring": Palette(
        ((92, 148, 210), (212, 232, 244)),
        (108, 146, 112),
        ((138, 178, 88), (86, 118, 60)),
        ((52, 100, 56), (120, 164, 72), (232, 214, 226)),
        round_trees=True,
    ),
    "summer": Palette(
        ((56, 120, 204), (186, 218, 242)),
        (66, 114, 82),
        ((98, 158, 64), (58, 100, 44)),
        ((30, 78, 40), (44, 104, 48), (62, 120, 52)),
        round_trees=True,
    ),
    "autumn": Palette(
        ((108, 136, 176), (232, 204, 164)),
        (126, 96, 66),
        ((164, 122, 60), (100, 78, 44)),
        ((178, 84, 32), (208, 160, 40), (40, 80, 44), (150, 50, 30)),
        round_trees=True,
    ),
}
SEASON_SCENES = {"winter": ("winter", "dusk"), "spring": ("spring",), "summer": ("summer",)}
HOUSE_COLOURS: tuple[RGB, ...] = ((156, 42, 36), (222, 186, 84), (238, 236, 228), (70, 96, 120))
INDOOR_WALLS: tuple[RGB, ...] = ((228, 218, 198), (206, 220, 214), (236, 226, 210), (214, 206, 222))
THINGS: tuple[RGB, ...] = (
    (40, 110, 170),
    (200, 70, 60),
    (70, 140, 80),
    (232, 186, 60),
    (90, 80, 140),
)


def season(day: date) -> str:
    return {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}.get(
        day.month, "summer" if day.month in (6, 7, 8) else "autumn"
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _jitter(colour: RGB, rnd: random.Random, spread: int = 16) -> RGB:
    r, g, b = (max(0, min(255, c + rnd.randint(-spread, spread))) for c in colour)
    return (r, g, b)


def _gradient(top: RGB, bottom: RGB, size: tuple[int, int]) -> Image.Image:
    width, height = size
    column = Image.new("RGB", (1, height))
    column.putdata([_mix(top, bottom, y / max(1, height - 1)) for y in range(height)])
    return column.resize((width, height))


def _draw_outdoor(im: Image.Image, rnd: random.Random, pal: Palette) -> None:
    w, h = im.size
    horizon = rnd.randint(h * 2 // 5, h * 3 // 5)
    im.paste(_gradient(_jitter(pal.sky[0], rnd), _jitter(pal.sky[1], rnd), (w, horizon)))
    draw = ImageDraw.Draw(im)
    if rnd.random() < 0.6:  # the sun, low or high
        x, y, r = rnd.randint(60, w - 60), rnd.randint(30, horizon - 50), rnd.randint(14, 32)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_mix(pal.sky[1], (255, 248, 220), 0.75))
    for layer in range(2):  # far ridges, a forest edge on the nearer one
        colour = _mix(_jitter(pal.hills, rnd), pal.sky[1], 0.45 - 0.35 * layer)
        base = horizon - rnd.randint(10, 45) + layer * 20
        points = [(0, h)]
        x = -10
        while x < w + 30:
            step = rnd.randint(4, 10) if layer else rnd.randint(30, 90)
            points.append((x, base - rnd.randint(0, 14 if layer else 50)))
            x += step
        points.append((w, h))
        draw.polygon(points, fill=colour)
    ground_top = horizon + 12
    im.paste(
        _gradient(_jitter(pal.ground[0], rnd), pal.ground[1], (w, h - ground_top)),
        (0, ground_top),
    )
    draw = ImageDraw.Draw(im)
    if rnd.random() < 0.45:  # a river or a lake reflecting the sky
        y = rnd.randint(ground_top + 10, ground_top + 60)
        water = _mix(pal.sky[0], pal.sky[1], 0.6)
        draw.polygon(
            [(0, y), (w, y - rnd.randint(-10, 20)), (w, y + 30), (0, y + rnd.randint(20, 50))],
            fill=water,
        )
    for _ in range(rnd.randint(0, 3)):  # houses: red, yellow or white walls, dark roofs
        hw = rnd.randint(50, 110)
        hx, hy = rnd.randint(0, w - hw), rnd.randint(ground_top + 20, h - 60)
        hh = hw * 2 // 3
        wall = _jitter(rnd.choice(HOUSE_COLOURS), rnd, 10)
        draw.rectangle((hx, hy - hh, hx + hw, hy), fill=wall)
        roof = (hx - 6, hy - hh), (hx + hw // 2, hy - hh - hw // 2), (hx + hw + 6, hy - hh)
        draw.polygon(roof, fill=(248, 250, 252) if pal.snow else _mix(wall, (30, 30, 30), 0.7))
        for i in range(2):
            wx = hx + hw // 5 + i * hw * 2 // 5
            draw.rectangle((wx, hy - hh * 2 // 3, wx + hw // 6, hy - hh // 3), fill=(250, 236, 190))
    trees = sorted(
        (rnd.randint(-20, w + 20), rnd.randint(ground_top, h + 40))
        for _ in range(rnd.randint(6, 16))
    )
    for tx, ty in sorted(trees, key=lambda t: t[1]):  # far ones first
        size = int((ty - horizon + 30) * rnd.uniform(0.5, 1.0))
        colour = _jitter(rnd.choice(pal.trees), rnd, 12)
        if pal.round_trees and rnd.random() < 0.6:
            draw.rectangle(
                (tx - size // 30 - 1, ty - size // 2, tx + size // 30 + 1, ty), fill=(70, 56, 44)
            )
            draw.ellipse((tx - size // 4, ty - size, tx + size // 4, ty - size // 3), fill=colour)
        else:
            for k in range(3):  # a spruce: three tiers
                top = ty - size + k * size // 4
                half = size * (k + 2) // 14
                draw.polygon(
                    [(tx, top), (tx - half, top + size // 2), (tx + half, top + size // 2)],
                    fill=colour,
                )
                if pal.snow:
                    draw.polygon(
                        [
                            (tx, top),
                            (tx - half // 3, top + size // 6),
                            (tx + half // 3, top + size // 6),
                        ],
                        fill=(244, 247, 252),
                    )
    if pal.snow and rnd.random() < 0.5:  # falling snow
        for _ in range(rnd.randint(80, 200)):
            x, y, r = rnd.randrange(w), rnd.randrange(h), rnd.choice((1, 1, 2))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 252, 255))


def _draw_indoor(im: Image.Image, rnd: random.Random, outside: Palette) -> None:
    w, h = im.size
    table = rnd.randint(h * 11 // 20, h * 7 // 10)
    wall = _jitter(rnd.choice(INDOOR_WALLS), rnd, 10)
    im.paste(_gradient(wall, _mix(wall, (60, 50, 40), 0.25), (w, table)))
    wood = _jitter((150, 110, 74), rnd, 20)
    im.paste(_gradient(wood, _mix(wood, (30, 20, 10), 0.4), (w, h - table)), (0, table))
    draw = ImageDraw.Draw(im)
    # A window with the season outside.
    ww, wh = rnd.randint(150, 240), rnd.randint(110, max(111, table - 80))
    wx, wy = rnd.randint(20, w - ww - 20), rnd.randint(20, max(21, table - wh - 30))
    draw.rectangle((wx - 8, wy - 8, wx + ww + 8, wy + wh + 8), fill=(244, 244, 238))
    view = Image.new("RGB", _CANVAS)
    _draw_outdoor(view, rnd, outside)
    im.paste(view.resize((ww, wh), Image.Resampling.BILINEAR), (wx, wy))
    draw.rectangle((wx + ww // 2 - 3, wy, wx + ww // 2 + 3, wy + wh), fill=(244, 244, 238))
    # Things on the table: cups, books, a plant.
    for _ in range(rnd.randint(3, 6)):
        cx, cy = rnd.randint(30, w - 30), rnd.randint(table + 25, h - 20)
        r = rnd.randint(14, 30)
        colour = _jitter(rnd.choice(THINGS), rnd, 20)
        if rnd.random() < 0.5:
            draw.rectangle((cx - r, cy - r, cx + r, cy + r // 2), fill=colour)
            draw.ellipse(
                (cx - r, cy - r - r // 3, cx + r, cy - r + r // 3),
                fill=_mix(colour, (255, 255, 255), 0.35),
            )
        else:
            for k in range(rnd.randint(2, 4)):
                book = _jitter(rnd.choice(THINGS), rnd, 30)
                draw.rectangle((cx - r * 2, cy - k * 9, cx + r * 2, cy - k * 9 + 8), fill=book)
    px = rnd.randint(20, w - 80)
    draw.polygon(
        [(px, table - 10), (px + 50, table - 10), (px + 42, table + 40), (px + 8, table + 40)],
        fill=(176, 92, 60),
    )
    for _ in range(16):
        lx, ly = px + 25 + rnd.randint(-50, 50), table - rnd.randint(20, 110)
        draw.ellipse((lx - 16, ly - 7, lx + 16, ly + 7), fill=_jitter((60, 128, 62), rnd, 24))


def make_photo(seed: int, scene: str, when: str = "summer") -> bytes:
    """A photo-like JPEG (1024×768, about 100 kB): a landscape in `scene`'s colours, or a room
    ("indoor") with the season `when` outside. The same seed always gives the same bytes."""
    rnd = random.Random(seed)
    im = Image.new("RGB", _CANVAS)
    if scene == "indoor":
        _draw_indoor(im, rnd, PALETTES[when])
    else:
        _draw_outdoor(im, rnd, PALETTES[scene])
    im = im.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    # Sensor noise from the seed, not from Pillow's own generator, so the bytes repeat.
    w, h = PHOTO_SIZE
    grain = Image.frombytes("L", (w // 2, h // 2), rnd.randbytes(w * h // 4)).resize(PHOTO_SIZE)
    im = Image.merge("RGB", [Image.blend(band, grain, 0.05) for band in im.split()])
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()
