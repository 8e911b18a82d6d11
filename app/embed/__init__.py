"""Intranet widget: iframe page, widget.js, JSON, Atom feed and oEmbed."""

from app.embed.service import widget_context

__all__ = ["widget_context"]
