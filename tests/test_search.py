"""Searching an event's attendees by email, name or ThriveCart order id, on both databases,
through the attendee list as an organiser uses it, and the plans that serve each kind."""

import html
import re

import pytest
from sqlalchemy import insert, select, text

from heysummit_tc.extensions import db
from heysummit_tc.models import Attendee, TicketPurchase, utcnow
from heysummit_tc.services import search
from heysummit_tc.services.attendees import AttendeeFilter, attendees_of
from heysummit_tc.sql.plans import of_event

from helpers import explain, numbers


@pytest.fixture
def buyers(app, client, organiser, session):
    """Five buyers of the organiser's event, each with a purchase through an order of theirs."""
    people = [
        ("1001", "ada.lovelace@example.com", "Ada", "Lovelace"),
        ("1002", "grace.hopper@navy.example", "Grace", "Hopper"),
        ("1003", "hans.mueller@example.de", "Hans", "Müller"),
        ("1004", "100percent_real@example.com", "Percy", "O'Hara"),
        ("1005", "tanaka@example.jp", "東京", "太郎"),
    ]
    now = utcnow()
    with app.app_context():
        for order_id, email, first, last in people:
            attendee_id = db.session.execute(insert(Attendee).values(
                event_id=organiser, email=email, first_name=first, last_name=last,
                created_at=now, updated_at=now).returning(Attendee.id)).scalar_one()
            ticket_id = db.session.execute(text(
                "SELECT id FROM tickets WHERE event_id = :e"), {"e": organiser}).scalar_one()
            db.session.execute(insert(TicketPurchase).values(
                attendee_id=attendee_id, ticket_id=ticket_id, status="paid", amount=4997,
                currency="USD", source="thrivecart", thrivecart_order_id=order_id, test=False,
                paid_at=now, created_at=now, updated_at=now))
        db.session.commit()
    return organiser


def found(client, event_id, query, **args):
    page = client.get(f"/events/{event_id}/attendees/", query_string={"q": query, **args})
    assert page.status_code == 200, page.status_code
    markup = html.unescape(page.get_data(as_text=True))
    return re.findall(r'<a href="/events/\d+/attendees/\d+/">([^<]+)</a>', markup)


@pytest.mark.parametrize(("query", "expected"), [
    ("lovelace", ["ada.lovelace@example.com"]),  # a fragment of the email (and of the name)
    ("LOVELACE", ["ada.lovelace@example.com"]),  # in any case
    ("Grace Hopper", ["grace.hopper@navy.example"]),  # the whole name, first then last
    ("hopp", ["grace.hopper@navy.example"]),
    ("MÜLL", ["hans.mueller@example.de"]),  # a name with a letter past ASCII, case folded
    ("example.com", ["100percent_real@example.com", "ada.lovelace@example.com"]),
    ("ada.lovelace@example.com", ["ada.lovelace@example.com"]),  # a whole address: exact
    ("Ada.Lovelace@Example.com", ["ada.lovelace@example.com"]),
    ("1002", ["grace.hopper@navy.example"]),  # an order id: the buyers of that order
    ("100", ["100percent_real@example.com"]),  # digits no order has: searched as text
    ("O'Hara", ["100percent_real@example.com"]),
    ("東京 太郎", ["tanaka@example.jp"]),
    ("nobody-at-all", []),
])
def test_search_finds_attendees_by_email_name_or_order_id(client, buyers, query, expected):
    assert found(client, buyers, query) == expected


@pytest.mark.parametrize("query", [
    "%" * 127 + "_" * 127,  # 254 characters of LIKE's own wildcards, matched literally
    "%", "\\", '"', "a'b\"c", "\x00%\x00",
    "e\u0301e\u0301e\u0301",  # combining accents the trigram tokenizers split oddly
    "🎟️🎟️🎟️", "İstanbul", "straße", "ﬀﬁﬂ", "\u202eevil", "א", "x" * 254,
])
def test_odd_queries_get_a_correct_page_never_an_error(client, buyers, query, error_lines):
    assert found(client, buyers, query) == []
    assert error_lines == []


def test_percent_and_underscore_in_a_query_are_text_not_wildcards(client, buyers):
    assert found(client, buyers, "_") == ["100percent_real@example.com"]
    assert found(client, buyers, "'") == ["100percent_real@example.com"]  # O'Hara
    assert found(client, buyers, "100percent_") == ["100percent_real@example.com"]
    assert found(client, buyers, "ent_r") == ["100percent_real@example.com"]
    assert found(client, buyers, "t%r") == []


def test_a_short_query_searches_the_newest_attendees_and_the_form_says_so(
        client, buyers, monkeypatch):
    page = html.unescape(client.get(f"/events/{buyers}/attendees/").get_data(as_text=True))
    assert ("One or two characters search the newest 5,000 attendees; three or more search "
            "them all.") in page
    assert found(client, buyers, "hs") == []
    assert found(client, buyers, "NS") == ["hans.mueller@example.de"]
    assert found(client, buyers, "Ø") == []
    monkeypatch.setattr(search, "SHORT_WINDOW", 2)  # the two newest: tanaka and Percy
    assert found(client, buyers, "ns") == []
    assert found(client, buyers, "ta") == ["tanaka@example.jp"]


def test_another_events_attendees_are_never_found(client, buyers, make_event, app):
    other = make_event("Other Summit")
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(Attendee).values(
            event_id=other, email="ada.lovelace@other.example", first_name="Ada",
            last_name="Lovelace", created_at=now, updated_at=now))
        db.session.commit()
    assert found(client, buyers, "lovelace") == ["ada.lovelace@example.com"]
    assert found(client, buyers, "ada.lovelace@other.example") == []


def test_search_results_page_with_the_lists_keyset(app, client, organiser, session):
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(Attendee), [
            {"event_id": organiser, "email": f"speaker{n:03d}@example.org", "first_name": "",
             "last_name": "", "created_at": now, "updated_at": now} for n in range(120)])
        db.session.commit()
        first = attendees_of(db.session, organiser, AttendeeFilter("speaker"))
        second = attendees_of(db.session, organiser,
                              AttendeeFilter("speaker", before=first.next_before))
        third = attendees_of(db.session, organiser,
                             AttendeeFilter("speaker", before=second.next_before))
    emails = [a.email for a in first.items + second.items + third.items]
    assert emails == [f"speaker{n:03d}@example.org" for n in reversed(range(120))]
    assert third.next_before is None
    # Through the page, the link to the next one keeps the query.
    page = client.get(f"/events/{organiser}/attendees/", query_string={"q": "speaker"})
    assert f"q=speaker&amp;before={first.next_before}" in page.get_data(as_text=True)


def test_an_attendee_renamed_or_removed_is_searched_as_they_are_now(app, client, buyers):
    with app.app_context():
        ada = db.session.scalar(select(Attendee).where(Attendee.first_name == "Ada"))
        ada.last_name = "Byron"
        db.session.commit()
    assert found(client, buyers, "byron") == ["ada.lovelace@example.com"]
    assert found(client, buyers, "Ada Lovelace") == []
    with app.app_context():
        db.session.delete(db.session.scalar(select(Attendee).where(Attendee.first_name == "Ada")))
        db.session.commit()
    assert found(client, buyers, "byron") == []


@pytest.fixture
def crowd(app, make_event, buyers):
    """Many more attendees, each with an order: the organiser's event's and another's
    interleaved, the organiser's holding the highest ids; the statistics as the database
    keeps them. PostgreSQL's planner weighs the trigram index against walking the event's
    rows, so it gets 100,000 (written by the server itself); SQLite's plans do not weigh."""
    other = make_event("Other Summit")
    with app.app_context():
        session = db.session
        ticket_id = session.scalar(text("SELECT id FROM tickets WHERE event_id = :e"),
                                   {"e": buyers})
        count = 100_000 if session.get_bind().dialect.name == "postgresql" else 10_000
        session.execute(text(
            "INSERT INTO attendees (event_id, email, first_name, last_name, created_at, "
            "updated_at) SELECT CASE WHEN n % 2 = 1 OR n > :count * 9 / 10 THEN :mine "
            "ELSE :other END, 'guest' || n || '@example.com', 'Guest', '' || n, "
            ":now, :now FROM (" + numbers(session) + ") AS numbers"),
            {"count": count, "mine": buyers, "other": other, "now": utcnow()})
        session.execute(text(
            "INSERT INTO ticket_purchases (attendee_id, ticket_id, status, amount, currency, "
            "source, thrivecart_order_id, test, created_at, updated_at) SELECT id, :ticket, "
            "'paid', 4997, 'USD', 'thrivecart', '77' || id, false, :now, :now FROM attendees "
            "WHERE email LIKE 'guest%'"), {"ticket": ticket_id, "now": utcnow()})
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    return buyers, other


# Each kind of query, and what must be in its plan on each database.
SERVED_BY = [
    # A rare fragment: the trigram index.
    ("lovelace", {"postgresql": "ix_attendees_search", "sqlite": "VIRTUAL TABLE"}),
    # A common one (every guest): the event's newest first, until the page is full.
    ("guest", {"postgresql": "Index Scan Backward using ix_attendees_event_id_id",
               "sqlite": "VIRTUAL TABLE"}),
    # A whole address: the (event_id, email) index.
    ("ada.lovelace@example.com", {"postgresql": "uq_attendees_event_id",
                                  "sqlite": "(event_id=? AND email=?)"}),
    # An order id: the order id's index, then the event's attendees by id.
    ("1002", {"postgresql": "ix_ticket_purchases_thrivecart_order_id",
              "sqlite": "ix_ticket_purchases_thrivecart_order_id"}),
    # Two characters: the event's newest attendees, never the trigram index.
    ("gu", {"postgresql": "ix_attendees_event_id_id", "sqlite": "ix_attendees_event_id_id"}),
    # No query: the event's newest first, from the (event_id, id) index.
    (None, {"postgresql": "ix_attendees_event_id_id", "sqlite": "ix_attendees_event_id_id"}),
]


def test_each_kind_of_search_is_served_by_its_index(app, crowd):
    with app.app_context():
        session = db.session
        dialect = session.get_bind().dialect.name
        for query, index in SERVED_BY:
            # Both events (one holds the newest ids), but an order only the first has.
            for event_id in crowd[:1] if query == "1002" else crowd:
                statement = (select(Attendee.id)
                             .order_by(Attendee.event_id.desc(), Attendee.id.desc()).limit(51))
                if query:
                    statement = search.narrowed(statement, session, event_id,
                                                search.plan_for(query), None)
                else:
                    statement = statement.where(of_event(Attendee.event_id, event_id))
                plan = explain(session.connection(), statement)
                session.rollback()
                assert index[dialect] in plan, (query, plan)
                assert "SCAN attendees" not in plan and "Seq Scan" not in plan, (query, plan)
                if query == "gu":
                    assert "ix_attendees_search" not in plan, plan
