"""End to end over real HTTP: gunicorn serves the app, a client posts what ThriveCart would."""

from sqlalchemy import select

from heysummit_tc.models import Attendee, PurchaseStatus

from helpers import Gunicorn, fixture_bytes


def test_form_fixture_over_http_creates_the_attendee(
    app, database_url, make_event, make_ticket, connect, session
):
    event_id = make_event("Growth Summit")
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    connect(event_id)
    with Gunicorn(database_url, workers=2) as server:
        status, body = server.post("/api/webhooks/thrivecart/",
                                   fixture_bytes("order-success.form"))
        ping_status, _ = server.post("/api/webhooks/thrivecart", b"")
    assert (status, ping_status) == (200, 200), body
    session.expire_all()
    person = session.scalars(select(Attendee)).one()
    assert (person.event_id, person.email) == (event_id, "ada.lovelace@example.com")
    assert [p.status for p in person.purchases] == [PurchaseStatus.PAID]
