"""The admin's embed page: snippets to copy, feed links, a live preview of the widget."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access import AdminDep
from app.config import get_settings
from app.embed.snippets import iframe_snippet, script_snippet
from app.web import render

router = APIRouter(prefix="/{org}/admin/embed", include_in_schema=False)


@router.get("")
def embed_admin(request: Request, m: AdminDep) -> Response:
    base = get_settings().base_url
    embed = f"{base}/embed/{m.org.slug}"
    return render(
        request,
        "admin/embed.html",
        {
            "script_snippet": script_snippet(m.org),
            "iframe_snippet": iframe_snippet(m.org),
            "widget_url": f"{embed}/feature",
            "json_url": f"{embed}/feature.json",
            "atom_url": f"{embed}/feed.atom",
            "oembed_url": f"{base}/oembed?" + urlencode({"url": f"{embed}/feature"}),
            "preview_src": f"/embed/{m.org.slug}/feature",
            "origins": m.org.intranet_origins,
        },
    )
