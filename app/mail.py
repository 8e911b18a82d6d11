"""Outgoing e-mail through SMTP (`TOD_SMTP_URL`); printed to the console in dev without one."""

import logging
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from app.config import get_settings

log = logging.getLogger("tod.mail")


def build(to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="treomdagen")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def send(msg: EmailMessage) -> None:
    """Deliver one message. Raises on failure so the caller can retry or report."""
    settings = get_settings()
    if not settings.smtp_url:
        if settings.env == "production":
            raise RuntimeError("TOD_SMTP_URL is not set; cannot send e-mail in production")
        # Dev without SMTP: the console is the mailbox.
        print(
            f"\n--- e-mail to {msg['To']}: {msg['Subject']}\n{_text_part(msg)}\n---",
            file=sys.stderr,
        )
        return
    url = urlsplit(settings.smtp_url)
    query = parse_qs(url.query)
    host = url.hostname or "localhost"
    timeout = 15
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, url.port or 25, timeout=timeout)
    with client:
        if url.scheme == "smtp" and query.get("starttls", ["0"])[0] in ("1", "true"):
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(msg)
    log.info("sent e-mail %s to %s", msg["Message-ID"], msg["To"])


def _text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""
