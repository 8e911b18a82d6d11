"""Addresses of the admin pages: where they live and the pager's previous and next links."""

from typing import Any
from urllib.parse import urlencode

from app.kernel.paging import Page
from app.orgs.models import Organisation


def admin_base(org: Organisation) -> str:
    return f"/{org.slug}/admin"


def page_links(page: Page[Any], path: str, **params: str) -> dict[str, str | None]:
    def url(number: int) -> str:
        return f"{path}?{urlencode({**params, 'page': number})}"

    return {
        "previous_url": url(page.number - 1) if page.has_previous else None,
        "next_url": url(page.number + 1) if page.has_next else None,
    }
