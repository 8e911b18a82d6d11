"""Geometry of the server-rendered SVG charts; templates/insights/_charts.html draws it.

Only coordinates and labels are computed here; every chart is followed on the page by its
data as a table, and each series has its own marker and dash so nothing rests on colour.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.insights.suppress import Cell
from app.orgs.colours import contrast_ratio, text_on

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 40
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
DASHES = ("", "6 4", "2 3", "10 3 2 3", "1 5")


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the value as text, "" when suppressed


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    marker: str
    dash: str
    points: tuple[Point, ...]
    path: str  # "M x y L ..." through the shown points; gaps where a value is suppressed


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    ticks: tuple[tuple[float, str], ...]  # y, label of the value axis
    x_labels: tuple[tuple[float, str], ...]
    lines: tuple[Line, ...] = ()
    bars: tuple[Bar, ...] = ()
    colour: str = "#1d4f73"


def readable(colour: str) -> str:
    """The colour if it reads on white (4.5:1, as the admin's check), else near-black."""
    try:
        return colour if contrast_ratio(colour, "#ffffff") >= 3 else "#111111"
    except (ValueError, IndexError):
        return "#111111"


def _scale(cells: Sequence[Cell], percent: bool) -> float:
    top = max([c.value for c in cells if c.shown and c.value is not None] or [0.0])
    if percent:
        return 100.0
    return max(float(top), 1.0)


def _x_positions(n: int) -> list[float]:
    span = WIDTH - LEFT - RIGHT
    return [LEFT + span * (i + 0.5) / max(n, 1) for i in range(n)]


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _ticks(top: float, percent: bool) -> tuple[tuple[float, str], ...]:
    steps = (0, 0.5, 1)
    return tuple((_y(top * s, top), f"{round(top * s)}{' %' if percent else ''}") for s in steps)


def _x_labels(labels: Sequence[str]) -> tuple[tuple[float, str], ...]:
    xs = _x_positions(len(labels))
    every = max(1, len(labels) // 6)  # a phone has room for about six labels
    return tuple(
        (x, label) for i, (x, label) in enumerate(zip(xs, labels, strict=True)) if i % every == 0
    )


def fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return ""
    text = f"{value:g}"
    return f"{text} %" if percent else text


def line_chart(
    labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[Cell]]], percent: bool
) -> Chart:
    """Lines over the buckets: (name, colour, cells) per series."""
    top = max([_scale(cells, percent) for _n, _c, cells in series] or [1.0])
    xs = _x_positions(len(labels))
    lines = []
    for i, (name, colour, cells) in enumerate(series):
        points, parts, pen_down = [], [], False
        for x, cell in zip(xs, cells, strict=True):
            if not cell.shown or cell.value is None:
                pen_down = False
                continue
            y = _y(float(cell.value), top)
            parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
            pen_down = True
            points.append(Point(round(x, 1), round(y, 1), fmt(cell.value, percent)))
        lines.append(
            Line(
                name,
                readable(colour),
                MARKERS[i % len(MARKERS)],
                DASHES[i % len(DASHES)],
                tuple(points),
                " ".join(parts),
            )
        )
    return Chart(WIDTH, HEIGHT, _ticks(top, percent), _x_labels(labels), lines=tuple(lines))


def bar_chart(labels: Sequence[str], cells: Sequence[Cell], colour: str) -> Chart:
    top = _scale(cells, False)
    xs = _x_positions(len(labels))
    width = (WIDTH - LEFT - RIGHT) / max(len(labels), 1) * 0.7
    bars = []
    for x, cell in zip(xs, cells, strict=True):
        if not cell.shown or cell.value is None:
            continue
        y = _y(float(cell.value), top)
        bars.append(
            Bar(
                round(x - width / 2, 1),
                round(y, 1),
                round(width, 1),
                round(HEIGHT - BOTTOM - y, 1),
                fmt(cell.value, False),
            )
        )
    return Chart(
        WIDTH,
        HEIGHT,
        _ticks(top, False),
        _x_labels(labels),
        bars=tuple(bars),
        colour=readable(colour),
    )


__all__ = ["Chart", "bar_chart", "line_chart", "text_on"]
