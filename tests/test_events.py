"""Events: the list, creating one, and the dashboard."""

from sqlalchemy import select

from heysummit_tc.models import Event, EventMember, Role

from helpers import FIXTURE_SECRET, fixture_bytes, post_webhook


def test_new_event_makes_its_creator_organiser(client, login, make_user, session):
    user = make_user("ada@example.com")
    login("ada@example.com")
    response = client.post("/events/new", data={"name": "Launch Week", "currency": "eur"})
    assert response.status_code == 302
    event = session.scalar(select(Event).where(Event.name == "Launch Week"))
    assert event.currency == "EUR"
    membership = session.get(EventMember, (event.id, user))
    assert membership.role == Role.ORGANISER
    assert "Launch Week" in client.get("/events/").get_data(as_text=True)


def test_new_event_rejects_an_unknown_currency(client, login, make_user, session):
    make_user("ada@example.com")
    login("ada@example.com")
    response = client.post("/events/new", data={"name": "Launch", "currency": "ABC"})
    assert "ABC is not an ISO 4217 currency code" in response.get_data(as_text=True)
    assert session.scalar(select(Event)) is None


def test_events_page_lists_only_the_users_events(client, login, make_user, make_event):
    make_event("Someone else’s summit", organiser=make_user())
    make_event("Ada’s summit", organiser=make_user("ada@example.com"))
    login("ada@example.com")
    page = client.get("/events/").get_data(as_text=True)
    assert "Ada’s summit" in page and "Someone else’s summit" not in page


def test_dashboard_counts(client, login, make_user, make_event, make_ticket, connect):
    user = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=user)
    make_ticket(event_id, "All access", "product-12", [("4997.00", "USD")])
    make_ticket(event_id, "Unlinked")
    connect(event_id, FIXTURE_SECRET)
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 200
    login("ada@example.com")
    page = client.get(f"/events/{event_id}/").get_data(as_text=True)
    # The fixture is a ThriveCart test-mode order: counted, and said to be a test.
    for label, number in (("Tickets", 2), ("Linked to ThriveCart", 1), ("Attendees", 1),
                          ("Paid purchases", '1 <span class="muted">(1 test)</span>')):
        assert f"<dt>{label}</dt><dd>{number}</dd>" in page
    assert "order.success" in page
