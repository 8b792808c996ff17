"""CSRF: every organiser form refuses a missing or wrong token; only the webhook is exempt."""

import re

import pytest

from helpers import PASSWORD, fixture_bytes, post_webhook

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="csrf_token" value="([^"]+)"')


def token_from(page):
    match = TOKEN.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def csrf_app(make_app, app):
    return make_app(WTF_CSRF_ENABLED=True)


def test_every_state_changing_route_refuses_missing_and_wrong_tokens(
    csrf_app, make_user, make_event, make_ticket
):
    make_user("ada@example.com")
    event_id = make_event(organiser=None)
    client = csrf_app.test_client()
    # Without a token not even sign-in works.
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302

    ids = {"event_id": event_id, "ticket_id": make_ticket(event_id, "T"), "price_id": 1,
           "delivery_id": 1, "attendee_id": 1, "token": "any",
           "user_id": 1, "purchase_id": 1, "order_id": "1"}
    posts = []
    for rule in csrf_app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith("webhooks."):
            continue
        with csrf_app.test_request_context():
            url = csrf_app.url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
        posts.append(url)
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data=data)
            assert response.status_code == 400, (url, data, response.status_code)
            assert "CSRF" in response.get_data(as_text=True)
    assert len(posts) >= 10


def signed_in_with_token(csrf_app, make_user):
    """A client signed in as a new organiser, through the real form and its token."""
    make_user("ada@example.com")
    client = csrf_app.test_client()
    token = token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD,
                                "csrf_token": token})
    return client


def test_a_real_token_is_accepted(csrf_app, make_user):
    client = signed_in_with_token(csrf_app, make_user)
    token = token_from(client.get("/events/new").get_data(as_text=True))
    response = client.post("/events/new", data={"name": "Launch", "currency": "USD",
                                                "csrf_token": token})
    assert response.status_code == 302


def test_the_webhook_is_the_only_exempt_route(csrf_app, make_user):
    client = signed_in_with_token(csrf_app, make_user)
    exempt = []
    for rule in csrf_app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        with csrf_app.test_request_context():
            url = csrf_app.url_for(rule.endpoint, **{name: 1 for name in rule.arguments})
        response = client.post(url, data={})
        if not (response.status_code == 400 and "CSRF" in response.get_data(as_text=True)):
            exempt.append(rule.rule)
    assert exempt == ["/api/webhooks/thrivecart/"]


def test_webhook_posts_need_no_token(csrf_app):
    response = post_webhook(csrf_app.test_client(), fixture_bytes("order-success.form"))
    assert response.status_code == 403  # judged by its secret word, not by CSRF
