"""Home and the feed, and "Meg": the pages that show every feature side by side.

The features below know nothing of each other's pages; this module puts their parts together.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.access import MemberDep
from app.contests import results as contests
from app.contests.presentation import PLACE_LABELS
from app.db import SessionDep
from app.errors import Invalid
from app.insights.figures import own_figures
from app.insights.maintain import local_day, org_zone
from app.insights.periods import Granularity, default_period
from app.insights.scope import may_see_insights
from app.kernel.clock import utcnow
from app.orgs.models import EmailFrequency, Organisation, Person
from app.recognition import feeds, giving, progress
from app.recognition.cards import Card
from app.recognition.feeds import FeedKind, feed
from app.recognition.presentation import REACTION_LABELS
from app.stories.relay import held_by
from app.stories.writing import pending_questions
from app.web import is_htmx, render
from app.weekly.consent import pending_consents
from app.weekly.public import current_feature, public_people

router = APIRouter(prefix="/{org}", include_in_schema=False)


def home_context(session: Session, org: Organisation, person: Person) -> dict[str, Any]:
    """The home page's feature card and consent banner."""
    current = current_feature(session, org)
    return {
        "current_feature": current,
        "current_feature_people": public_people(current) if current else [],
        "pending_consents": pending_consents(session, person),
        "batons": held_by(session, person),
        "story_questions": pending_questions(session, person),
    }


def _feed_context(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    feed: str,
    value: int | None,
    cursor: str | None,
) -> dict[str, object]:
    try:
        kind = FeedKind(feed)
    except ValueError:
        kind = FeedKind.all
    values = giving.active_values(session, m.org.id)
    if value is not None and value not in {v.id for v in values}:
        value = None
    page = feeds.feed(session, m.person, kind=kind, value_id=value, cursor=cursor)
    results: list[contests.AnnouncedResults] = []
    if kind == FeedKind.all:
        # This page shows the announcements from its last item up to where the page before
        # ended (page 1: up to now; the last page: everything older): each exactly once.
        since = page.items[-1].created_at if page.next_cursor and page.items else None
        before = feeds.decode_cursor(cursor)[0] if cursor else None
        results = contests.announced_between(session, m.org, since, before, value_id=value)
    return {
        "feed_kind": kind.value,
        "feed_value": value,
        "values": values,
        "page": page,
        "feed_entries": _interleave(page.items, results),
        "reaction_labels": REACTION_LABELS,
        "place_labels": PLACE_LABELS,
    }


def _interleave(
    recs: list[Card], results: list[contests.AnnouncedResults]
) -> list[Card | contests.AnnouncedResults]:
    """Recognitions (newest first) with the announced results placed by time; on the same
    instant the results come first, so they stay on the page that asked for them."""
    merged: list[Card | contests.AnnouncedResults] = []
    pending = list(results)  # newest first
    for rec in recs:
        while pending and pending[0].announced_at >= rec.created_at:
            merged.append(pending.pop(0))
        merged.append(rec)
    return merged + pending


@router.get("/")
def home(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    feed: Annotated[str, Query(max_length=20)] = "all",
    value: int | None = None,
) -> Response:
    ctx = _feed_context(request, session, m, feed, value, None)
    ctx["progress"] = progress.progress(session, m.person)
    if not is_htmx(request):  # a filter swaps only the feed: no card or banner needed
        ctx.update(home_context(session, m.org, m.person))
    return render(request, "recognition/home.html", ctx, block="feed")


@router.get("/feed")
def feed_page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    feed: Annotated[str, Query(max_length=20)] = "all",
    value: int | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Further pages of a feed: items only for htmx's infinite scroll, a page otherwise."""
    try:
        ctx = _feed_context(request, session, m, feed, value, cursor)
    except Invalid:
        ctx = _feed_context(request, session, m, feed, value, None)
    return render(request, "recognition/feed.html", ctx, block="items")


def _own_figures(session: Session, person: Person) -> dict[str, Any]:
    """The person's own recognitions given and received, quarter by quarter (a year)."""
    period = default_period(local_day(utcnow(), org_zone(person.org)), Granularity.quarter)
    return {"buckets": period.buckets, **own_figures(session, person, period)}


@router.get("/me")
def me(request: Request, session: SessionDep, m: MemberDep) -> Response:
    return render(
        request,
        "orgs/me.html",
        {
            "received": feed(session, m.person, kind=FeedKind.to_me, limit=3),
            "given": feed(session, m.person, kind=FeedKind.from_me, limit=3),
            "frequencies": list(EmailFrequency),
            "pending_consents": pending_consents(session, m.person),
            "batons": held_by(session, m.person),
            "story_questions": pending_questions(session, m.person),
            "own_figures": _own_figures(session, m.person),
            "may_see_insights": may_see_insights(m.person),
        },
    )
