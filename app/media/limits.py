"""A cap on request bodies, checked while they arrive: 413 before an oversized one is read."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings

MB = 1024 * 1024
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BodyLimitMiddleware:
    """Refuse request bodies above TOD_MAX_UPLOAD_MB.

    A declared Content-Length above the limit is refused when the app first asks for the body,
    before a byte of it is read; a chunked body, or one whose Content-Length lies, is counted
    as it streams in and refused at the first chunk past the limit. The 413 is raised as an
    HTTPException from `receive`, so the app's own handler answers (JSON under /api, a page
    elsewhere) with the usual security headers. Bodies are never buffered here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS:
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_upload_mb * MB
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        too_large = declared is not None and declared.isdigit() and int(declared) > limit
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, limited_receive, send)
