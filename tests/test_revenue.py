"""Revenue on the dashboard: gross, refunded and net per currency as ThriveCart charged
them, live apart from test, and a chart of each day's money with the same as a table."""

import html
import re

import time_machine

from heysummit_tc.services.revenue import CHART_DAYS, chart, revenue_of

from helpers import post_webhook
from orders import LATER, refund, success

NBSP = "\u00a0"


def made_live(body):
    """The fixture's order is a test-mode one: the same, made live."""
    return body.replace(b"mode=test", b"mode=live").replace(b"mode_int=1", b"mode_int=2")


def test_revenue_sums_what_was_charged_and_refunded_per_currency_live_apart_from_test(
    client, login, make_user, make_event, make_ticket, connect, session
):
    event_id = make_event("Growth Summit", "USD", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("197.00", "USD")])
    connect(event_id)
    with time_machine.travel(LATER, tick=False):
        login("ada@example.com")
        post_webhook(client, made_live(success(order_id="U1", charged="9700",
                                               email="a@example.com")))
        post_webhook(client, made_live(success(order_id="U2", charged="9700",
                                               email="b@example.com")))
        post_webhook(client, made_live(success(order_id="E1", charged="13500", currency="EUR",
                                               email="c@example.com")))
        post_webhook(client, refund(order_id="U1", amount="3000", currency="USD"))
        # A refund of an order that never came here is not this event's money.
        post_webhook(client, refund(order_id="ELSEWHERE", amount="5000", currency="USD"))
        post_webhook(client, success(order_id="T1", charged="9700", email="t@example.com"))
        revenue = revenue_of(session, event_id, today=LATER.date())
        page = html.unescape(client.get(f"/events/{event_id}/").get_data(as_text=True))
    live = {t.currency: (t.gross, t.refunded, t.net) for t in revenue.live}
    assert live == {"EUR": (13500, 0, 13500), "USD": (19400, 3000, 16400)}
    assert [(t.currency, t.gross) for t in revenue.test] == [("USD", 9700)]
    # The chart's last day holds the refund (made at LATER); the orders' own day is 2023.
    usd = revenue.days["USD"]
    assert len(usd) == CHART_DAYS and usd[-1] == (LATER.date(), 0, 3000)
    section = page.split('id="revenue-title"', 1)[1].split("</section>", 1)[0]
    row = re.search(r"<th scope=\"row\" data-label=\"Currency\">USD</th>(.*?)</tr>", section,
                    re.S).group(1)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)
            ] == [f"194.00{NBSP}USD", f"30.00{NBSP}USD", f"164.00{NBSP}USD"]
    assert "Net" in section and f"135.00{NBSP}EUR" in section
    assert 'role="img" aria-labelledby="chart-USD"' in section
    assert f"<title>{LATER.date()}: refunded 30.00{NBSP}USD</title>" in section
    assert (f'<tr><th scope="row" data-label="Day">{LATER.date()}</th><td data-label="Paid" '
            f'class="num">0.00{NBSP}USD</td><td data-label="Refunded" class="num">30.00'
            f'{NBSP}USD</td></tr>') in section


def test_the_chart_scales_each_day_to_the_largest_amount():
    days = [("d1", 100, 0), ("d2", 50, 25), ("d3", 0, 0)]
    bars = chart(days, width=300, height=100)
    assert [(bar.x, bar.paid_height, bar.refunded_height) for bar in bars] == [
        (0, 100, 0), (100, 50, 25), (200, 0, 0)]
    assert [bar.paid for bar in chart([("d", 0, 0)])] == [0]  # nothing to scale: no error
