"""Every event URL refuses outsiders (404) and ticket editors where organisers only belong (403)."""

import pytest
from sqlalchemy import select

from heysummit_tc.models import Role

from helpers import FIXTURE_SECRET, fixture_bytes, post_webhook


@pytest.fixture
def world(app, client, make_user, make_event, make_ticket, connect):
    """An event with a ticket, a price, an attendee and a delivery, and three outsiders."""
    owner = make_user("owner@example.com")
    editor = make_user("editor@example.com")
    stranger = make_user("stranger@example.com")
    event_id = make_event("Owner's summit", organiser=owner, editors=[editor])
    ticket_id = make_ticket(event_id, "All access", "product-12", [("97.00", "USD")])
    connect(event_id, FIXTURE_SECRET)
    response = post_webhook(client, fixture_bytes("order-success.form"))
    assert response.status_code == 200
    with app.app_context():
        from heysummit_tc.extensions import db
        from heysummit_tc.models import Attendee, TicketPrice

        attendee_id = db.session.scalar(select(Attendee.id))
        price_id = db.session.scalar(select(TicketPrice.id))
    return {"event_id": event_id, "ticket_id": ticket_id, "attendee_id": attendee_id,
            "delivery_id": response.json["delivery_id"], "price_id": price_id,
            "user_id": editor, "stranger_id": stranger, "order_id": "23370556",
            "purchase_id": 1}


ORGANISERS = {Role.ORGANISER}
MEMBERS = {Role.ORGANISER, Role.TICKET_EDITOR}
# Who may open each page of an event, written down here (SPEC 2), not read from the views:
# a view whose decorator changes must fail this file. A new route must be added to it.
ALLOWED = {
    "admin.dashboard": MEMBERS,
    "admin.tickets": MEMBERS,
    "admin.new_ticket": MEMBERS,
    "admin.ticket": MEMBERS,
    "admin.remove_ticket": MEMBERS,
    "admin.add_ticket_price": MEMBERS,
    "admin.delete_ticket_price": MEMBERS,
    "admin.unlinked_items": MEMBERS,
    "admin.deliveries": ORGANISERS,
    "admin.orders": ORGANISERS,
    "admin.edit_attendee_details": ORGANISERS,
    "admin.grant_attendee_ticket": ORGANISERS,
    "admin.revoke_attendee_purchase": ORGANISERS,
    "admin.delete_event_test_orders": ORGANISERS,
    "admin.order": ORGANISERS,
    "admin.resolve_delivery": ORGANISERS,
    "admin.rerun_unlinked_deliveries": MEMBERS,
    "admin.create_ticket_for_unlinked": MEMBERS,
    "admin.ignore_unlinked": MEMBERS,
    "admin.restore_unlinked": MEMBERS,
    "admin.edit_event": ORGANISERS,
    "admin.integrations": ORGANISERS,
    "admin.thrivecart": ORGANISERS,
    "admin.configure_thrivecart": ORGANISERS,
    "admin.disconnect_thrivecart": ORGANISERS,
    "admin.dismiss_rejected": ORGANISERS,
    "admin.process_held": ORGANISERS,
    "admin.test_purchase": ORGANISERS,
    "admin.delivery": ORGANISERS,
    "admin.replay_delivery": ORGANISERS,
    "admin.access_email": ORGANISERS,
    "admin.attendees": ORGANISERS,
    "admin.attendees_csv": ORGANISERS,
    "admin.attendee": ORGANISERS,
    "admin.resend_access_email": ORGANISERS,
    "admin.erase_attendee": ORGANISERS,
    "admin.merge_attendee": ORGANISERS,
    "admin.team": ORGANISERS,
    "admin.change_member_role": ORGANISERS,
    "admin.remove_member": ORGANISERS,
    "admin.activity": ORGANISERS,
}


def event_routes(app, ids):
    """Yield (method, url, allowed roles) for every route under /events/<event_id>/."""
    for rule in app.url_map.iter_rules():
        if "event_id" not in rule.arguments:
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url, ALLOWED[rule.endpoint]


def test_the_table_of_who_may_open_what_names_every_event_route(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if "event_id" in rule.arguments}
    assert routes == set(ALLOWED)


def test_non_members_get_404_everywhere(app, client, world, login):
    login("stranger@example.com")
    routes = list(event_routes(app, world))
    assert len(routes) >= 12
    for method, url, _roles in routes:
        response = client.open(url, method=method)
        assert response.status_code == 404, (method, url, response.status_code)
        assert "Owner" not in response.get_data(as_text=True)


def test_ticket_editors_get_403_on_organiser_pages_only(app, client, world, login):
    login("editor@example.com")
    organiser_only = 0
    for method, url, roles in event_routes(app, world):
        if method != "GET":
            continue
        response = client.get(url)
        if Role.TICKET_EDITOR in roles:
            assert response.status_code == 200, (url, response.status_code)
        else:
            organiser_only += 1
            assert response.status_code == 403, (url, response.status_code)
    assert organiser_only >= 6
    for method, url, roles in event_routes(app, world):
        if method == "POST" and Role.TICKET_EDITOR not in roles:
            assert client.post(url).status_code == 403, url


def test_organisers_open_every_page(app, client, world, login):
    login("owner@example.com")
    for method, url, _roles in event_routes(app, world):
        if method == "GET":
            assert client.get(url).status_code == 200, url


def test_editors_do_not_see_organiser_navigation(client, world, login):
    login("editor@example.com")
    page = client.get(f"/events/{world['event_id']}/").get_data(as_text=True)
    assert "Revenue ›</span> Tickets" in page
    event_id = world["event_id"]
    assert f'href="/events/{event_id}/setup/integrations/"' not in page
    assert f'href="/events/{event_id}/attendees/"' not in page


def test_objects_of_another_event_are_not_found(client, world, login, make_user, make_event):
    mine = make_event("Mine", organiser=make_user("other@example.com"))
    login("other@example.com")
    for path in (f"revenue/tickets/{world['ticket_id']}/",
                 f"attendees/{world['attendee_id']}/",
                 f"setup/integrations/thrivecart/deliveries/{world['delivery_id']}/"):
        assert client.get(f"/events/{mine}/{path}").status_code == 404, path


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(app, client, world):
    for method, url, _roles in event_routes(app, world):
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/login" in response.location, (method, url)


def test_an_organiser_cannot_reach_another_events_objects_through_their_own_event(
    app, client, world, login, make_user, make_event, session
):
    from heysummit_tc.models import TicketPrice, WebhookDelivery

    mine = make_event("Mine", organiser=make_user("other@example.com"))
    login("other@example.com")
    crossed = 0
    for rule in app.url_map.iter_rules():
        objects = rule.arguments - {"event_id"}
        if "event_id" not in rule.arguments or not objects:
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, event_id=mine,
                              **{name: world[name] for name in objects})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            crossed += 1
            response = client.open(url, method=method, data={"name": "Hijacked",
                                                             "external_id": "product-1"})
            assert response.status_code == 404, (method, url, response.status_code)
    assert crossed >= 6
    session.expire_all()
    assert session.get(TicketPrice, world["price_id"]) is not None
    assert session.get(WebhookDelivery, world["delivery_id"]).attempts == 1
    csv_text = client.get(f"/events/{mine}/attendees.csv").get_data(as_text=True)
    assert csv_text.count("\n") == 1 and "ada.lovelace" not in csv_text


def test_an_event_view_reads_the_membership_itself_when_the_user_loader_did_not(
        app, make_user, make_event):
    """The user loader reads the membership of the page's event along with the user; a user
    signed in during the request brings none, and the view asks for it: the organiser
    passes, a stranger gets 404."""
    from flask_login import login_user
    from werkzeug.exceptions import NotFound

    from heysummit_tc.admin.access import members
    from heysummit_tc.extensions import db
    from heysummit_tc.models import User

    ada, stranger = make_user("ada@example.com"), make_user("eve@example.com")
    event_id = make_event("Summit", organiser=ada)
    view = members(lambda event: event.name)
    with app.test_request_context(f"/events/{event_id}/"):
        login_user(db.session.get(User, ada))
        assert view(event_id=event_id) == "Summit"
    with app.test_request_context(f"/events/{event_id}/"):
        login_user(db.session.get(User, stranger))
        with pytest.raises(NotFound):
            view(event_id=event_id)
