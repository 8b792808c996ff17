"""Boundaries a wrong line of code would cross unnoticed: exact item keys in the database,
mode_int on its own, full pages, the held window, every formula prefix, refunds of another
order."""

import csv
import html
import io
from datetime import timedelta

from sqlalchemy import func, select, update

from heysummit_tc.models import (
    Attendee,
    HeldDelivery,
    HeldRefusal,
    PurchaseStatus,
    TicketPurchase,
    utcnow,
)
from heysummit_tc.services.held import (
    HeldCaps,
    claim_held,
    held_for_digest,
    hold_delivery,
    prune_held,
    refusals_between,
)
from heysummit_tc.thrivecart.order import read_order

from helpers import FIXTURE_SECRET, form_body, load_fixture, post_webhook
from orders import refund, success


def order_with(**fields):
    payload = load_fixture("order-success.json")
    payload.update(fields)
    return form_body(payload)


def test_an_item_unlocks_only_the_ticket_with_exactly_its_external_id(
    client, make_event, make_ticket, connect, session
):
    event_id = make_event("Summit")
    make_ticket(event_id, "Product one", "product-1", [("10.00", "USD")])
    connect(event_id)
    answer = post_webhook(client, success(order_id="P12", key="product-12"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["unlinked"]
    assert session.scalar(select(func.count()).select_from(TicketPurchase)) == 0
    answer = post_webhook(client, success(order_id="P1", key="product-1"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["paid"]


def test_either_mode_or_mode_int_alone_tells_a_test_order_from_a_live_one(
    client, linked_event, session
):
    orders = {"T-1": ("", "1"), "L-1": ("", "2"), "T-2": ("Test", ""), "L-2": ("live", ""),
              "T-3": ("TEST", "2")}
    for order_id, (mode, mode_int) in orders.items():
        payload = load_fixture("order-success.json")
        payload.update(order_id=order_id, mode=mode, mode_int=mode_int)
        payload["customer"]["email"] = f"{order_id.lower()}@example.com"
        assert post_webhook(client, form_body(payload)).status_code == 200
    tests = dict(session.execute(select(Attendee.email, TicketPurchase.test).join(
        TicketPurchase, TicketPurchase.attendee_id == Attendee.id)).all())
    assert tests == {f"{order_id.lower()}@example.com": order_id.startswith("T")
                     for order_id in orders}


def test_a_page_exactly_full_has_no_older_page_and_one_more_has(client, organiser, session):
    for number in range(50):
        session.add(Attendee(event_id=organiser, email=f"a{number:02d}@example.com"))
    session.commit()
    full = html.unescape(client.get(f"/events/{organiser}/attendees/").get_data(as_text=True))
    assert "a00@example.com" in full and ">Older<" not in full
    session.add(Attendee(event_id=organiser, email="a50@example.com"))
    session.commit()
    more = html.unescape(client.get(f"/events/{organiser}/attendees/").get_data(as_text=True))
    assert "a00@example.com" not in more and ">Older<" in more


def test_the_delivery_log_pages_at_exactly_25(client, organiser):
    url = f"/events/{organiser}/setup/integrations/thrivecart/"
    for number in range(25):
        post_webhook(client, success(order_id=f"D{number}", email=f"d{number}@example.com"))
    assert ">Older<" not in client.get(url).get_data(as_text=True)
    post_webhook(client, success(order_id="D25", email="d25@example.com"))
    assert ">Older<" in client.get(url).get_data(as_text=True)


def test_a_held_order_is_offered_for_14_days_and_not_a_day_more(
    client, make_user, make_event, make_ticket, connect, login, session
):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    for order_id in ("FRESH", "STALE"):
        assert post_webhook(client, order_with(order_id=order_id)).status_code == 403
    for order_id, age in (("FRESH", timedelta(days=13, hours=23)),
                          ("STALE", timedelta(days=14, hours=1))):
        session.execute(update(HeldDelivery).where(HeldDelivery.order_id == order_id)
                        .values(received_at=utcnow() - age))
    session.commit()
    connect(event_id, FIXTURE_SECRET)
    login("ada@example.com")
    page = html.unescape(client.get(f"/events/{event_id}/setup/integrations/thrivecart/")
                         .get_data(as_text=True))
    assert "1 order arrived before this Secret Word was saved." in page
    assert "order FRESH" in page and "order STALE" not in page


def test_a_held_order_is_released_once_and_stamped_with_the_moment_of_release(
    client, session
):
    assert post_webhook(client, order_with(order_id="HELD-1")).status_code == 403
    held_id = session.scalar(select(HeldDelivery.id))
    moment = utcnow() - timedelta(hours=3)
    assert claim_held(session, held_id, moment) is True
    assert claim_held(session, held_id) is False  # a second release finds it taken
    session.commit()
    session.expire_all()
    assert session.get(HeldDelivery, held_id).released_at == moment


def test_held_orders_are_pruned_after_exactly_14_days_of_the_given_clock(client, session):
    for order_id in ("EDGE", "OLDER"):
        assert post_webhook(client, order_with(order_id=order_id)).status_code == 403
    later = utcnow() + timedelta(days=30)
    cutoff = later - timedelta(days=14)
    for order_id, received_at in (("EDGE", cutoff), ("OLDER", cutoff - timedelta(seconds=1))):
        session.execute(update(HeldDelivery).where(HeldDelivery.order_id == order_id)
                        .values(received_at=received_at))
    # Measured by the clock given, not by the wall clock (by which both are in the future).
    assert prune_held(session, later) == 1
    session.commit()
    assert session.scalars(select(HeldDelivery.order_id)).all() == ["EDGE"]


def test_the_csv_neutralises_every_formula_prefix(client, organiser, session):
    prefixes = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]
    for number, text in enumerate(prefixes):
        session.add(Attendee(event_id=organiser, email=f"f{number}@example.com",
                             first_name=text, last_name="Plain"))
    session.commit()
    rows = list(csv.reader(io.StringIO(
        client.get(f"/events/{organiser}/attendees.csv").get_data(as_text=True))))
    first_names = {row[0]: row[1] for row in rows[1:]}
    for number, text in enumerate(prefixes):
        assert first_names[f"f{number}@example.com"] == "'" + text
    assert {row[2] for row in rows[1:]} == {"Plain"}


def test_a_refund_of_another_order_leaves_this_orders_purchase_paid(
    client, linked_event, session
):
    post_webhook(client, success(order_id="PAID-1"))
    answer = post_webhook(client, refund(order_id="OTHER-9"))
    assert [o["outcome"] for o in answer.json["outcomes"]] == ["waiting_for_order"]
    session.expire_all()
    assert session.scalar(select(TicketPurchase.status)) == PurchaseStatus.PAID


def _hold(session, order_id, client="203.0.113.9", now=None, caps=(10, 10, 10), **fields):
    payload = load_fixture("order-success.json")
    payload.update(order_id=order_id, **fields)
    per_secret, per_client, total = caps
    return hold_delivery(session, read_order(payload), "digest", client,
                         HeldCaps(per_secret, per_client, total), now=now)


def test_a_held_delivery_keeps_what_the_rejected_post_said_at_the_moment_given(session):
    moment = utcnow() - timedelta(days=2)
    held = session.get(HeldDelivery, _hold(
        session, "9" * 45, client="2001:db8::" + "f" * 70, now=moment,
        event="order." + "x" * 70, mode="test"))
    assert (held.received_at, held.event_type, held.test, held.order_id,
            held.client_address) == (moment, ("order." + "x" * 70)[:64], True, "9" * 40,
                                     ("2001:db8::" + "f" * 70)[:64])


def test_released_held_deliveries_do_not_count_against_the_caps(session):
    kept = [_hold(session, f"R{n}", caps=(2, 2, 2)) for n in range(2)]
    for held_id in kept:
        assert claim_held(session, held_id)
    for n in range(3):
        _hold(session, f"N{n}", caps=(2, 2, 2))
    orders = session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all()
    assert orders == ["R0", "R1", "N0", "N1"]  # N2 found the store full


def test_at_the_overall_cap_a_post_is_refused_and_nothing_held_is_dropped(session):
    for order_id, client in (("A1", "203.0.113.9"), ("A2", "203.0.113.9"),
                             ("B1", "198.51.100.7")):
        assert _hold(session, order_id, client=client, caps=(10, 10, 3)) is not None
    assert _hold(session, "C1", client="192.0.2.1", caps=(10, 10, 3)) is None
    assert session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all() == [
        "A1", "A2", "B1"]
    assert session.scalar(select(func.sum(HeldRefusal.refused))) == 1


def test_an_overall_cap_lowered_below_what_is_held_refuses_and_keeps_what_is_held(session):
    for order_id, client in (("A1", "203.0.113.9"), ("A2", "203.0.113.9"),
                             ("B1", "198.51.100.7"), ("B2", "198.51.100.7")):
        _hold(session, order_id, client=client, caps=(10, 10, 10))
    assert _hold(session, "C1", client="192.0.2.1", caps=(10, 10, 1)) is None
    assert session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all() == [
        "A1", "A2", "B1", "B2"]


def test_refused_posts_are_counted_per_minute_and_each_window_counts_each_once(session):
    start = utcnow().replace(second=10, microsecond=0) + timedelta(days=1)
    _hold(session, "A1", caps=(10, 10, 1), now=start)
    for seconds in (0, 20, 70):
        assert _hold(session, "X", caps=(10, 10, 1), now=start + timedelta(seconds=seconds)) \
            is None
    first_minute = start.replace(second=0)
    second_minute = first_minute + timedelta(minutes=1)
    assert refusals_between(session, first_minute, second_minute) == (
        2, start + timedelta(seconds=20))
    assert refusals_between(session, second_minute, second_minute + timedelta(minutes=5)) == (
        1, start + timedelta(seconds=70))
    # A window within one minute counts nothing: that minute belongs to the window it starts in.
    assert refusals_between(session, start + timedelta(seconds=30),
                            start + timedelta(seconds=40)) == (0, None)
    prune_held(session, second_minute + timedelta(days=14))
    assert refusals_between(session, start - timedelta(minutes=1),
                            start + timedelta(minutes=5))[0] == 1  # the first minute went


def test_held_deliveries_are_offered_for_exactly_14_days_of_the_clock_given(session):
    later = utcnow() + timedelta(days=30)
    edge = _hold(session, "EDGE", now=later - timedelta(days=14))
    _hold(session, "OLDER", now=later - timedelta(days=14, seconds=1))
    newest = _hold(session, "NEW", now=later)
    assert [held.id for held in held_for_digest(session, "digest", later)] == [edge, newest]


def test_released_deliveries_leave_room_under_the_overall_cap(session):
    released = _hold(session, "R0", caps=(10, 10, 2))
    assert claim_held(session, released)
    for n in range(3):
        _hold(session, f"N{n}", caps=(10, 10, 2))
    assert session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all() == [
        "R0", "N0", "N1"]
