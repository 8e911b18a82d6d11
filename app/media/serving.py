"""How a stored image variant is served: its URL pattern and its HTTP headers."""

import re
from typing import Any

VARIANT_RE = re.compile(r"^([1-9][0-9]{0,4})\.(webp|jpg)$")
# Private: the URL is access-checked, so no shared cache may keep it. Immutable: a variant's
# bytes never change under its URL (a new photo is a new image id).
CACHE_CONTROL = "private, max-age=31536000, immutable"


def variant_headers(
    meta: dict[str, Any], image_id: int, cache_control: str
) -> tuple[str, dict[str, str]]:
    """(ETag, headers) for serving one stored variant, here and in the public widget."""
    # The key is the hash of the bytes: a strong validator for free.
    etag = '"' + meta["key"].rsplit("/", 1)[-1].split(".", 1)[0] + '"'
    return etag, {
        "ETag": etag,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Content-Disposition": (
            f'inline; filename="photo-{image_id}-{meta["width"]}.{meta["format"]}"'
        ),
    }
