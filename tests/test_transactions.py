"""The transaction rule: a view commits once, or rolls back and shows the error; none leaves a
failed transaction open, and a race past a service's check ends as the same form error."""

import html

import pytest
from flask import request
from sqlalchemy import select

from heysummit_tc.extensions import db
from heysummit_tc.models import Ticket
from heysummit_tc.services import tickets as ticket_service

from helpers import PASSWORD

# ``watched`` adds a handler, which only an app that has served nothing yet takes.
pytestmark = pytest.mark.own_app


@pytest.fixture
def watched(app):
    """Record, as each request ends, whether its database session is still usable."""
    seen = []

    @app.after_request
    def record(response):
        seen.append((request.path, db.session.is_active))
        return response

    return seen


@pytest.fixture
def summit(make_user, make_event, make_ticket, login):
    bob, ada = make_user("bob@example.com"), make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=ada, editors=[bob])
    ticket = make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    make_ticket(event_id, "Workbook", "bump-3")
    login("ada@example.com")
    return event_id, ticket


# A submission per form whose service refuses it, and the message it must show.
REFUSED = [
    ("/events/new", {"name": "X", "currency": "XYZ"}, "not an ISO 4217 currency code"),
    ("/events/{e}/edit", {"name": "X", "currency": "XYZ"}, "not an ISO 4217 currency code"),
    ("/events/{e}/revenue/tickets/new", {"name": "VIP", "external_id": "bump-3",
                                         "item_type": "product", "on_payment_failed": "keep",
                                         "on_cancel": "keep"},
     "bump-3 is already an External ID of the ticket “Workbook”"),
    ("/events/{e}/revenue/tickets/{t}/", {"name": "All-Access", "external_id": "product 2",
                                          "item_type": "product", "on_payment_failed": "keep",
                                          "on_cancel": "keep"},
     "is not a ThriveCart item id"),
    ("/events/{e}/revenue/tickets/{t}/prices", {"price-amount": "ninety",
                                                "price-currency": "USD"}, "ninety"),
    ("/events/{e}/setup/integrations/thrivecart/configure", {"secret_word": "a b"},
     "Paste the Secret Word exactly as ThriveCart shows it"),
    ("/events/{e}/setup/access-email", {"subject": "Hi {nope}", "body": "{access_link}"},
     "Unknown placeholder {nope}"),
    ("/events/{e}/team/", {"email": "bob@example.com", "role": "organiser"},
     "bob@example.com is already on this event's team"),
    ("/account/password", {"current_password": "wrong one", "password": "a long new one!"},
     "The current password is wrong."),
]


@pytest.mark.parametrize(("url", "data", "message"), REFUSED,
                         ids=[url for url, _data, _message in REFUSED])
def test_a_refused_form_answers_400_with_its_error_and_a_usable_session(
    watched, client, summit, url, data, message
):
    event_id, ticket = summit
    response = client.post(url.format(e=event_id, t=ticket), data=data)
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert watched and all(active for _path, active in watched)


def test_a_race_past_the_external_id_check_is_the_same_form_error(
    watched, client, summit, session, monkeypatch
):
    """Two editors save the same External ID at once: the check passes for both; the unique
    constraint stops the second, which must read as the form error, not a 500."""
    event_id, ticket = summit
    monkeypatch.setattr(ticket_service, "_check_external_ids_free", lambda *args: None)
    response = client.post(f"/events/{event_id}/revenue/tickets/{ticket}/", data={
        "name": "All-Access", "external_id": "bump-3", "item_type": "product",
        "on_payment_failed": "keep", "on_cancel": "keep"})
    assert response.status_code == 400
    assert "bump-3 was given to another ticket a moment ago" in html.unescape(
        response.get_data(as_text=True))
    assert all(active for _path, active in watched)
    session.expire_all()
    assert session.get(Ticket, ticket).external_ids == ["product-12"]
    assert client.post("/login", data={"email": "ada@example.com",
                                       "password": PASSWORD}).status_code == 302


@pytest.mark.postgresql_only
def test_a_page_s_statements_stay_prepared_from_one_request_to_the_next(app, summit, client):
    """A page's transaction only reads: it ends with a commit, which keeps the statements
    psycopg prepared (a rollback would make PostgreSQL plan them again on every request)."""
    event_id, _ticket = summit
    for _ in range(7):  # psycopg prepares a statement on its fifth run
        assert client.get(f"/events/{event_id}/revenue/tickets/").status_code == 200
    with app.app_context():
        pool = db.engine.pool
        idle = [db.engine.connect() for _ in range(pool.checkedin())]
        try:
            prepared = [statement for connection in idle for statement in connection
                        .exec_driver_sql("SELECT statement FROM pg_prepared_statements")
                        .scalars()]
        finally:
            for connection in idle:
                connection.close()
    assert any("FROM tickets" in statement for statement in prepared), prepared


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_that_wrote_without_committing_leaves_nothing(make_app, make_event,
                                                                make_ticket, session, method):
    """Only a transaction that read ends with a commit: a request that flushed a change and
    answered without committing it (a GET should never) still leaves nothing behind."""
    app = make_app()
    ticket_id = make_ticket(make_event("Growth Summit"), "All-Access", "product-12")

    @app.route("/renames-without-committing", methods=[method])
    def rename():
        db.session.get(Ticket, ticket_id).name = "Renamed"
        db.session.flush()
        return "flushed"

    response = app.test_client().open("/renames-without-committing", method=method)
    assert response.status_code == 200
    assert session.scalar(select(Ticket.name).where(Ticket.id == ticket_id)) == "All-Access"
