"""An organisation's colours: contrast on white, the text colour on a background, the check."""

import re

from app.errors import N_, Problem

COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOURS = ["#1d4f73", "#8a3b12", "#2e6b30", "#6a2c70", "#7a5c00"]


def contrast_ratio(hex_a: str, hex_b: str) -> float:
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    la, lb = sorted((luminance(hex_a), luminance(hex_b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black, whichever reads better on `background`."""
    return (
        "#ffffff"
        if contrast_ratio(background, "#ffffff") >= contrast_ratio(background, "#111111")
        else "#111111"
    )


def check_colour(value: str) -> str:
    value = (value or "").strip()
    if not COLOUR_RE.match(value):
        raise ValueError(
            Problem("colour", N_("Write the colour as # and six hex digits, like #1d4f73."))
        )
    if contrast_ratio(value, "#ffffff") < 4.5:
        raise ValueError(
            Problem(
                "contrast", N_("This colour is too light to read on white. Choose a darker one.")
            )
        )
    return value.lower()
