"""Orders: one row per ThriveCart order, searched by order id, email or name; an order's
page with its purchases, charges, refunds, rebills (a payment plan's place), deliveries
and emails."""

import html
import re
from datetime import timedelta

from helpers import post_webhook
from orders import LATER, at, payment, refund, success

NBSP = "\u00a0"


def page_text(response, status=200):
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def summit(make_user, make_event, make_ticket, connect):
    event_id = make_event("Growth Summit", "USD", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    connect(event_id)
    return event_id


def order_ids(page):
    return re.findall(r'<td data-label="Order" class="lead"><a class="mono" href="[^"]+">'
                      r"([^<]+)</a>", page)


def test_the_orders_list_has_a_row_per_order_and_finds_them_by_id_email_or_name(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, success(order_id="1001", charged="9700", email="ada@example.com"))
    post_webhook(client, success(order_id="1002", charged="4700", email="grace@example.com"))
    post_webhook(client, refund(order_id="1001", amount="9700"))
    post_webhook(client, refund(order_id="1003"))  # its order never came: it waits
    login("ada@example.com")
    url = f"/events/{event_id}/orders/"
    page = page_text(client.get(url))
    assert order_ids(page) == ["1003", "1002", "1001"]
    row = re.search(r">1001</a>.*?</tr>", page, re.S).group(0)
    assert "ada@example.com" in row and "All-Access" in row and "badge-refunded" in row
    assert f"97.00{NBSP}USD" in row  # charged, and refunded in full
    waiting = re.search(r">1003</a>.*?</tr>", page, re.S).group(0)
    assert "not here yet" in waiting and "badge-waiting" in waiting
    assert order_ids(page_text(client.get(url, query_string={"q": "1002"}))) == ["1002"]
    assert order_ids(page_text(client.get(url, query_string={"q": "grace@example.com"}))) == [
        "1002"]
    # The fixture's buyer name (Ada Lovelace) is every buyer's: a name finds them all.
    assert order_ids(page_text(client.get(url, query_string={"q": "Lovelace"}))) == [
        "1002", "1001"]
    assert "No order matches" in page_text(client.get(url, query_string={"q": "nobody"}))


def test_an_orders_page_tells_its_whole_story_with_a_payment_plans_place(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = summit(make_user, make_event, make_ticket, connect)
    post_webhook(client, success(order_id="2001", charged="33300"))
    plan = payment(1, order_id="2001", remaining_rebills="1",
                   next_payment_date=at(LATER + timedelta(days=30)))
    assert post_webhook(client, plan).json["outcomes"][0]["outcome"] == "payment_recorded"
    login("ada@example.com")
    page = page_text(client.get(f"/events/{event_id}/orders/2001"))
    assert "Order <span class=\"mono\">2001</span>" in page
    purchases = page.split('id="purchases-title"', 1)[1].split("</section>", 1)[0]
    assert "All-Access" in purchases and f"333.00{NBSP}USD" in purchases
    assert "1 later payment" in purchases
    charges = page.split('id="charges-title"', 1)[1].split("</section>", 1)[0]
    assert "<code>product-12</code>" in charges and "single" in charges
    events = page.split('id="events-title"', 1)[1].split("</section>", 1)[0]
    next_due = (LATER + timedelta(days=30)).date()
    assert f"payment 2 of 3, next {next_due}" in events
    deliveries = page.split('id="deliveries-title"', 1)[1].split("</section>", 1)[0]
    assert deliveries.count("order.success") == 1 and "order.subscription_payment" in deliveries
    assert client.get(f"/events/{event_id}/orders/never-seen").status_code == 404
