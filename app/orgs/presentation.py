"""What an organisation looks like: its colours as CSS, shown by its pages and its widget."""

from functools import lru_cache

from sqlmodel import Session, select

from app.orgs.colours import text_on
from app.orgs.models import Organisation, Value


def theme_css(session: Session, org: Organisation) -> str:
    """The organisation's colours as CSS variables (CSP allows no inline styles)."""
    values = session.exec(select(Value).where(Value.org_id == org.id)).all()
    lines = [
        ":root {",
        f"  --primary: {org.theme_primary};",
        f"  --on-primary: {text_on(org.theme_primary)};",
        f"  --accent: {org.theme_accent};",
        f"  --on-accent: {text_on(org.theme_accent)};",
        "}",
    ]
    for v in values:
        lines.append(f".value-{v.id} {{ --value: {v.colour}; --on-value: {text_on(v.colour)}; }}")
    return "\n".join(lines) + "\n"


# --- the installed app ----------------------------------------------------------------------

# The sizes phones ask for: 192 for the home screen, 512 for the splash screen; both also as
# "maskable" (the mark sits inside the safe zone, the circle's 80 %).
ICON_SIZES = (192, 512)


def web_manifest(org: Organisation) -> dict[str, object]:
    """The web app manifest: installed, the app opens at the organisation's home."""
    home = f"/{org.slug}/"
    icons: list[dict[str, str]] = []
    for size in ICON_SIZES:
        src = f"/{org.slug}/icon-{size}.png"
        icons.append({"src": src, "sizes": f"{size}x{size}", "type": "image/png"})
        icons.append(
            {"src": src, "sizes": f"{size}x{size}", "type": "image/png", "purpose": "maskable"}
        )
    return {
        "id": home,
        "name": org.name,
        "short_name": org.display_feature_name if len(org.name) > 12 else org.name,
        "description": org.display_feature_name,
        "lang": org.locale,
        "start_url": home,
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": org.theme_primary,
        "icons": icons,
    }


def app_icon(org: Organisation, size: int) -> bytes:
    """The home-screen icon: the "3" of Tre om dagen on the organisation's colour, as PNG."""
    return _icon_png(org.theme_primary, size)


@lru_cache(maxsize=64)
def _icon_png(colour: str, size: int) -> bytes:
    """Drawn once per colour and size: phones fetch the icons often, the colour rarely changes."""
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(size * 0.55))
    draw.text((size / 2, size / 2), "3", fill=text_on(colour), font=font, anchor="mm")
    out = BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
