"""Cards as plain columns: the same facts as the ORM objects, in one statement per page."""

import pytest
from sqlalchemy import event

from app.recognition import cards, feeds
from app.recognition.reactions import reactions_for, toggle_reaction
from tests.helpers import (
    World,
    give,
    login,
    make_department,
    make_image,
    make_org,
    make_person,
    make_value,
)


@pytest.fixture
def world(db):
    org = make_org(db, name="Åsnes kommune", slug="asnes")
    dept = make_department(db, org, name="Hjemme|tjenesten, 'nord' & <sør>")
    values = [
        make_value(db, org, name="Samarbeid", position=2, colour="#aa0000"),
        make_value(db, org, name="Engasjement <b>", position=1, colour="#00aa00"),
        make_value(db, org, name="Åpenhet", position=3),
    ]
    me = make_person(db, org, name="Kari Nordmann", department_id=dept.id)
    # Names with what a separator could be confused with: commas, pipes, quotes, markup.
    colleague = make_person(db, org, name='Åse Løkken, jr. | "ÅL"', department_id=dept.id)
    teacher = make_person(db, org, name="<b>Øystein</b> Brænd")
    return World(org=org, dept=dept, values=values, me=me, colleague=colleague, teacher=teacher)


def _orm_view(db, viewer, rec):
    """What the cards show, read from the ORM objects as the pages did before."""
    db.refresh(rec)
    counts = reactions_for(db, viewer, [rec.id])[rec.id]
    return {
        "giver": (rec.giver.id, rec.giver.name),
        "recipients": sorted(
            (
                rr.person.name,
                rr.person.id,
                rr.person.department.name if rr.person.department else None,
            )
            for rr in rec.recipients
        ),
        "values": [
            (v.id, v.name, v.colour)
            for v in sorted((link.value for link in rec.value_links), key=lambda v: v.position)
        ],
        "reactions": [(c.kind, c.count, c.mine) for c in counts],
        "text": rec.text,
        "visibility": rec.visibility,
        "hidden": (rec.hidden_by_curator, rec.hidden_reason),
        "photo": rec.photo_id,
    }


def _card_view(card):
    return {
        "giver": (card.giver_id, card.giver_name),
        "recipients": [(p.name, p.id, p.department) for p in card.recipients],
        "values": [(v.id, v.name, v.colour) for v in card.values],
        "reactions": [(c.kind, c.count, c.mine) for c in card.reactions],
        "text": card.text,
        "visibility": card.visibility,
        "hidden": (card.hidden_by_curator, card.hidden_reason),
        "photo": card.photo.id if card.photo else None,
    }


def test_cards_show_what_the_objects_hold(db, world):
    w = world
    photo = make_image(db, w.org, w.teacher)
    recs = [
        give(db, w.me, [w.colleague, w.teacher], w.values, text="Takk, | og \x1f? <i>x</i>"),
        give(db, w.teacher, [w.me], w.values[:1], photo=photo),
        give(db, w.colleague, [w.teacher], w.values[1:2], visibility="private"),
        give(db, w.teacher, [w.colleague], w.values[2:]),
    ]
    for person, kind in [(w.me, "clap"), (w.colleague, "clap"), (w.teacher, "heart")]:
        toggle_reaction(db, person, recs[0], kind)
    toggle_reaction(db, w.me, recs[1], "raise")
    db.flush()
    for viewer in (w.me, w.colleague, w.teacher):
        got = cards.cards_for(db, viewer, [r.id for r in recs])
        assert [c.id for c in got] == [r.id for r in recs]
        for rec, card in zip(recs, got, strict=True):
            assert _card_view(card) == _orm_view(db, viewer, rec)
    first = cards.cards_for(db, w.me, [recs[0].id])[0]
    assert [(c.kind.value, c.count, c.mine) for c in first.reactions] == [
        ("clap", 2, True),
        ("heart", 1, False),
        ("raise", 0, False),
    ]
    # Values in the organisation's order, recipients by name.
    assert [v.name for v in first.values] == ["Engasjement <b>", "Samarbeid", "Åpenhet"]


def test_a_feed_page_is_one_statement(db, world):
    w = world
    for i in range(25):
        give(db, w.colleague, [w.me, w.teacher], w.values[: 1 + i % 3], text=f"Takk nr. {i}!")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_a):
        statements.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = feeds.feed(db, w.me)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(page.items) == 20 and page.next_cursor
    assert len(statements) == 1, statements
    assert all(len(c.recipients) == 2 and c.values for c in page.items)


def test_feed_page_renders_the_cards(client, db, world):
    w = world
    rec = give(db, w.colleague, [w.me], w.values[:2], text="<script>alert(1)</script> takk")
    toggle_reaction(db, w.teacher, rec, "heart")
    login(client, db, w.me)
    page = client.get(f"/{w.org.slug}/", headers={"Accept-Language": "en"}).text
    card = page[page.index(f'aria-labelledby="rec-{rec.id}-title"') :].split("</article>")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; takk" in card
    assert "Åse Løkken, jr. | &#34;ÅL&#34; saw Kari Nordmann" in card
    assert card.index("Engasjement &lt;b&gt;") < card.index("Samarbeid")
    # One form with a button per reaction; each says its count and whether it is mine.
    assert card.count("<form") == 1 and card.count('name="kind"') == 3
    assert 'value="heart" class="reaction"' in card
    assert (
        '<span class="visually-hidden">Love, </span><span class="reaction-count">1</span>' in card
    )
