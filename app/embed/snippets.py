"""What an intranet page pastes in to show the widget: the iframe and the script tag."""

from html import escape

from app.config import get_settings
from app.orgs.models import Organisation


def widget_title(org: Organisation) -> str:
    return f"{org.display_feature_name} – {org.name}"


def iframe_snippet(org: Organisation, *, width: int | None = None, height: int = 420) -> str:
    """The HTML an intranet page (or an oEmbed consumer) pastes in."""
    src = f"{get_settings().base_url}/embed/{org.slug}/feature"
    size = (
        f'width="{width}" height="{height}" style="border:0"'
        if width
        else f'style="width:100%;height:{height}px;border:0"'
    )
    return f'<iframe src="{escape(src)}" title="{escape(widget_title(org))}" loading="lazy" {size}></iframe>'


def script_snippet(org: Organisation) -> str:
    src = f"{get_settings().base_url}/embed/{org.slug}/widget.js"
    return f'<script src="{escape(src)}" async></script>'
