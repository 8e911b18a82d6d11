"""Intranet widget: iframe page, widget.js, JSON, Atom feed and oEmbed."""
