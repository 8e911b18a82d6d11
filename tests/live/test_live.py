"""Storskjerm: words, sessions, answers from phones (members and anonymous), moderation, the
screen page, exports, the API and the privacy helpers, through HTTP where a person would."""

import asyncio
import csv
import io
import re

import pytest
from sqlmodel import select

from app.auth.service import create_api_token
from app.live import hub as live_hub
from app.live import privacy, service, words
from app.live.models import AnswerStatus, LiveAnswer, LiveSession, State
from app.orgs.models import Role
from tests.helpers import World, csrf_token, login, make_org, make_person, make_value, post_form

API = "/api/v1"


@pytest.fixture
def world(db):
    org = make_org(db, slug="asnes", name="Åsnes kommune", locale="nb")
    value = make_value(db, org, name="Samarbeid")
    curator = make_person(db, org, role=Role.curator, name="Kari Kurator")
    employee = make_person(db, org, name="Anne Ansatt")
    other = make_person(db, org, name="Bjørn Ansatt")
    token = create_api_token(db, curator, "storskjerm")[1]
    employee_token = create_api_token(db, employee, "phone")[1]
    return World(
        org=org, value=value, curator=curator, employee=employee, other=other,
        token=token, employee_token=employee_token,
    )  # fmt: skip


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_session(db, world, **kw) -> LiveSession:
    live = service.create_session(
        db, world.org, actor=world.curator, question=kw.pop("question", "Hva gjør deg stolt?"),
        kind=kw.pop("kind", "cloud"), **kw,
    )  # fmt: skip
    if kw.get("state", "open") == "open":
        service.set_state(db, live, "open", actor=world.curator)
    db.flush()
    return live


def answers_of(db, live) -> list[LiveAnswer]:
    db.expire_all()
    return list(db.exec(select(LiveAnswer).where(LiveAnswer.session_id == live.id)))


# --- words ----------------------------------------------------------------------------------


def test_inflected_forms_are_one_word_in_its_most_common_form():
    cloud = words.cloud(["samarbeidet", "samarbeid", "samarbeida", "samarbeidet", "glede"], "nb")
    assert [(w.text, w.count) for w in cloud] == [("samarbeidet", 4), ("glede", 1)]
    assert words.cloud(["gemenskapen", "gemenskap", "gemenskap"], "sv")[0].text == "gemenskap"


def test_norwegian_and_swedish_letters_are_not_folded():
    assert words.clean_words("Ærlighet, STOLTHET, Øy") == ["ærlighet", "stolthet", "øy"]
    cloud = words.cloud(["sår", "sar"], "nb")
    assert sorted(w.text for w in cloud) == ["sar", "sår"]
    assert words.clean_words("ｓａｍａｒｂｅｉｄ") == ["samarbeid"]  # NFKC: full-width letters


@pytest.mark.parametrize(
    "text,code",
    [
        ("", "required"),
        ("   ", "required"),
        ("en to tre fire", "too_many"),
        ("a" * 41, "too_long"),
        ("<b>stolt</b>", "not_a_word"),
        ("{{ 7*7 }}", "not_a_word"),
        ("${jndi}", "not_a_word"),
        ("stolt\x07", "control"),
        ("stolt\u202e", "control"),
    ],
)
def test_bad_words_are_refused_with_a_reason(text, code):
    with pytest.raises(ValueError) as exc:
        words.clean_words(text)
    assert exc.value.args[0].code == code


# --- curators -------------------------------------------------------------------------------


def test_a_curator_creates_opens_and_closes_a_session_on_the_pages(client, db, world):
    login(client, db, world.curator)
    response = post_form(
        client, "/asnes/live",
        {"question": "Hva er viktigst?", "kind": "choice", "options": "Kolleger\nBrukerne\n",
         "value_id": str(world.value.id), "allow_anonymous": "1"},
    )  # fmt: skip
    assert response.status_code == 303
    live = db.exec(select(LiveSession).where(LiveSession.org_id == world.org.id)).one()
    assert response.headers["location"] == f"/asnes/live/{live.id}"
    assert live.options == ["Kolleger", "Brukerne"] and live.value_id == world.value.id
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{6}", live.code)
    page = client.get(f"/asnes/live/{live.id}")
    assert live.code in page.text and "Utkast" in page.text
    assert post_form(client, f"/asnes/live/{live.id}/state", {"state": "open"}).status_code == 303
    db.refresh(live)
    assert live.state == State.open and live.opened_at is not None
    post_form(client, f"/asnes/live/{live.id}/state", {"state": "closed"})
    db.refresh(live)
    assert live.state == State.closed


def test_bad_session_input_is_shown_next_to_the_fields(client, db, world):
    login(client, db, world.curator)
    response = post_form(
        client, "/asnes/live",
        {"question": "", "kind": "choice", "options": "Bare én", "value_id": "x"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Dette feltet må fylles ut." in response.text or 'id="f-question-error"' in response.text
    assert 'id="f-options-error"' in response.text and 'id="f-value_id-error"' in response.text
    assert db.exec(select(LiveSession)).all() == []


def test_employees_cannot_run_sessions(client, db, world):
    login(client, db, world.employee)
    assert client.get("/asnes/live").status_code == 403
    body = {"question": "Q", "kind": "cloud"}
    response = client.post(
        f"{API}/orgs/asnes/live", json=body, headers=bearer(world.employee_token)
    )
    assert response.status_code == 403


# --- answering ------------------------------------------------------------------------------


def test_the_api_flow_create_open_answer_results(client, db, world):
    created = client.post(
        f"{API}/orgs/asnes/live",
        json={"question": "Hva gjør deg stolt?", "kind": "cloud", "allow_anonymous": True},
        headers=bearer(world.token),
    )
    assert created.status_code == 201, created.text
    live = created.json()
    assert live["state"] == "draft" and live["join_url"].endswith(f"/live/{live['code']}")
    # A draft cannot be answered nor found by its code.
    url = f"{API}/live/{live['code']}/answers"
    assert (
        client.post(url, json={"text": "x"}, headers=bearer(world.employee_token)).status_code
        == 404
    )
    state = client.post(
        f"{API}/orgs/asnes/live/{live['id']}/state",
        json={"state": "open"},
        headers=bearer(world.token),
    )
    assert state.json()["state"] == "open"
    first = client.post(
        url, json={"text": "samarbeid, glede"}, headers=bearer(world.employee_token)
    )
    assert first.status_code == 200 and first.json()["words"] == ["samarbeid", "glede"]
    # Changing the answer replaces it.
    client.post(url, json={"text": "samarbeidet"}, headers=bearer(world.employee_token))
    results = client.get(f"{API}/orgs/asnes/live/{live['id']}/results", headers=bearer(world.token))
    assert results.json()["participants"] == 1
    assert results.json()["words"] == [{"text": "samarbeidet", "count": 1}]


def test_an_anonymous_phone_answers_with_its_own_cookie_without_javascript(client, db, world):
    live = new_session(db, world, allow_anonymous=True)
    page = client.get(f"/live/{live.code.lower()}")
    assert page.status_code == 200 and "tod_live_device" in page.headers["set-cookie"]
    assert 'name="text"' in page.text
    sent = post_form(client, f"/live/{live.code}", {"text": "Stolthet"})
    assert sent.status_code == 303
    assert "Takk" in client.get(sent.headers["location"]).text
    [row] = answers_of(db, live)
    assert row.words == ["stolthet"] and row.person_id is None and row.participant.startswith("d")
    # A second phone is a second participant.
    client.cookies.delete("tod_live_device")
    client.get(f"/live/{live.code}")
    post_form(client, f"/live/{live.code}", {"text": "glede"})
    assert len(answers_of(db, live)) == 2


def test_htmx_answers_swap_the_form_with_the_thanks(client, db, world):
    live = new_session(db, world)
    login(client, db, world.employee)
    h = {"HX-Request": "true", "X-CSRF-Token": csrf_token(client)}
    sent = client.post(f"/live/{live.code}", data={"text": "stolt"}, headers=h)
    assert sent.status_code == 200 and sent.text.startswith('<div id="answer"')
    assert "Takk!" in sent.text and 'value="stolt"' in sent.text
    bad = client.post(f"/live/{live.code}", data={"text": "<b>"}, headers=h)
    assert bad.status_code == 422 and 'id="f-text-error"' in bad.text


def test_members_only_sessions_ask_anonymous_phones_to_log_in(client, db, world):
    live = new_session(db, world)
    page = client.get(f"/live/{live.code}")
    assert "Logg inn for å svare" in page.text and 'name="text"' not in page.text
    response = post_form(client, f"/live/{live.code}", {"text": "glede"})
    assert response.status_code == 403 and answers_of(db, live) == []
    # A member of another organisation is not a member here.
    stranger = make_person(db, make_org(db, slug="vaga"), name="Vera Vågå")
    login(client, db, stranger)
    assert post_form(client, f"/live/{live.code}", {"text": "glede"}).status_code == 403


@pytest.mark.parametrize(
    "text", ["", "<script>alert(1)</script>", "{{ config }}", "a" * 41, "en to tre fire", "hei\x00"]
)
def test_bad_answers_get_a_message_on_the_phone_and_nothing_is_stored(client, db, world, text):
    live = new_session(db, world)
    login(client, db, world.employee)
    response = post_form(client, f"/live/{live.code}", {"text": text})
    assert response.status_code == 422
    assert 'id="f-text-error"' in response.text
    assert "<script>alert" not in response.text
    assert answers_of(db, live) == []


def test_answers_to_closed_sessions_and_wrong_codes(client, db, world):
    live = new_session(db, world)
    service.set_state(db, live, "closed", actor=world.curator)
    db.flush()
    login(client, db, world.employee)
    response = post_form(client, f"/live/{live.code}", {"text": "glede"})
    assert response.status_code == 422 and "ikke åpen for svar" in response.text
    api = client.post(
        f"{API}/live/{live.code}/answers",
        json={"text": "glede"},
        headers=bearer(world.employee_token),
    )
    assert api.status_code == 422 and api.json()["error"]["fields"]["answer"]["code"] == "closed"
    assert client.get("/live/ZZZZZZ").status_code == 404
    join = client.get("/live", params={"code": "zzz zzz"})
    assert join.status_code == 404 and "Ingen økt har denne koden" in join.text
    assert (
        client.get("/live", params={"code": live.code.lower()}, follow_redirects=False).headers[
            "location"
        ]
        == f"/live/{live.code}"
    )


def test_choice_and_scale_answers(client, db, world):
    choice = new_session(db, world, kind="choice", options=["Kolleger", "Brukerne", "Faget"])
    scale = new_session(db, world, kind="scale")
    h = bearer(world.employee_token)
    assert (
        client.post(f"{API}/live/{choice.code}/answers", json={"choice": 4}, headers=h).status_code
        == 422
    )
    assert (
        client.post(f"{API}/live/{choice.code}/answers", json={"text": "x"}, headers=h).status_code
        == 422
    )
    assert (
        client.post(f"{API}/live/{choice.code}/answers", json={"choice": 2}, headers=h).status_code
        == 200
    )
    assert (
        client.post(f"{API}/live/{scale.code}/answers", json={"scale": 6}, headers=h).status_code
        == 422
    )
    assert (
        client.post(f"{API}/live/{scale.code}/answers", json={"scale": "5"}, headers=h).status_code
        == 422
    )
    assert (
        client.post(f"{API}/live/{scale.code}/answers", json={"scale": 4}, headers=h).status_code
        == 200
    )
    t = service.tally(db, choice)
    assert [(b.label, b.count, b.percent) for b in t.bars] == [
        ("Kolleger", 0, 0),
        ("Brukerne", 1, 100),
        ("Faget", 0, 0),
    ]
    assert service.tally(db, scale).average == 4
    login(client, db, world.other)
    page = client.get(f"/live/{scale.code}")
    assert page.text.count('name="scale"') == 5


def test_one_participant_answering_fast_gets_429_and_others_are_not_slowed(client, db, world):
    live = new_session(db, world)
    h = bearer(world.employee_token)
    codes = [
        client.post(
            f"{API}/live/{live.code}/answers", json={"text": f"ord{chr(97 + n % 26)}"}, headers=h
        ).status_code
        for n in range(50)
    ]
    assert codes[: service.ANSWERS_PER_WINDOW] == [200] * service.ANSWERS_PER_WINDOW
    assert 429 in codes
    refused = client.post(f"{API}/live/{live.code}/answers", json={"text": "x"}, headers=h)
    if refused.status_code == 429:
        assert int(refused.headers["retry-after"]) >= 1
    other = create_api_token(db, world.other, "other")[1]
    response = client.post(
        f"{API}/live/{live.code}/answers", json={"text": "glede"}, headers=bearer(other)
    )
    assert response.status_code == 200


# --- moderation -----------------------------------------------------------------------------


def test_hiding_an_answer_takes_it_off_the_screen_and_it_can_be_restored(client, db, world):
    live = new_session(db, world)
    service.answer(db, live, service.Participant.member(world.employee), text="stolt")
    service.answer(db, live, service.Participant.member(world.other), text="glede")
    db.flush()
    row = next(a for a in answers_of(db, live) if a.words == ["stolt"])
    login(client, db, world.curator)
    version = live.version
    response = client.post(
        f"/asnes/live/{live.id}/answers/{row.id}",
        data={"status": "hidden"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_token(client)},
    )
    assert response.status_code == 200 and "Gjenopprett" in response.text
    db.refresh(live)
    assert live.version > version
    assert [w.text for w in service.tally(db, live).cloud] == ["glede"]
    post_form(client, f"/asnes/live/{live.id}/answers/{row.id}", {"status": "shown"})
    assert sorted(w.text for w in service.tally(db, live).cloud) == ["glede", "stolt"]
    # Nothing is deleted: the CSV lists every answer with its status.
    export = client.get(f"/asnes/live/{live.id}/answers.csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == 3 and {r[0] for r in rows[1:]} == {"stolt", "glede"}


def test_held_words_wait_for_a_curator(client, db, world):
    login(client, db, world.curator)
    assert (
        post_form(client, "/asnes/live/words/held", {"word": "Dritt", "locale": "nb"}).status_code
        == 303
    )
    assert (
        post_form(client, "/asnes/live/words/held", {"word": "to ord", "locale": "nb"}).status_code
        == 422
    )
    live = new_session(db, world)
    row = service.answer(
        db, live, service.Participant.member(world.employee), text="drittjobb, dritten"
    )
    assert row.status == AnswerStatus.held
    assert service.tally(db, live).cloud == [] and service.tally(db, live).participants == 1
    page = client.get(f"/asnes/live/{live.id}")
    assert "dritten" in page.text and "Holdt tilbake" in page.text
    post_form(client, f"/asnes/live/{live.id}/answers/{row.id}", {"status": "shown"})
    assert len(service.tally(db, live).cloud) == 2


def test_prepared_sessions_hide_answers_until_revealed(client, db, world):
    live = new_session(db, world, hide_until_revealed=True)
    service.answer(db, live, service.Participant.member(world.employee), text="stolt")
    db.flush()
    login(client, db, world.curator)
    screen = client.get(f"/asnes/live/{live.id}/screen")
    assert "vises når" in screen.text and ">stolt" not in screen.text
    post_form(client, f"/asnes/live/{live.id}/settings", {"revealed": "1"})
    assert "stolt" in client.get(f"/asnes/live/{live.id}/screen").text


# --- the screen -----------------------------------------------------------------------------


def test_the_screen_shows_code_qr_count_and_the_cloud(client, db, world):
    live = new_session(db, world, allow_anonymous=True)
    service.answer(db, live, service.Participant.member(world.employee), text="samarbeid")
    service.answer(db, live, service.Participant.member(world.other), text="samarbeidet")
    db.flush()
    login(client, db, world.curator)
    page = client.get(f"/asnes/live/{live.id}/screen")
    assert page.status_code == 200
    assert live.code in page.text and 'class="qr"' in page.text and "style=" not in page.text
    assert (
        "2 svar" in page.text
        and '<li class="w6">samarbeid <span class="cloud-n">2</span>' in page.text
    )
    assert f'hx-sse:connect="/asnes/live/{live.id}/screen/stream"' in page.text


def test_the_screen_link_works_without_login_only_with_its_key(client, db, world):
    live = new_session(db, world)
    assert (
        client.get(f"/asnes/live/{live.id}/screen", params={"key": live.screen_key}).status_code
        == 200
    )
    assert client.get(f"/asnes/live/{live.id}/screen", params={"key": "wrong"}).status_code == 404
    assert client.get(f"/asnes/live/{live.id}/screen", follow_redirects=False).status_code == 303
    login(client, db, world.employee)
    assert client.get(f"/asnes/live/{live.id}/screen").status_code == 403


def test_a_closed_sessions_results_on_the_phones(client, db, world):
    live = new_session(db, world, allow_anonymous=True)
    service.answer(db, live, service.Participant.member(world.employee), text="arbeidsglede")
    service.set_state(db, live, "closed", actor=world.curator)
    db.flush()
    assert "arbeidsglede" not in client.get(f"/live/{live.code}").text
    login(client, db, world.curator)
    post_form(client, f"/asnes/live/{live.id}/settings", {"results_shared": "1"})
    client.cookies.clear()
    page = client.get(f"/live/{live.code}")
    assert "arbeidsglede" in page.text and "Resultater" in page.text


def test_the_cloud_as_svg_has_no_styles_and_a_text_alternative(client, db, world):
    live = new_session(db, world)
    service.answer(db, live, service.Participant.member(world.employee), text="stolt, glede")
    db.flush()
    login(client, db, world.curator)
    response = client.get(f"/asnes/live/{live.id}/cloud.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "style" not in response.text and "<desc" in response.text and "stolt: 1" in response.text


# --- the broadcast --------------------------------------------------------------------------


def test_listeners_share_one_render_and_reconnects_catch_up_once():
    """Frames are whole states: a listener that reconnects gets the current one unless it has
    it; every listener gets the very same bytes object; changes are coalesced."""

    async def scenario() -> None:
        hub = live_hub.Hub()
        version = {"n": 1}
        calls = []

        def render(session_id: int) -> live_hub.Frame:
            calls.append(version["n"])
            body = f"id: {version['n']}\ndata: v{version['n']}\n\n".encode()
            return live_hub.Frame(version=version["n"], screen=body, phone=b"p" + body)

        async def take(stream, n):
            return [await anext(stream) for _ in range(n)]

        a = hub.listen(7, render, last_event_id=None)
        b = hub.listen(7, render, last_event_id=None)
        first_a, first_b = await take(a, 1), await take(b, 1)
        assert first_a[0] is first_b[0]
        # A burst of changes: at most one render per interval, the last state wins.
        for n in range(2, 12):
            version["n"] = n
            hub.changed(7)
        got_a = await asyncio.wait_for(take(a, 1), 2)
        assert got_a[0].startswith(b"id: ")
        await asyncio.sleep(live_hub.INTERVAL * 2)
        assert len(calls) <= 4
        # A reconnect with the current id gets nothing until the next change...
        c = hub.listen(7, render, last_event_id=str(version["n"]))
        pending = asyncio.ensure_future(anext(c))
        await asyncio.sleep(0.05)
        assert not pending.done()
        version["n"] = 20
        hub.changed(7)
        assert (await asyncio.wait_for(pending, 2)) == b"id: 20\ndata: v20\n\n"
        # ...and one with an old id gets the current state at once.
        d = hub.listen(7, render, last_event_id="3")
        assert (await asyncio.wait_for(anext(d), 1)).startswith(b"id: 20")
        hub.close()
        for stream in (a, b, c, d):
            with pytest.raises(StopAsyncIteration):
                while True:
                    await asyncio.wait_for(anext(stream), 1)
        assert hub.listeners(7) == 0

    asyncio.run(scenario())


def test_a_commit_announces_the_change_and_a_rollback_does_not(db, world, monkeypatch):
    seen: list[int] = []
    monkeypatch.setattr(live_hub.HUB, "changed", seen.append)
    live = new_session(db, world)
    db.commit()
    assert seen and set(seen) == {live.id}
    seen.clear()
    service.answer(db, live, service.Participant.member(world.employee), text="stolt")
    db.rollback()
    db.commit()
    assert seen == []


# --- privacy --------------------------------------------------------------------------------


def test_export_and_erase_a_persons_answers(db, world):
    live = new_session(db, world, allow_anonymous=True)
    service.answer(db, live, service.Participant.member(world.employee), text="stolt")
    service.answer(db, live, service.Participant.device("phone-cookie"), text="glede")
    db.flush()
    exported = privacy.export_person(db, world.employee)
    assert [a["words"] for a in exported["live_answers"]] == [["stolt"]]
    assert exported["live_answers"][0]["question"] == "Hva gjør deg stolt?"
    privacy.erase_person(db, world.employee)
    assert [a.words for a in answers_of(db, live)] == [["glede"]]
    assert privacy.export_person(db, world.employee) == {"live_answers": []}
