"""What happened and what needs attention: the delivery log's outcomes, the dashboard and the
wrong-secret warning (the unlinked items inbox is in test_inbox)."""

import html
import json
import re
from datetime import timedelta

import time_machine

from helpers import FIXTURE_SECRET, form_body, load_fixture, post_webhook
from orders import LATER, refund

ITEMS = {"product-12": "All-Access Pass", "bump-3": "Workbook &amp; Templates",
         "upsell-9": "VIP dinner"}


def order(order_id, keys=("product-12",), email="ada.lovelace@example.com", mode="live",
          secret=FIXTURE_SECRET, account="examplesummits"):
    """An order.success for several items, names HTML-escaped as ThriveCart sends them."""
    payload = load_fixture("order-success.json")
    charges = []
    for key in keys:
        item_type, reference = key.split("-")
        charges.append({"name": ITEMS[key], "reference": reference, "item_type": item_type,
                        "item_identifier": f"{item_type}_{reference}", "amount": "9700",
                        "type": "single", "quantity": "1"})
    payload.update(order_id=order_id, invoice_id=f"INV-{order_id}", mode=mode,
                   mode_int="1" if mode == "test" else "2", thrivecart_secret=secret,
                   thrivecart_account=account, purchase_map=list(keys),
                   purchase_map_flat=",".join(keys), purchases=[ITEMS[key] for key in keys])
    payload["order"].update(id=order_id, charges=charges)
    payload["customer"]["email"] = email
    return form_body(payload)


def page_text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def log_rows(page):
    """Return the log's rows as (tone, summary, delivery id or None)."""
    rows = []
    for tone, body in re.findall(r'<tr class="tone-(\w+)">(.*?)</tr>', page, re.S):
        summary = re.search(r'<span class="tone">(.*?)</span>', body).group(1)
        link = re.search(r"/thrivecart/deliveries/(\d+)/", body)
        rows.append((tone, summary, int(link.group(1)) if link else None))
    return rows


def log(client, event_id, **filters):
    return log_rows(page_text(client.get(f"/events/{event_id}/deliveries/",
                                         query_string=filters)))


def organiser_event(make_user, make_event, make_ticket, connect, editor=False):
    ada = make_user("ada@example.com")
    editors = [make_user("grace@example.com")] if editor else []
    event_id = make_event("Growth Summit", organiser=ada, editors=editors)
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    make_ticket(event_id, "Workbook", "bump-3", [("27.00", "USD")])
    connect(event_id)
    return event_id


def test_each_log_row_says_what_happened_coloured_by_its_worst_outcome_and_filters(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect)
    first = post_webhook(client, order("A1", ("product-12", "bump-3", "upsell-9"))).json
    again = post_webhook(client, order("A1", ("product-12", "bump-3", "upsell-9"))).json
    test = post_webhook(client, order("T1", mode="test", email="tess@example.com")).json
    waiting = post_webhook(client, refund(order_id="NEVER-SEEN")).json
    rejected = post_webhook(client, order("X1", secret="GUESSED12345"))
    assert rejected.status_code == 403
    login("ada@example.com")

    rows = log(client, event_id)
    assert rows == [
        ("warning", "rejected: unknown Secret Word", None),
        ("warning", "refund waiting for its order", waiting["delivery_id"]),
        ("good", "1 paid", test["delivery_id"]),
        ("warning", "1 unlinked: upsell-9 · no change: already paid", again["delivery_id"]),
        ("warning", "2 paid · 1 unlinked: upsell-9", first["delivery_id"]),
    ]
    ids = {name: row["delivery_id"] for name, row in
           (("first", first), ("again", again), ("test", test), ("waiting", waiting))}
    assert [row[2] for row in log(client, event_id, outcome="unlinked")] == [
        ids["again"], ids["first"]]
    assert [row[2] for row in log(client, event_id, outcome="paid")] == [
        ids["test"], ids["first"]]
    assert [row[2] for row in log(client, event_id, outcome="no_change")] == [ids["again"]]
    assert [row[2] for row in log(client, event_id, outcome="waiting")] == [ids["waiting"]]
    assert [row[2] for row in log(client, event_id, mode="test")] == [ids["test"]]
    assert ids["test"] not in [row[2] for row in log(client, event_id, mode="live")]
    assert [row[2] for row in log(client, event_id, attention="1")] == [
        None, ids["waiting"], ids["again"], ids["first"]]
    assert log(client, event_id, outcome="rejected") == [
        ("warning", "rejected: unknown Secret Word", None)]
    page = page_text(client.get(f"/events/{event_id}/setup/integrations/thrivecart/"))
    # The rejected post is listed with its 403, redacted: never the secret it carried.
    assert "GUESSED12345" not in page and '<td data-label="HTTP">403</td>' in page


def test_a_held_delivery_shows_when_it_was_held_and_who_processed_it_in_time_order(
    client, login, make_user, make_event, make_ticket, session
):
    ada = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=ada)
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    with time_machine.travel(LATER, tick=False):
        assert post_webhook(client, order("H1")).status_code == 403  # no Secret Word yet
    with time_machine.travel(LATER + timedelta(minutes=2), tick=False):
        login("ada@example.com")  # signed then, so that the session cookie is fresh then
        response = client.post(f"/events/{event_id}/setup/integrations/thrivecart/configure",
                               data={"secret_word": FIXTURE_SECRET})
        assert response.status_code == 302
        later = post_webhook(client, order("L1", email="lin@example.com")).json
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        page = page_text(client.post(
            f"/events/{event_id}/setup/integrations/thrivecart/held/process",
            follow_redirects=True))
    assert "Processed 1 held order." in page
    rows = log_rows(page)
    # Ordered by time received: the held order (received first) sorts below the later one
    # although it was recorded as a delivery after it.
    assert [row[2] for row in rows] == [later["delivery_id"], later["delivery_id"] + 1]
    held_row = page[page.index(f"deliveries/{later['delivery_id'] + 1}/") - 1200:]
    assert re.search(r"held <time[^>]*><span>2027-01-10</span> <span>12:00 UTC</span></time>"
                     r"<br><span class=\"muted\">processed <time[^>]*><span>2027-01-10</span> "
                     r"<span>12:05 UTC</span></time> by ada@example.com", held_row)


def test_the_delivery_page_shows_the_response_next_to_the_request(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect)
    answer = post_webhook(client, order("R1", ("product-12", "upsell-9")))
    login("ada@example.com")
    page = page_text(client.get(f"/events/{event_id}/setup/integrations/thrivecart/"
                                f"deliveries/{answer.json['delivery_id']}/"))
    response = re.search(r'<pre class="payload" tabindex="0" aria-label="Response body">(.*?)'
                         r"</pre>", page, re.S).group(1)
    assert json.loads(response) == answer.json
    request = re.search(r'aria-label="Request payload">(.*?)</pre>', page, re.S).group(1)
    assert json.loads(request)["order_id"] == "R1"
    assert "thrivecart_secret" not in request
    assert "1 paid · 1 unlinked: upsell-9" in page


def test_the_dashboard_counts_what_needs_attention_and_test_purchases_apart(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect)
    for number in range(3):
        post_webhook(client, order(f"P{number}", email=f"p{number}@example.com"))
    for number in range(2):
        post_webhook(client, order(f"T{number}", mode="test", email=f"t{number}@example.com"))
    post_webhook(client, order("U1", ("upsell-9",), email="u@example.com"))
    post_webhook(client, order("U2", ("upsell-9", "product-12"), email="v@example.com"))
    post_webhook(client, refund(order_id="NEVER-SEEN"))
    post_webhook(client, order("X1", secret="GUESSED12345"))
    login("ada@example.com")
    page = page_text(client.get(f"/events/{event_id}/"))
    assert '<dt>Paid purchases</dt><dd>6 <span class="muted">(2 test)</span></dd>' in page
    card = page[page.index("Needs attention"):]
    log_url = f"/events/{event_id}/deliveries/"
    assert f'<a href="{log_url}?outcome=unlinked&attention=1">Unlinked item: 2</a>' \
        in html.unescape(card)
    assert f'<a href="{log_url}?outcome=waiting&attention=1">Waiting for its order: ' \
           '1</a>' in card
    assert "Rejected (wrong Secret Word): 1" in card
    assert "1 item ThriveCart sent is not linked to a ticket" in card
    # The links open the log filtered to exactly those deliveries.
    assert len(log(client, event_id, outcome="unlinked", attention="1")) == 2
    assert "Last order received" in page and "order.refund" in page


def test_the_wrong_secret_warning_counts_posts_before_any_secret_apart_from_wrong_ones(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = organiser_event(make_user, make_event, make_ticket, connect)
    assert post_webhook(client, order("S1")).status_code == 200  # the account is now seen
    login("ada@example.com")
    url = f"/events/{event_id}/setup/integrations/thrivecart/"
    client.post(url + "disconnect")
    for number in range(2):
        assert post_webhook(client, order(f"B{number}", secret="OTHERWORD123")).status_code == 403
    no_secret = page_text(client.get(url))
    assert ("2 posts claiming to come from the ThriveCart account “examplesummits” arrived "
            "before any Secret Word was saved here.") in no_secret
    connect(event_id)
    assert post_webhook(client, order("W1", secret="GUESSED12345")).status_code == 403
    page = page_text(client.get(url))
    assert ("2 posts claiming to come from the ThriveCart account “examplesummits” arrived "
            "before any Secret Word was saved here.") in page
    assert "Their Secret Word is not the one saved since." in page
    assert ("1 post claiming to come from the ThriveCart account “examplesummits” had a "
            "Secret Word that matches nothing.") in page
    # Saving the word the early posts carried clears them from the warning: they are offered
    # for processing instead.
    connect(event_id, "OTHERWORD123")
    page = page_text(client.get(url))
    assert "arrived before any Secret Word" not in page
    assert "2 orders arrived before this Secret Word was saved." in page
