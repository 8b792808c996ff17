"""The unlinked items inbox: an item is added to a ticket (never replacing its External IDs),
gets a ticket of its own or is ignored; linking applies the item's deliveries at once for
whoever may link; events sharing one ThriveCart account never list each other's items."""

import re

from sqlalchemy import func, select
from test_visibility import log, order, organiser_event, page_text

from heysummit_tc.models import ActivityEntry, Attendee, Ticket, TicketPurchase

from helpers import post_webhook


def inbox_url(event_id, action=""):
    return f"/events/{event_id}/revenue/tickets/unlinked" + (f"/{action}" if action else "")


def holders(session, ticket_id):
    return session.scalars(
        select(Attendee.email).join(TicketPurchase, TicketPurchase.attendee_id == Attendee.id)
        .where(TicketPurchase.ticket_id == ticket_id).order_by(Attendee.email)).all()


def inbox_keys(client, event_id):
    page = page_text(client.get(inbox_url(event_id)))
    table = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
    return re.findall(r'<td data-label="Item"><code>([^<]+)</code>', table)


def test_an_editor_adds_an_item_to_a_ticket_keeping_its_id_and_the_buyers_get_it_at_once(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect, editor=True)
    vip = make_ticket(event_id, "VIP dinner", "upsell-7", [("250.00", "USD")])
    first = post_webhook(client, order("V1", ("product-12", "upsell-9"))).json["delivery_id"]
    post_webhook(client, order("V1", ("product-12", "upsell-9")))
    post_webhook(client, order("V2", ("upsell-9",), email="bob@example.com"))
    login("grace@example.com")
    tickets = page_text(client.get(f"/events/{event_id}/revenue/tickets/"))
    assert "ThriveCart sent 1 item that no ticket links." in tickets
    inbox = page_text(client.get(inbox_url(event_id)))
    row = re.search(r"<code>upsell-9</code>.*?</tr>", inbox, re.S).group(0)
    assert "VIP dinner (has upsell-7)" in row
    assert '<td data-label="Deliveries" class="num">3</td>' in row

    # The same validation as the ticket form: an id another ticket holds is refused.
    clash = client.post(inbox_url(event_id), data={"external_id": "bump-3", "ticket_id": vip})
    assert "bump-3 is already an External ID of the ticket “Workbook”" in page_text(clash, 400)
    missing = client.post(inbox_url(event_id), data={"external_id": "upsell-9", "ticket_id": 0})
    assert "Choose the ticket this item should unlock." in page_text(missing, 400)

    linked = client.post(inbox_url(event_id), data={"external_id": "upsell-9", "ticket_id": vip})
    assert linked.headers["Location"] == inbox_url(event_id)  # back to the inbox
    back = page_text(client.get(inbox_url(event_id)))
    assert ("upsell-9 now unlocks “VIP dinner”. Re-ran 3 earlier deliveries of it: "
            "1 already paid, 2 paid.") in back
    assert "Nothing to link" in back
    session.expire_all()
    assert session.get(Ticket, vip).external_ids == ["upsell-7", "upsell-9"]
    assert holders(session, vip) == ["ada.lovelace@example.com", "bob@example.com"]
    # The next ordinary order of either id grants the ticket.
    assert post_webhook(client, order("V3", ("upsell-9",), email="cy@example.com")
                        ).json["outcomes"][0]["outcome"] == "paid"
    # A re-run now is a no-op; the organiser's log shows the first delivery's row green.
    again = page_text(client.post(inbox_url(event_id, "rerun"),
                                  data={"external_id": "upsell-9"}, follow_redirects=True))
    assert "No delivery of upsell-9 is waiting to be re-run." in again
    assert len(holders(session, vip)) == 3
    kinds = session.scalars(select(ActivityEntry.kind).order_by(ActivityEntry.id)).all()
    assert kinds[-2:] == ["ticket_changed", "unlinked_rerun"]
    client.post("/logout")
    login("ada@example.com")
    assert ("good", "1 paid · no change: already paid", first) in log(client, event_id)


def test_a_ticket_is_created_for_an_item_with_its_thrivecart_name_and_charged_price(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect, editor=True)
    post_webhook(client, order("C1", ("product-12", "upsell-9")))
    login("grace@example.com")
    done = page_text(client.post(inbox_url(event_id, "create"),
                                 data={"external_id": "upsell-9"}, follow_redirects=True))
    assert ("Created the ticket “VIP dinner” for upsell-9. Re-ran 1 earlier delivery of it: "
            "1 paid.") in done
    ticket = session.scalar(select(Ticket).where(Ticket.name == "VIP dinner"))
    assert ticket.external_ids == ["upsell-9"]
    assert [(price.amount, price.currency) for price in ticket.prices] == [(9700, "USD")]
    assert holders(session, ticket.id) == ["ada.lovelace@example.com"]
    # An item no longer in the inbox creates nothing.
    again = page_text(client.post(inbox_url(event_id, "create"),
                                  data={"external_id": "upsell-9"}, follow_redirects=True))
    assert "That item is not in the inbox any more: nothing was created." in again
    assert session.scalar(select(func.count()).select_from(Ticket)
                          .where(Ticket.event_id == event_id)) == 3


def test_an_ignored_item_is_counted_nowhere_until_it_is_listed_again(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect, editor=True)
    post_webhook(client, order("I1", ("product-12", "upsell-9")))
    login("grace@example.com")
    assert inbox_keys(client, event_id) == ["upsell-9"]
    ignored = page_text(client.post(inbox_url(event_id, "ignore"),
                                    data={"external_id": "upsell-9"}, follow_redirects=True))
    assert "upsell-9 is ignored" in ignored
    assert inbox_keys(client, event_id) == []
    ignored_section = ignored.split('id="ignored-title"')[1]
    assert "<code>upsell-9</code>" in ignored_section and "by grace@example.com" in ignored
    tickets = page_text(client.get(f"/events/{event_id}/revenue/tickets/"))
    assert "no ticket links" not in tickets
    client.post("/logout")
    login("ada@example.com")
    dashboard = page_text(client.get(f"/events/{event_id}/"))
    assert "not linked to a ticket" not in dashboard

    restored = page_text(client.post(inbox_url(event_id, "restore"),
                                     data={"external_id": "upsell-9"}, follow_redirects=True))
    assert "upsell-9 is listed again." in restored
    assert inbox_keys(client, event_id) == ["upsell-9"]
    kinds = session.scalars(select(ActivityEntry.kind).order_by(ActivityEntry.id)).all()
    assert kinds[-2:] == ["item_ignored", "item_restored"]
    # A key that cannot be an item is refused, and nothing is written.
    bad = page_text(client.post(inbox_url(event_id, "ignore"),
                                data={"external_id": "not an item"}, follow_redirects=True))
    assert "Choose the item to ignore." in bad


def test_two_events_on_one_account_never_list_each_others_items(
    client, login, make_user, make_event, make_ticket, connect, session
):
    ada = make_user("ada@example.com")
    first = make_event("Growth Summit", organiser=ada)
    second = make_event("Scale Summit", organiser=ada)
    make_ticket(first, "All-Access", "product-12", [("97.00", "USD")])
    connect(first)
    connect(second)
    # Before Scale Summit links anything: product-12 is Growth Summit's; bump-3 nobody's.
    post_webhook(client, order("S1", ("product-12", "bump-3")))
    login("ada@example.com")
    assert inbox_keys(client, first) == ["bump-3"]
    assert inbox_keys(client, second) == ["bump-3"]
    # Growth Summit links bump-3 later: it leaves Scale Summit's inbox too, without a re-run.
    make_ticket(first, "Workbook", "bump-3", [("27.00", "USD")])
    assert inbox_keys(client, second) == []
    dashboard = page_text(client.get(f"/events/{second}/"))
    assert "not linked to a ticket" not in dashboard

    # The Secret Word form names the other event and says what sharing means.
    configure = page_text(client.get(
        f"/events/{second}/setup/integrations/thrivecart/configure"))
    assert ("This Secret Word is also saved in “Growth Summit”: both share one ThriveCart "
            "account.") in configure
    # The ticket form says when the other event links the same id.
    clash = make_ticket(second, "Pass", "product-12", [("97.00", "USD")])
    form = page_text(client.get(f"/events/{second}/revenue/tickets/{clash}/"))
    assert "one order of it grants a ticket in both" in form
    assert "<li><code>product-12</code>: “Growth Summit”</li>" in form
    alone = make_ticket(second, "Replays", "downsell-5")
    assert "grants a ticket in both" not in page_text(
        client.get(f"/events/{second}/revenue/tickets/{alone}/"))


def test_saving_a_secret_word_another_event_uses_names_that_event(
    client, login, make_user, make_event, connect
):
    ada = make_user("ada@example.com")
    first = make_event("Growth Summit", organiser=ada)
    second = make_event("Scale Summit", organiser=ada)
    stranger = make_event("Someone else's", organiser=make_user("eve@example.com"))
    connect(first, "SHAREDWORD123")
    connect(stranger, "SHAREDWORD123")
    login("ada@example.com")
    saved = page_text(client.post(f"/events/{second}/setup/integrations/thrivecart/configure",
                                  data={"secret_word": "SHAREDWORD123"}, follow_redirects=True))
    assert ("“Growth Summit” uses this Secret Word too: one ThriveCart account. Each order it "
            "sends reaches every one of these events, and each grants only what its own "
            "tickets link.") in saved
    # Only the user's own events are named.
    assert "Someone else" not in saved
