"""The activity log: every audited action writes exactly one row naming who did it; tickets
and events that can be deleted or edited; forms that forgive."""

import html
import re

import pytest
from sqlalchemy import func, select

from heysummit_tc.models import ActivityEntry, ActivityKind, Event, Ticket, TicketPurchase

from helpers import FIXTURE_SECRET, fixture_bytes, post_webhook
from orders import success


def page_text(response):
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def summit(signed_in, make_user, make_ticket):
    event_id = signed_in()
    make_user("bob@example.com")
    ticket = make_ticket(event_id, "All-Access", "product-12", [("49.97", "USD")])
    make_ticket(event_id, "Spare", None)
    return event_id, ticket


def entries(session):
    session.expire_all()
    return session.execute(select(ActivityEntry.kind, ActivityEntry.user_id,
                                  ActivityEntry.detail).order_by(ActivityEntry.id)).all()


def spare(session, event_id):
    return session.scalar(select(Ticket.id).where(Ticket.event_id == event_id,
                                                  Ticket.name == "Spare"))


ACTIONS = {
    "secret_saved": lambda c, e, t, s: c.post(
        f"/events/{e}/setup/integrations/thrivecart/configure",
        data={"secret_word": "ANOTHERWORD99"}),
    "secret_disconnected": lambda c, e, t, s: c.post(
        f"/events/{e}/setup/integrations/thrivecart/disconnect"),
    "ticket_created": lambda c, e, t, s: c.post(
        f"/events/{e}/revenue/tickets/new",
        data={"name": "VIP", "external_id": "upsell-3", "item_type": "product",
              "active": "y", "on_payment_failed": "keep", "on_cancel": "keep"}),
    "ticket_changed": lambda c, e, t, s: c.post(
        f"/events/{e}/revenue/tickets/{t}/",
        data={"name": "All-Access", "external_id": "product-13", "item_type": "product",
              "active": "y", "on_payment_failed": "suspend", "on_cancel": "keep"}),
    "ticket_deleted": lambda c, e, t, s: c.post(
        f"/events/{e}/revenue/tickets/{spare(s, e)}/delete"),
    "event_changed": lambda c, e, t, s: c.post(
        f"/events/{e}/edit", data={"name": "Growth Summit 2027", "currency": "USD"}),
    "member_added": lambda c, e, t, s: c.post(
        f"/events/{e}/team/", data={"email": "bob@example.com", "role": "ticket_editor"}),
    "delivery_replayed": lambda c, e, t, s: c.post(
        f"/events/{e}/setup/integrations/thrivecart/deliveries/1/replay"),
    "test_purchase": lambda c, e, t, s: c.post(
        f"/events/{e}/setup/integrations/thrivecart/test-purchase",
        data={"ticket_id": t, "email": "tess@example.com"}),
    "access_email_saved": lambda c, e, t, s: c.post(
        f"/events/{e}/setup/access-email",
        data={"subject": "Hi", "body": "{access_link}"}),
}


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_every_audited_action_writes_one_row_with_its_actor(
    kind, client, summit, connect, session
):
    event_id, ticket = summit
    connect(event_id)
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 200
    session.execute(ActivityEntry.__table__.delete())  # the set-up's own entries
    session.commit()
    response = ACTIONS[kind](client, event_id, ticket, session)
    assert response.status_code in (200, 302), page_text(response)[:2000]
    [(recorded, user_id, detail)] = entries(session)
    assert recorded == kind
    assert user_id == 1  # ada
    assert FIXTURE_SECRET not in detail and "ANOTHERWORD99" not in detail


def test_member_changes_held_releases_and_re_runs_are_recorded(
    client, summit, connect, session, make_user
):
    event_id, ticket = summit
    bob = 2
    client.post(f"/events/{event_id}/team/", data={"email": "bob@example.com",
                                                   "role": "ticket_editor"})
    client.post(f"/events/{event_id}/team/{bob}/role", data={"role": "organiser"})
    client.post(f"/events/{event_id}/team/{bob}/remove")
    # An order held before the Secret Word, then released; an unlinked item, then re-run.
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 403
    connect(event_id)
    client.post(f"/events/{event_id}/setup/integrations/thrivecart/held/process")
    post_webhook(client, success(order_id="U1", key="bump-12"))
    client.post(f"/events/{event_id}/revenue/tickets/unlinked",
                data={"external_id": "bump-12", "ticket_id": spare(session, event_id)})
    client.post(f"/events/{event_id}/revenue/tickets/unlinked/rerun",
                data={"external_id": "bump-12"})
    kinds = [kind for kind, user_id, _detail in entries(session) if user_id == 1]
    assert kinds == ["member_added", "member_role_changed", "member_removed", "held_released",
                     "ticket_changed", "unlinked_rerun"]
    page = page_text(client.get(f"/events/{event_id}/activity/")).split("</select>")[1]
    assert page.index("Unlinked item's deliveries re-run") < page.index("Member added")
    assert "bob@example.com: ticket editor → organiser" in page
    only = page_text(client.get(f"/events/{event_id}/activity/?kind=member_removed"))
    assert "Member removed" in only and "Member added" not in only.split("</select>")[1]


def test_only_the_kinds_the_log_knows_are_recorded(summit, session):
    from heysummit_tc.services.activity import KINDS, record

    event_id, _ticket = summit
    assert set(KINDS) == set(ActivityKind)  # every kind has its label in the filter
    with pytest.raises(ValueError, match="ticket_renamed"):
        record(session, event_id, None, "ticket_renamed")
    entry = record(session, event_id, None, "ticket_created", "by its value")
    assert entry.kind is ActivityKind.TICKET_CREATED


def test_the_activity_log_pages_newest_first(client, summit, session):
    event_id, _ticket = summit
    from heysummit_tc.services.activity import record

    for number in range(51):
        record(session, event_id, None, "ticket_created", f"ticket {number}")
    session.commit()
    first = page_text(client.get(f"/events/{event_id}/activity/"))
    assert first.count('<td data-label="What">') == 50  # a full page, newest first
    assert "ticket 50<" in first and "ticket 0<" not in first
    link = re.search(r'href="([^"]*before=\d+[^"]*)">Older', first).group(1)
    second = page_text(client.get(link))
    assert "ticket 0<" in second and "ticket 50<" not in second and "Older" not in second


def test_a_ticket_without_purchases_is_deleted_one_with_them_is_kept(
    client, summit, session, connect
):
    event_id, ticket = summit
    connect(event_id)
    post_webhook(client, fixture_bytes("order-success.form"))
    asked = page_text(client.get(f"/events/{event_id}/revenue/tickets/{ticket}/delete"))
    assert "It has 1 purchase, so it cannot be deleted" in asked and "untick Active" in asked
    kept = client.post(f"/events/{event_id}/revenue/tickets/{ticket}/delete",
                       follow_redirects=True)
    assert "“All-Access” has 1 purchase, so it stays" in page_text(kept)
    assert session.get(Ticket, ticket) is not None
    gone = client.post(f"/events/{event_id}/revenue/tickets/{spare(session, event_id)}/delete",
                       follow_redirects=True)
    assert "Ticket “Spare” deleted." in page_text(gone)
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_an_event_is_renamed_and_its_currency_changes_only_before_purchases(
    client, summit, session, connect
):
    event_id, _ticket = summit
    edit = f"/events/{event_id}/edit"
    done = client.post(edit, data={"name": "Growth Summit 2027", "currency": "eur"},
                       follow_redirects=True)
    assert "Event “Growth Summit 2027” saved." in page_text(done)
    session.expire_all()
    assert session.get(Event, event_id).currency == "EUR"
    connect(event_id)
    post_webhook(client, fixture_bytes("order-success.form"))
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 1
    refused = client.post(edit, data={"name": "Growth Summit 2027", "currency": "GBP"})
    assert refused.status_code == 400
    assert "The currency stays EUR: this event has 1 purchase" in page_text(refused)


