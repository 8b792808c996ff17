"""Money as ThriveCart charged it: in its currency, formatted for that currency, refunds as
money, the ticket's list price second."""

import csv
import html
import io
import re

import pytest

from heysummit_tc.services.money import money_text, refunded_text

from helpers import post_webhook
from orders import refund, success

NBSP = "\u00a0"


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (9700, "USD", "97.00 USD"), (149700, "USD", "1,497.00 USD"), (15000, "JPY", "15,000 JPY"),
    (13500, "EUR", "135.00 EUR"), (1234, "KWD", "1.234 KWD"), (0, "GBP", "0.00 GBP"),
    # CLDR spends IDR without decimals; ThriveCart counts it in hundredths (ISO 4217).
    (2400000000, "IDR", "24,000,000 IDR"), (12345, "IDR", "123.45 IDR"),
])
def test_amounts_are_shown_in_their_currencys_own_form(minor, currency, shown):
    assert money_text(minor, currency) == shown.replace(" ", NBSP)


def test_a_refund_is_said_as_money():
    assert refunded_text(3000, 9700, "USD") == f"Refunded 30.00 of 97.00{NBSP}USD"
    assert refunded_text(5000, 15000, "JPY") == f"Refunded 5,000 of 15,000{NBSP}JPY"
    assert money_text(None, "USD") == "" and money_text(9700, None) == ""


def cells(page, email):
    """The charged and list price cells of the attendee list's row of ``email``."""
    row = re.search(re.escape(email) + r".*?</tr>", page, re.S).group(0)
    charged = re.search(r'data-label="Charged" class="num">(.*?)</td>', row, re.S).group(1)
    listed = re.search(r'data-label="List price" class="num muted">(.*?)</td>', row).group(1)
    words = re.split(r"[ \t\n]+", re.sub(r"<[^>]+>", " ", charged))  # not at no-break spaces
    return [word for word in words if word], listed


def test_pages_and_csv_show_what_each_buyer_was_charged_and_refunded(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = make_event("Growth Summit", "USD", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("197.00", "USD"), ("180.00", "EUR")])
    connect(event_id)
    post_webhook(client, success(order_id="U1", charged="9700", email="usd@example.com"))
    post_webhook(client, success(order_id="E1", charged="13500", currency="EUR",
                                 email="eur@example.com"))
    post_webhook(client, success(order_id="J1", charged="15000", currency="JPY",
                                 email="jpy@example.com"))
    assert post_webhook(client, refund(order_id="U1", amount="3000", currency="USD")
                        ).json["outcomes"][0]["outcome"] == "partial_refund"
    login("ada@example.com")
    page = html.unescape(client.get(f"/events/{event_id}/attendees/").get_data(as_text=True))
    usd = cells(page, "usd@example.com")
    assert usd == (["97.00" + NBSP + "USD", "Refunded", "30.00", "of", "97.00" + NBSP + "USD"],
                   "197.00" + NBSP + "USD")
    assert cells(page, "eur@example.com") == (["135.00" + NBSP + "EUR"], "180.00" + NBSP + "EUR")
    # No JPY price: the list price is the highest of all, in its own currency.
    assert cells(page, "jpy@example.com") == (["15,000" + NBSP + "JPY"], "197.00" + NBSP + "USD")
    person = re.search(r'href="(/events/\d+/attendees/\d+/)">usd@example.com', page).group(1)
    own = html.unescape(client.get(person).get_data(as_text=True))
    assert f"Refunded 30.00 of 97.00{NBSP}USD" in own
    assert "3000" not in own.split("<main", 1)[1].split("Purchase history", 1)[0]

    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/events/{event_id}/attendees.csv").get_data(as_text=True))))
    money = {row["email"]: (row["charged_amount"], row["charged_currency"],
                            row["refunded_amount"], row["ticket_price"], row["ticket_currency"])
             for row in rows}
    assert money == {
        "usd@example.com": ("97.00", "USD", "30.00", "197.00", "USD"),
        "eur@example.com": ("135.00", "EUR", "0.00", "180.00", "EUR"),
        "jpy@example.com": ("15000", "JPY", "0", "197.00", "USD"),
    }
