"""Posts with a Secret Word no event holds: held (redacted) for 14 days, capped per secret,
per client and in all, offered once the word is saved, released once, and warned about when
they claim an account the event has seen."""

import html
from datetime import timedelta

import time_machine
from sqlalchemy import func, select, update

from heysummit_tc.extensions import db
from heysummit_tc.models import (
    Attendee,
    EventAccount,
    HeldDelivery,
    HeldRefusal,
    User,
    WebhookDelivery,
    utcnow,
)
from heysummit_tc.services.alerts import set_alert_events
from heysummit_tc.services.held import (
    HeldCaps,
    claim_held,
    held_for_digest,
    hold_delivery,
    prune_held,
    refusals_between,
    trim_to_caps,
)
from heysummit_tc.thrivecart.order import read_order

from helpers import (
    FIXTURE_SECRET,
    PASSWORD,
    delivery_links,
    fixture_bytes,
    form_body,
    json_body,
    load_fixture,
    log_url,
    mail_config,
    post_webhook,
    text_of,
)
from orders import LATER


def order_with(**fields):
    return load_fixture("order-success.json") | fields


def test_strangers_naming_a_victims_account_cannot_evict_its_held_order(
    make_app, app, make_event, connect, session
):
    capped = make_app(HELD_DELIVERIES_PER_SECRET=3, HELD_DELIVERIES_PER_CLIENT=5,
                      HELD_DELIVERIES_TOTAL=8)
    thrivecart = capped.test_client()
    thrivecart.environ_base["REMOTE_ADDR"] = "203.0.113.10"
    genuine = order_with(thrivecart_account="victim", order_id="777",
                         thrivecart_secret="VICTIMSNEWWORD")
    assert post_webhook(thrivecart, form_body(genuine)).status_code == 403

    # 200 posts from three addresses, each with a random wrong secret, all naming "victim".
    for number in range(200):
        stranger = capped.test_client()
        stranger.environ_base["REMOTE_ADDR"] = f"198.51.100.{number % 3}"
        payload = order_with(thrivecart_account="victim", order_id=f"9{number}",
                             thrivecart_secret=f"GUESS{number:06d}")
        # Held (403) while there is room; then refused, to be sent again (503).
        assert post_webhook(stranger, form_body(payload)).status_code in (403, 503)

    session.expire_all()
    held = session.scalars(select(HeldDelivery)).all()
    assert "777" in [row.order_id for row in held]
    assert len(held) <= 8
    # The flood was trimmed per address, never below the genuine order.
    by_client = {}
    for row in held:
        by_client[row.client_address] = by_client.get(row.client_address, 0) + 1
    assert by_client["203.0.113.10"] == 1 and max(by_client.values()) <= 5

    # Once the organiser saves the regenerated word, the genuine order is offered.
    event_id = make_event("Summit")
    connect(event_id, "VICTIMSNEWWORD")
    with app.app_context():
        from heysummit_tc.extensions import db
        from heysummit_tc.services.held import held_for_digest
        from heysummit_tc.services.integrations import secret_digest

        offered = held_for_digest(db.session, secret_digest(app.config["SECRET_WORD_KEY"],
                                                            "VICTIMSNEWWORD"))
        assert [row.order_id for row in offered] == ["777"]


def test_a_wide_attack_never_costs_a_held_order_and_organisers_are_told(
    make_app, app, make_user, make_event, connect, session, smtp_server
):
    """One wrong-secret post from each of 400 addresses against 20 real held orders: a full
    store refuses the newcomers (503, Retry-After) instead of dropping what it holds."""
    capped = make_app(HELD_DELIVERIES_TOTAL=30, **mail_config(smtp_server))
    ada = make_user("ada@example.com")
    event_id = make_event("Summit", organiser=ada)
    with time_machine.travel(LATER, tick=False):
        with capped.app_context():
            set_alert_events(db.session, db.session.get(User, ada), [event_id])
            db.session.commit()
    with time_machine.travel(LATER + timedelta(minutes=1), tick=False):
        for number in range(20):  # ThriveCart, posting with a word not saved yet
            thrivecart = capped.test_client()
            thrivecart.environ_base["REMOTE_ADDR"] = f"203.0.113.{10 + number % 2}"
            genuine = order_with(order_id=f"REAL{number}", thrivecart_secret="REGENERATED1")
            assert post_webhook(thrivecart, form_body(genuine)).status_code == 403
        answers = []
        for number in range(400):
            stranger = capped.test_client()
            stranger.environ_base["REMOTE_ADDR"] = f"10.{number // 250}.{number % 250}.1"
            payload = order_with(order_id=f"9{number}", thrivecart_secret=f"GUESS{number:06d}")
            response = post_webhook(stranger, form_body(payload))
            answers.append(response.status_code)
        assert answers == [403] * 10 + [503] * 390
        assert response.headers["Retry-After"] == "3600"
        assert "the store of deliveries held" in response.json["error"]

    session.expire_all()
    held = session.scalars(select(HeldDelivery.order_id)).all()
    assert {f"REAL{number}" for number in range(20)} <= set(held) and len(held) == 30

    organiser = capped.test_client()
    with time_machine.travel(LATER + timedelta(minutes=2), tick=False):
        organiser.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
        page = html.unescape(organiser.get(f"/events/{event_id}/").get_data(as_text=True))
    assert "Posts refused: the store of held posts is full" in page
    assert "390 posts with a Secret Word that matches no event were refused" in page
    assert "30 such posts are held already" in page

    with time_machine.travel(LATER + timedelta(minutes=3), tick=False), capped.app_context():
        assert capped.test_cli_runner().invoke(args=["alerts", "send"]).exit_code == 0
    [digest] = smtp_server.messages
    assert "390 refused posts" in digest["Subject"]
    assert "390 posts with a Secret Word that matches no event were refused" in \
        digest.get_body(("plain",)).get_content()


def test_the_same_secret_crowds_out_only_its_own_oldest_posts(make_app, app, session):
    capped = make_app(HELD_DELIVERIES_PER_SECRET=3, HELD_DELIVERIES_PER_CLIENT=100,
                      HELD_DELIVERIES_TOTAL=100)
    client = capped.test_client()
    for number in range(1, 6):
        payload = order_with(order_id=str(number), thrivecart_secret="SAMEWRONGWORD")
        assert post_webhook(client, form_body(payload)).status_code == 403
    other = order_with(order_id="99", thrivecart_secret="ANOTHERWORD1")
    assert post_webhook(client, form_body(other)).status_code == 403
    session.expire_all()
    kept = session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all()
    assert kept == ["3", "4", "5", "99"]


def test_the_wrong_secret_warning_says_what_is_known_lists_clears_and_dismisses(
    client, login, make_user, make_event, make_ticket, connect
):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    connect(event_id)
    assert post_webhook(client, form_body(order_with(thrivecart_secret=FIXTURE_SECRET))
                        ).status_code == 200
    for number in (1, 2):
        post_webhook(client, form_body(order_with(order_id=f"55{number}",
                                                  thrivecart_secret="REGENERATED1")))
    login("ada@example.com")
    url = f"/events/{event_id}/setup/integrations/thrivecart/"
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert ("2 posts claiming to come from the ThriveCart account “examplesummits” had a "
            "Secret Word that matches nothing") in page
    assert "order 551" in page and "order 552" in page

    # Dismissed: gone until the next rejected post.
    assert client.post(url + "rejections/dismiss").status_code == 302
    assert "matches nothing" not in client.get(url).get_data(as_text=True)
    post_webhook(client, form_body(order_with(order_id="553", thrivecart_secret="REGENERATED1")))
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "1 post claiming" in page and "order 553" in page and "order 551" not in page

    # Saving the word they were made with clears it: they are offered for processing instead.
    connect(event_id, "REGENERATED1")
    page = html.unescape(client.get(url).get_data(as_text=True))
    assert "matches nothing" not in page
    assert "3 orders arrived before this Secret Word was saved" in page


def test_a_post_naming_an_unseen_account_raises_no_warning(client, login, make_user,
                                                           make_event, connect):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    connect(event_id)
    post_webhook(client, json_body(order_with(thrivecart_account="someone-else",
                                              thrivecart_secret="WRONGWORD123")))
    login("ada@example.com")
    page = client.get(f"/events/{event_id}/setup/integrations/thrivecart/")
    assert "matches nothing" not in page.get_data(as_text=True)


def test_every_account_that_posts_to_an_event_is_remembered_once_per_event(
        client, session, make_user, make_event, connect):
    """The accounts an event has seen decide which rejected posts concern it; the database
    notes them as deliveries arrive, for each event a delivery reaches."""
    first = make_event("Summit", organiser=make_user("ada@example.com"))
    second = make_event("Workshop", organiser=make_user("bob@example.com"))
    connect(first)
    connect(second)  # one Secret Word: each delivery reaches both events
    for n, account in enumerate(("shop-a", "shop-a", "shop-b", "")):
        answer = post_webhook(client, json_body(order_with(thrivecart_account=account,
                                                           order_id=f"ACC-{n}")))
        assert answer.status_code == 200, answer.json
    seen = session.execute(select(EventAccount.event_id, EventAccount.thrivecart_account)
                           .order_by(EventAccount.event_id, EventAccount.thrivecart_account))
    assert [tuple(row) for row in seen] == [(first, "shop-a"), (first, "shop-b"),
                                            (second, "shop-a"), (second, "shop-b")]


def test_a_held_order_is_offered_for_14_days_and_not_a_day_more(
    client, make_user, make_event, make_ticket, connect, login, session
):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    for order_id in ("FRESH", "STALE"):
        assert post_webhook(client, form_body(order_with(order_id=order_id))).status_code == 403
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
    assert post_webhook(client, form_body(order_with(order_id="HELD-1"))).status_code == 403
    held_id = session.scalar(select(HeldDelivery.id))
    moment = utcnow() - timedelta(hours=3)
    assert claim_held(session, held_id, moment) is True
    assert claim_held(session, held_id) is False  # a second release finds it taken
    session.commit()
    session.expire_all()
    assert session.get(HeldDelivery, held_id).released_at == moment


def test_held_orders_are_pruned_after_exactly_14_days_of_the_given_clock(client, session):
    for order_id in ("EDGE", "OLDER"):
        assert post_webhook(client, form_body(order_with(order_id=order_id))).status_code == 403
    later = utcnow() + timedelta(days=30)
    cutoff = later - timedelta(days=14)
    for order_id, received_at in (("EDGE", cutoff), ("OLDER", cutoff - timedelta(seconds=1))):
        session.execute(update(HeldDelivery).where(HeldDelivery.order_id == order_id)
                        .values(received_at=received_at))
    # Measured by the clock given, not by the wall clock (by which both are in the future).
    assert prune_held(session, later) == 1
    session.commit()
    assert session.scalars(select(HeldDelivery.order_id)).all() == ["EDGE"]


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


def test_trimming_keeps_the_newest_unreleased_posts_of_the_secret_and_of_the_address(session):
    """Past its cap, a secret's or an address's oldest unreleased posts go, and nobody
    else's: row by row, on a store laid out by hand."""
    layout = [("d1", "a", None), ("d1", "b", None), ("d2", "a", None), ("d1", "a", utcnow()),
              ("d1", "a", None), ("d2", "a", None), ("d1", "b", None), ("d3", "c", None),
              ("d3", "c", None), ("d3", "c", utcnow())]
    rows = [HeldDelivery(order_id=f"H{number}", secret_digest=digest, client_address=address,
                         released_at=released)
            for number, (digest, address, released) in enumerate(layout, start=1)]
    session.add_all(rows)
    session.flush()

    def trim(digest, per_secret, address, per_client):
        session.execute(trim_to_caps(), {"digest": digest, "per_secret": per_secret,
                                         "client_address": address, "per_client": per_client})
        return session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all()

    # d1's unreleased are H1, H2, H5, H7 (the newest two stay); a's are H1, H3, H5, H6.
    assert trim("d1", 2, "a", 2) == ["H4", "H5", "H6", "H7", "H8", "H9", "H10"]
    # At their caps exactly, nothing goes (H10 is released: it takes no place).
    assert trim("d3", 2, "c", 2) == ["H4", "H5", "H6", "H7", "H8", "H9", "H10"]
    assert trim("d1", 1, "nobody", 5) == ["H4", "H6", "H7", "H8", "H9", "H10"]
    assert trim("nobody", 5, "c", 1) == ["H4", "H6", "H7", "H9", "H10"]


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
    start = utcnow().replace(second=10, microsecond=250000) + timedelta(days=1)
    _hold(session, "A1", caps=(10, 10, 1), now=start)
    for seconds in (0, 20, 70):
        assert _hold(session, "X", caps=(10, 10, 1), now=start + timedelta(seconds=seconds)) \
            is None
    first_minute = start.replace(second=0, microsecond=0)
    second_minute = first_minute + timedelta(minutes=1)
    assert session.execute(select(HeldRefusal.minute, HeldRefusal.refused)
                           .order_by(HeldRefusal.minute)).all() == [
        (first_minute, 2), (second_minute, 1)]
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


def test_delivery_before_the_secret_is_held_offered_and_processed_once(
    client, login, make_user, make_event, make_ticket, connect, session
):
    user = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=user)
    make_ticket(event_id, "All-Access", "product-12", [("4997.00", "USD")])
    stranger = make_event("Stranger", organiser=make_user("bob@example.com"))
    connect(stranger, "DIFFERENTSECRET")
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 403
    held = session.scalars(select(HeldDelivery)).one()
    assert "thrivecart_secret" not in held.payload

    login("bob@example.com")
    assert "arrived before" not in text_of(client.get(log_url(stranger)))

    login("ada@example.com")
    url = f"/events/{event_id}/setup/integrations/thrivecart/"
    assert "arrived before" not in text_of(client.get(url))
    client.post(url + "configure", data={"secret_word": "K7Q2M9X4TZ1B"})
    page = text_of(client.get(url))
    assert "1 order arrived before this Secret Word was saved." in page
    assert "ada.lovelace@example.com" in page
    assert session.scalar(select(func.count()).select_from(Attendee)) == 0  # not before asked

    response = client.post(url + "held/process", follow_redirects=True)
    assert "Processed 1 held order." in text_of(response)
    assert "arrived before" not in text_of(client.get(url))
    session.expire_all()
    person = session.scalars(select(Attendee)).one()
    assert person.event_id == event_id
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.source, delivery.status, delivery.received_at) == (
        "held", "processed", held.received_at)
    assert session.get(HeldDelivery, held.id).delivery_id == delivery.id
    # Confirming again processes nothing more.
    client.post(url + "held/process")
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    assert delivery.id in delivery_links(text_of(client.get(url)))


def test_held_deliveries_are_capped_oldest_first_and_a_full_store_refuses(
        make_app, app, make_event, session):
    capped = make_app(HELD_DELIVERIES_PER_SECRET=100, HELD_DELIVERIES_PER_CLIENT=3,
                      HELD_DELIVERIES_TOTAL=5)

    def post(client_address, number):
        client = capped.test_client()
        client.environ_base["REMOTE_ADDR"] = client_address
        payload = load_fixture("order-success.json") | {
            "order_id": str(number), "thrivecart_secret": f"NOBODYSSECRET{number}"}
        return post_webhook(client, form_body(payload)).status_code

    assert [post("192.0.2.1", number) for number in range(1, 6)] == [403] * 5
    kept = session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all()
    assert kept == ["3", "4", "5"]  # an address past its cap gives up its own oldest
    assert [post("192.0.2.2", number) for number in range(6, 9)] == [403, 403, 503]
    session.expire_all()
    kept = session.scalars(select(HeldDelivery.order_id).order_by(HeldDelivery.id)).all()
    # Order 8 found the store full: it was refused, and nothing held was dropped for it.
    assert kept == ["3", "4", "5", "6", "7"]


def test_wrong_secret_from_a_known_account_warns_about_regeneration(client, organiser):
    post_webhook(client, fixture_bytes("order-success.form"))
    payload = load_fixture("order-success.json") | {"thrivecart_secret": "REGENERATED1"}
    post_webhook(client, form_body(payload))
    page = text_of(client.get(f"/events/{organiser}/setup/integrations/thrivecart/"))
    assert ("1 post claiming to come from the ThriveCart account “examplesummits” had a "
            "Secret Word that matches nothing") in page
    assert "If you regenerated your Secret Word in ThriveCart" in page
