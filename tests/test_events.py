"""Events: the list, creating one, and the dashboard."""

import re

from sqlalchemy import delete, func, select, update

from heysummit_tc.models import Attendee, Event, EventMember, Role, Ticket, TicketPurchase

from helpers import FIXTURE_SECRET, fixture_bytes, import_buyers, post_webhook
from orders import refund, success


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


def test_the_dashboard_counts_attendees_and_paid_purchases_however_they_come_and_go(
    client, make_user, make_event, make_ticket, connect, login, session
):
    ada = make_user("ada@example.com")
    event_id = make_event("Summit", organiser=ada)
    main = make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    extra = make_ticket(event_id, "Workbook", "product-13", [("9.00", "USD")])
    connect(event_id)
    elsewhere = make_event("Another summit", organiser=ada)  # counted apart
    make_ticket(elsewhere, "All-Access", "product-12", [("97.00", "USD")])
    connect(elsewhere, "ANOTHER-SECRET-1")
    for n in range(40):  # ThriveCart test-mode orders, buyers over every shard
        assert post_webhook(client, success(order_id=f"O{n}", email=f"b{n}@example.com")
                            ).status_code == 200
    for n in range(5):
        post_webhook(client, success(order_id=f"W{n}", key="product-13", email=f"b{n}@example.com"))
    post_webhook(client, success(order_id="E1", email="e@example.com", secret="ANOTHER-SECRET-1"))
    assert post_webhook(client, refund(order_id="O3")).json["outcomes"][0]["outcome"] == "refunded"

    def shown():
        login("ada@example.com")
        page = client.get(f"/events/{event_id}/").get_data(as_text=True)
        attendees = re.search(r"<dt>Attendees</dt><dd>(\d+)</dd>", page).group(1)
        paid = re.search(r"<dt>Paid purchases</dt><dd>(\d+)(?: <span class=\"muted\">\((\d+) "
                         r"test\)</span>)?</dd>", page)
        return int(attendees), int(paid.group(1)), int(paid.group(2) or 0)

    def truth():
        session.expire_all()
        paid = (select(func.count()).select_from(TicketPurchase)
                .join(Ticket, Ticket.id == TicketPurchase.ticket_id)
                .where(Ticket.event_id == event_id, TicketPurchase.status == "paid"))
        return (session.scalar(select(func.count()).select_from(Attendee)
                               .where(Attendee.event_id == event_id)),
                session.scalar(paid), session.scalar(paid.where(TicketPurchase.test.is_(True))))

    assert shown() == (40, 44, 44) == truth()
    # Switched to live, set pending and moved to another ticket by hand; buyers deleted with
    # their purchases.
    session.execute(update(TicketPurchase).where(TicketPurchase.thrivecart_order_id.in_(
        [f"O{n}" for n in range(10, 20)])).values(test=False))
    session.execute(update(TicketPurchase).where(TicketPurchase.thrivecart_order_id == "O20")
                    .values(status="pending"))
    session.execute(update(TicketPurchase).where(TicketPurchase.thrivecart_order_id == "O21")
                    .values(ticket_id=extra))
    session.execute(delete(Attendee).where(Attendee.email.in_(["b1@example.com",
                                                               "b7@example.com"])))
    session.commit()
    assert shown() == (38, 40, 30) == truth()

    # An import writes thousands at once; deleting buyers removes as many at once.
    imported = import_buyers(session, event_id, main, 3000, test=lambda index: index % 3 == 0)
    assert shown() == (3038, 3040, 1030) == truth()
    session.execute(delete(Attendee).where(Attendee.id.in_(imported[:1001])))
    session.commit()
    assert shown() == (2037, 2039, 696) == truth()
