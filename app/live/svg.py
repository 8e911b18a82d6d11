"""The word cloud as a standalone SVG file (the results' download): presentation attributes
only, a <title> and a <desc> listing every word with its count."""

from xml.sax.saxutils import escape

from app.live.words import CloudWord

WIDTH = 1200
SIZES = {1: 22, 2: 30, 3: 40, 4: 52, 5: 66, 6: 84}
GAP = 24


def cloud_svg(title: str, cloud: list[CloudWord], *, colour: str = "#1d4f73") -> str:
    """Words in rows, largest first, each row centred; widths estimated from the font size."""
    rows: list[list[tuple[CloudWord, int, int]]] = [[]]
    used = 0
    for word in cloud:
        size = SIZES[word.weight]
        width = int(len(word.text) * size * 0.58)
        if rows[-1] and used + width > WIDTH - 2 * GAP:
            rows.append([])
            used = 0
        rows[-1].append((word, size, width))
        used += width + GAP
    parts = []
    y = 40
    for row in rows:
        if not row:
            continue
        height = max(size for _, size, _ in row)
        y += height
        total = sum(width for _, _, width in row) + GAP * (len(row) - 1)
        x = (WIDTH - total) // 2
        for word, size, width in row:
            parts.append(
                f'<text x="{x + width // 2}" y="{y}" font-size="{size}" text-anchor="middle" '
                f'fill="{escape(colour)}" font-family="sans-serif" font-weight="700">'
                f"{escape(word.text)}</text>"
            )
            x += width + GAP
        y += GAP // 2
    height = y + 40
    desc = ", ".join(f"{w.text}: {w.count}" for w in cloud)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="t d">'
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(parts) + "</svg>"
    )
