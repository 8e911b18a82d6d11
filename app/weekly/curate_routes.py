"""Ukens ESS curation: the candidates, the editor and its preview, the curators' archive."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session, col, select

from app import i18n
from app.access import CuratorDep
from app.config import get_settings
from app.contests.models import ContestEntry
from app.db import SessionDep, SessionFactoryDep
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.clock import utcnow
from app.kernel.scope import in_org
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Organisation
from app.recognition.models import Recognition
from app.security import PROTECT
from app.stories.models import Story
from app.web import env, field_errors, redirect, render
from app.weekly import drafting, jobs, presentation, ranking, schedule
from app.weekly.consent import ask_again as ask_again_by_email
from app.weekly.consent import consent_state
from app.weekly.models import ConsentAnswer, Feature, FeatureStatus, Subject

router = APIRouter(prefix="/{org}", include_in_schema=False)

PREVIEW_TEMPLATE = "embed/_feature.html"


# --- access -------------------------------------------------------------------------------


def feature_for_curator(session: Session, org: Organisation, feature_id: int) -> Feature:
    return in_org(session, org, Feature, feature_id)


# --- presentation helpers -----------------------------------------------------------------


def when(request: Request, org: Organisation, value: datetime) -> str:
    """ "mandag 23. november kl. 07:00": the reader's language, the organisation's clock."""
    return presentation.when(org, value, i18n.request_locale(request), i18n.gettext_for(request))


def _schedule(request: Request, org: Organisation, now: datetime) -> dict[str, str | bool]:
    pick, publish = schedule.next_moments(org, now)
    return {
        "next_pick": when(request, org, pick),
        "next_publish": when(request, org, publish),
        "auto_publish": org.auto_publish,
    }


def preview_html(
    request: Request,
    session: Session,
    org: Organisation,
    feature: Feature,
    *,
    headline: str | None = None,
    body: str | None = None,
) -> tuple[Markup, Markup]:
    """The widget's own fragment for `feature` with the text as typed: (phone, intranet)."""
    template = env.get_template(PREVIEW_TEMPLATE)
    saved = feature.headline, feature.body
    # Shown, never stored: the saved text is put back before anything can flush.
    with session.no_autoflush:
        try:
            if headline is not None:
                feature.headline = headline
            if body is not None:
                feature.body = body
            # Member-only photo URLs: the widget's public photo route refuses drafts.
            widget = presentation.widget_context(
                session, org, feature, member_urls=True, gettext=i18n.gettext_for(request)
            )
            ctx = {
                "request": request,
                "locale": i18n.request_locale(request),
                **widget,
                "heading": "h3",
            }
            html = template.render(ctx)
        finally:
            feature.headline, feature.body = saved
    # The fragment is shown twice on the page: the second copy gets its own ids. Quotes in
    # user text are escaped by then, so only real attributes match.
    wide = _ID_ATTR.sub(lambda m: f'{m.group(1)}="wide-', html)
    # Autoescaped template output: user text in it is already escaped.
    return Markup(html), Markup(wide)  # noqa: S704


_ID_ATTR = re.compile(r'\b(id|aria-labelledby|aria-describedby|for)="')


# --- curation -----------------------------------------------------------------------------


def _week_feature(session: Session, org: Organisation, now: datetime) -> Feature | None:
    """This week's feature, else last week's while it is still on its way to publication."""
    year, week = schedule.week_of(org, now)
    this_week = schedule.week_feature(session, org, year, week)
    if this_week is not None:
        return this_week
    last = schedule.week_feature(session, org, *schedule.week_of(org, now - timedelta(weeks=1)))
    if last is not None and last.status in (FeatureStatus.draft, FeatureStatus.approved):
        return last
    return None


def _curate_page(
    request: Request,
    session: Session,
    m: CuratorDep,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    year, week = schedule.week_of(m.org, now)
    candidates = ranking.candidates(session, m.org, year=year, week=week, now=now)
    current = _week_feature(session, m.org, now)
    return render(
        request,
        "weekly/curate.html",
        {
            "year": year,
            "week": week,
            "candidates": [
                (c, presentation.reason_texts(i18n.request_locale(request), c.reasons))
                for c in candidates
            ],
            "current": current,
            "published_when": when(request, m.org, current.published_at)
            if current is not None and current.published_at is not None
            else "",
            "schedule": _schedule(request, m.org, now),
            # The service refuses to replace a published feature; say so before anyone tries.
            "can_pick": current is None
            or current.published_at is None
            or (current.iso_year, current.iso_week) != (year, week),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/curate")
def curate(request: Request, session: SessionDep, m: CuratorDep) -> Response:
    return _curate_page(request, session, m)


def _send_consent_requests(factory: Callable[[], Session], feature_id: int) -> None:
    jobs.send_consent_requests(factory, feature_id)


@router.post("/curate/pick", dependencies=PROTECT)
def pick(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    background: BackgroundTasks,
    m: CuratorDep,
    recognition_id: Annotated[str, Form(max_length=20)] = "",
    entry_id: Annotated[str, Form(max_length=20)] = "",
    story_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Draft this week's feature from a candidate and open it in the editor."""
    _ = i18n.gettext_for(request)
    subject: Subject | None = None
    if story_id.isdigit() and not recognition_id and not entry_id:
        story = session.get(Story, int(story_id))
        subject = story if story is not None and story.org_id == m.org.id else None
    elif recognition_id.isdigit() and not entry_id:
        rec = session.get(Recognition, int(recognition_id))
        subject = rec if rec is not None and rec.org_id == m.org.id else None
    elif entry_id.isdigit() and not recognition_id:
        entry = session.get(ContestEntry, int(entry_id))
        subject = entry if entry is not None and entry.contest.org_id == m.org.id else None
    if subject is None:
        return _curate_page(
            request,
            session,
            m,
            error=_("Choose a candidate from the list."),
            status_code=422,
        )
    now = utcnow()
    year, week = schedule.week_of(m.org, now)
    try:
        feature = drafting.draft_feature(
            session, m.org, subject, year=year, week=week, actor=m.person, now=now
        )
    except Invalid as exc:
        session.rollback()
        return _curate_page(request, session, m, error=_(exc.first.message), status_code=422)
    session.commit()
    assert feature.id is not None
    background.add_task(_send_consent_requests, factory, feature.id)
    return redirect(
        request,
        f"/{m.org.slug}/curate/{feature.id}",
        message=_("Drafted. Edit the text and approve it when everyone named has agreed."),
    )


@router.get("/curate/archive")
def curate_archive(request: Request, session: SessionDep, m: CuratorDep) -> Response:
    """Every feature that went out, withdrawn ones too, newest first."""
    features = session.exec(
        select(Feature)
        .where(
            Feature.org_id == m.org.id,
            col(Feature.status).in_([FeatureStatus.published, FeatureStatus.withdrawn]),
        )
        .order_by(col(Feature.iso_year).desc(), col(Feature.iso_week).desc())
        .limit(200)
    ).all()
    return render(request, "weekly/curate_archive.html", {"features": features})


def _editor(
    request: Request,
    session: Session,
    m: CuratorDep,
    feature: Feature,
    *,
    headline: str | None = None,
    body: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    headline = feature.headline if headline is None else headline
    body = feature.body if body is None else body
    consents = sorted(feature.consents, key=lambda c: c.person.name)
    missing = [c for c in consents if c.answer != ConsentAnswer.yes]
    return render(
        request,
        "weekly/editor.html",
        {
            "feature": feature,
            "headline": headline,
            "body": body,
            "errors": errors or {},
            "consents": consents,
            "consent_missing": missing,
            "preview": preview_html(request, session, m.org, feature, headline=headline, body=body),
            "editable": feature.status in (FeatureStatus.draft, FeatureStatus.approved),
            "reasons": presentation.reason_texts(i18n.request_locale(request), feature.reasons),
            "publish_when": _publish_when(request, m.org, feature),
            "subject_photo": drafting.subject_photo(feature),
            "max_upload_mb": get_settings().max_upload_mb,
            "headline_max": drafting.HEADLINE_MAX,
            "body_max": drafting.BODY_MAX,
        },
        status_code=status_code,
        block=block,
    )


def _publish_when(request: Request, org: Organisation, feature: Feature) -> str:
    """When an approved feature goes out: its week's publish moment, or soon if that passed."""
    _ = i18n.gettext_for(request)
    moment = schedule.schedule(org, feature.iso_year, feature.iso_week).publish_at
    if moment > utcnow():
        return when(request, org, moment)
    return _("within a few minutes")


@router.get("/curate/{feature_id}")
def editor(request: Request, session: SessionDep, m: CuratorDep, feature_id: int) -> Response:
    return _editor(request, session, m, feature_for_curator(session, m.org, feature_id))


@router.get("/curate/{feature_id}/preview")
def editor_preview(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    feature_id: int,
    headline: Annotated[str, Query(max_length=500)] = "",
    body: Annotated[str, Query(max_length=3000)] = "",
) -> Response:
    """The preview with the text as typed (htmx, while editing); nothing is stored.

    Without htmx it is the editor itself, showing the text given.
    """
    feature = feature_for_curator(session, m.org, feature_id)
    return _editor(request, session, m, feature, headline=headline, body=body, block="preview")


class PhotoChoice(StrEnum):
    keep = "keep"  # leave it as it is (a photo another curator uploaded stays theirs)
    none = "none"  # no photo
    subject = "subject"  # the recognition's or the winning entry's own photo
    upload = "upload"  # one the curator uploads now


def _choose_photo(
    session: Session,
    m: CuratorDep,
    feature: Feature,
    choice: str,
    photo: UploadFile | None,
    photo_alt: str,
) -> str | None:
    """Apply the photo choice; the message for what changed, None when nothing did."""
    try:
        picked = PhotoChoice(choice)
    except ValueError:
        raise Invalid(
            {"photo": Problem("choice", N_("Choose one of the photo options."))}
        ) from None
    if picked == PhotoChoice.keep:
        return None
    image: MediaImage | None = None
    if picked == PhotoChoice.subject:
        image = drafting.subject_photo(feature)
        if image is None:
            raise Invalid(
                {"photo": Problem("no_photo", N_("It came without a photo. Upload one."))}
            )
    elif picked == PhotoChoice.upload:
        if photo is None or not media.has_file(photo):
            raise Invalid({"photo": Problem("empty", N_("Choose a photo to upload."))})
        image = media.save_upload(session, m.org, m.person, photo, alt=photo_alt)
    before = feature.image
    drafting.set_photo(session, feature, image, actor=m.person)
    if feature.image is before:
        return None
    return N_("The photo is saved.") if image is not None else N_("It has no photo now.")


@router.post("/curate/{feature_id}", dependencies=PROTECT)
def save(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    feature_id: int,
    headline: Annotated[str | None, Form(max_length=500)] = None,
    body: Annotated[str | None, Form(max_length=3000)] = None,
    choice: Annotated[str, Form(max_length=20)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
    photo_alt: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Save the editor: its text and its photo choice are one form, so neither is lost.

    A field that is not sent is left as it is. A sync route runs in the threadpool, so
    processing an upload here keeps the event loop free.
    """
    feature = feature_for_curator(session, m.org, feature_id)
    _ = i18n.gettext_for(request)
    text_sent = headline is not None or body is not None
    try:
        if text_sent:
            drafting.update_draft(
                session,
                feature,
                headline=feature.headline if headline is None else headline,
                body=feature.body if body is None else body,
                actor=m.person,
            )
        photo_message = (
            _choose_photo(session, m, feature, choice, photo, photo_alt) if choice else None
        )
    except Invalid as exc:
        session.rollback()  # an uploaded photo's files go with it (app/media/service.py)
        session.refresh(feature)
        return _editor(
            request,
            session,
            m,
            feature,
            headline=headline,
            body=body,
            errors=field_errors(request, exc.errors),
            status_code=422,
        )
    session.commit()
    said = ([_("Saved.")] if text_sent else []) + ([_(photo_message)] if photo_message else [])
    # Back where the change shows: the photo card when the photo changed.
    url = f"/{m.org.slug}/curate/{feature_id}" + ("#photo-h" if photo_message else "")
    return redirect(request, url, message=" ".join(said) or _("Nothing changed."))


@router.post("/curate/{feature_id}/approve", dependencies=PROTECT)
def approve(request: Request, session: SessionDep, m: CuratorDep, feature_id: int) -> Response:
    """Approve for publication; while someone named has not answered, it waits for them."""
    feature = feature_for_curator(session, m.org, feature_id)
    _ = i18n.gettext_for(request)
    try:
        drafting.approve(session, feature, m.person)
    except Invalid as exc:
        session.rollback()
        return _editor(
            request,
            session,
            m,
            feature,
            errors={"approve": _(exc.first.message)},
            status_code=422,
        )
    session.commit()
    return redirect(
        request,
        f"/{m.org.slug}/curate/{feature_id}",
        message=_("Approved. It will be published at the scheduled time.")
        if consent_state(feature) == "ok"
        else _(
            "Approved. It will be published at the scheduled time if everyone named has agreed."
        ),
    )


@router.post("/curate/{feature_id}/withdraw", dependencies=PROTECT)
def withdraw(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    feature_id: int,
    confirm: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    feature = feature_for_curator(session, m.org, feature_id)
    _ = i18n.gettext_for(request)
    if confirm != "1":
        return _editor(
            request,
            session,
            m,
            feature,
            errors={"confirm": _("Tick the box to confirm that you want to withdraw it.")},
            status_code=422,
        )
    try:
        drafting.withdraw(session, feature, m.person)
    except Invalid as exc:
        session.rollback()
        return _editor(
            request, session, m, feature, errors={"confirm": _(exc.first.message)}, status_code=422
        )
    session.commit()
    return redirect(
        request,
        f"/{m.org.slug}/curate/{feature_id}",
        message=_("Withdrawn from the intranet, the archive and the feed."),
    )


@router.post("/curate/{feature_id}/ask/{consent_id}", dependencies=PROTECT)
def ask_again(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    background: BackgroundTasks,
    m: CuratorDep,
    feature_id: int,
    consent_id: int,
) -> Response:
    """Send the consent e-mail again to someone who has not answered."""
    feature = feature_for_curator(session, m.org, feature_id)
    consent = next((c for c in feature.consents if c.id == consent_id), None)
    if consent is None:
        raise NotFound()
    _ = i18n.gettext_for(request)
    try:
        ask_again_by_email(session, consent, actor=m.person)
    except Invalid as exc:
        session.rollback()
        return _editor(
            request, session, m, feature, errors={"consent": _(exc.first.message)}, status_code=422
        )
    session.commit()
    background.add_task(_send_consent_requests, factory, feature_id)
    return redirect(
        request,
        f"/{m.org.slug}/curate/{feature_id}",
        message=_("We asked %(name)s again by e-mail.") % {"name": consent.person.name},
    )
