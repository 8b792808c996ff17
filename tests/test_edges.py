"""Hardened edges (SPEC 3 and 6): each finding of the black-box review as a regression case.

Every body here once got an answer outside SPEC 3's table (a 503 with a traceback, a cut
body processed) or let a stranger change what an organiser sees; each test names its case.
"""

import html
import io
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from heysummit_tc.extensions import db
from heysummit_tc.models import (
    Attendee,
    EventAccount,
    HeldDelivery,
    TicketPurchase,
    User,
    WebhookDelivery,
)
from heysummit_tc.services.alerts import set_alert_events
from heysummit_tc.thrivecart.order import MAX_ITEMS
from heysummit_tc.thrivecart.payload import parse_payload

from helpers import (
    FIXTURE_SECRET,
    PASSWORD,
    form_body,
    json_body,
    load_fixture,
    mail_config,
    post_webhook,
)
from orders import LATER


def written(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Attendee, TicketPurchase, WebhookDelivery))


def order_with(**fields):
    return load_fixture("order-success.json") | fields


# Each case: (name, body, the status SPEC 3 gives it).
CORPUS = [
    # A Unicode digit is a key like any other, not a list index: the secret decides.
    ("a superscript digit as a bracket index", "thrivecart_secret=x&a[²]=1".encode(), 403),
    ("an Arabic-Indic digit as a list index", "thrivecart_secret=x&a[٣]=1".encode(), 403),
    ("a fullwidth digit beside ASCII ones", "thrivecart_secret=x&a[0]=1&a[１]=2".encode(), 403),
    ("a Unicode digit past the list limit", "thrivecart_secret=x&a[٣٣٣٣٣]=1".encode(), 403),
    ("a JSON number of 4,301 digits",
     b'{"thrivecart_secret": "x", "n": ' + b"7" * 4301 + b"}", 403),
    ("a JSON number of 100,000 digits",
     b'{"thrivecart_secret": "x", "n": ' + b"9" * 100_000 + b"}", 403),
    ("a JSON float with a huge exponent", b'{"thrivecart_secret": "x", "n": 1e999999}', 403),
    ("JSON NaN", b'{"thrivecart_secret": "x", "n": NaN}', 400),
    ("JSON -Infinity", b'{"thrivecart_secret": "x", "n": -Infinity}', 400),
    ("thrivecart_secret=null", b"thrivecart_secret=null&event=order.success", 403),
    ("a JSON null secret", b'{"thrivecart_secret": null, "event": "order.success"}', 403),
]


@pytest.mark.parametrize("name, body, status", CORPUS, ids=[case[0] for case in CORPUS])
def test_hostile_corpus_gets_the_documented_answer_and_no_error_line(
    client, linked_event, session, error_lines, name, body, status
):
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        response = post_webhook(client, body, content_type=content_type)
        assert (response.status_code, response.is_json) == (status, True), name
    assert error_lines == []
    assert written(session) == (0, 0, 0)


def test_unicode_digits_in_brackets_are_keys_not_list_indexes():
    assert parse_payload("a[²]=1&b[0]=x&b[１]=y".encode()) == {
        "a": {"²": "1"}, "b": {"0": "x", "１": "y"}}


def test_a_long_json_number_is_kept_as_its_digits():
    digits = "12345678901234567890" * 300
    assert parse_payload(f'{{"customer_id": {digits}}}'.encode()) == {"customer_id": digits}


def test_a_chunked_body_over_the_limit_is_413_not_cut_and_processed(
    client, app, linked_event, session
):
    limit = app.config["MAX_CONTENT_LENGTH"]
    # A genuine order whose fields run past the limit: cut at the limit it would still parse.
    body = fixture_bytes_padded(limit * 2)
    response = client.post(
        "/api/webhooks/thrivecart/", input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        # How gunicorn hands over a chunked body: no length, and the server ends the stream.
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert written(session) == (0, 0, 0)


def test_a_chunked_body_within_the_limit_is_processed(client, linked_event, session):
    response = client.post(
        "/api/webhooks/thrivecart/", input_stream=io.BytesIO(form_body(order_with())),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.json
    assert written(session) == (1, 1, 1)


def fixture_bytes_padded(size):
    body = form_body(order_with(thrivecart_secret=FIXTURE_SECRET))
    return body + b"&padding=" + b"x" * (size - len(body))


def test_an_order_listing_more_items_than_the_cap_is_refused_before_anything_is_written(
    client, linked_event, session
):
    flood = ",".join(f"product-{number}" for number in range(1, 17_001)).encode()
    body = form_body(order_with(thrivecart_secret=FIXTURE_SECRET)) + b"&purchase_map_flat="
    response = post_webhook(client, body + flood)
    assert response.status_code == 400
    assert f"at most {MAX_ITEMS}" in response.json["error"]
    assert len(response.data) < 500
    assert written(session) == (0, 0, 0)


def test_an_order_at_the_item_cap_is_processed(client, linked_event, session):
    keys = ["product-12", *(f"product-{number}" for number in range(1000, 1000 + MAX_ITEMS - 1))]
    response = post_webhook(client, form_body(order_with(
        thrivecart_secret=FIXTURE_SECRET, purchase_map=["product-12"],
        purchase_map_flat=",".join(keys))))
    assert response.status_code == 200
    assert len(response.json["outcomes"]) == MAX_ITEMS
    assert written(session) == (1, 1, 1)


def test_options_on_the_webhook_answers_json_with_the_allowed_methods(client):
    response = client.open("/api/webhooks/thrivecart/", method="OPTIONS")
    assert (response.status_code, response.is_json) == (200, True)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_a_cookie_copied_before_sign_out_opens_nothing_afterwards(app, client, login,
                                                                  make_user, make_event):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    login("ada@example.com")
    copied = client.get_cookie("session").value
    assert client.get(f"/events/{event_id}/").status_code == 200
    assert client.post("/logout").status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get(f"/events/{event_id}/")
    assert response.status_code == 302 and "/login" in response.location


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
