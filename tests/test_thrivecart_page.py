"""Event Setup > Integrations > ThriveCart Checkout: status, checklist, webhook URL, Configure."""

import html

import pytest
from sqlalchemy import select

from heysummit_tc.models import ThriveCartIntegration

from helpers import fixture_bytes, post_webhook


@pytest.fixture
def new_event(signed_in):
    return signed_in()


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_integrations_card_shows_configured_or_not(client, new_event, connect):
    url = f"/events/{new_event}/setup/integrations/"
    assert "ThriveCart Checkout" in page(client, url) and "Not configured" in page(client, url)
    connect(new_event)
    assert "Not configured" not in page(client, url) and "Configured" in page(client, url)


def test_configure_saves_a_digest_and_shows_only_the_last_three(client, new_event, session):
    url = f"/events/{new_event}/setup/integrations/thrivecart/configure"
    form = page(client, url)
    assert 'type="password"' in form and 'name="secret_word"' in form
    response = client.post(url, data={"secret_word": "K7Q2M9X4TZ1B"})
    assert response.status_code == 302
    integration = session.scalars(select(ThriveCartIntegration)).one()
    assert len(integration.secret_digest) == 64 and integration.secret_last3 == "Z1B"
    assert "K7Q2M9X4TZ1B" not in integration.secret_digest
    shown = page(client, url)
    assert "•••••••••Z1B" in shown and "K7Q2M9X4TZ1B" not in shown


def test_empty_secret_keeps_the_current_one(client, new_event, session):
    url = f"/events/{new_event}/setup/integrations/thrivecart/configure"
    client.post(url, data={"secret_word": "K7Q2M9X4TZ1B"})
    digest = session.scalars(select(ThriveCartIntegration)).one().secret_digest
    response = client.post(url, data={"secret_word": ""}, follow_redirects=True)
    assert "Secret Word unchanged." in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(ThriveCartIntegration)).one().secret_digest == digest


def test_first_save_needs_a_secret_and_bad_ones_are_explained(client, new_event, session):
    url = f"/events/{new_event}/setup/integrations/thrivecart/configure"
    response = client.post(url, data={"secret_word": ""})
    assert response.status_code == 400
    assert "Paste the Secret Word from ThriveCart." in response.get_data(as_text=True)
    response = client.post(url, data={"secret_word": "has space"})
    assert response.status_code == 400
    assert "ThriveCart order validation" in html.unescape(response.get_data(as_text=True))
    assert session.scalars(select(ThriveCartIntegration)).all() == []


def test_disconnect_forgets_the_secret_and_refuses_orders(client, new_event, session):
    url = f"/events/{new_event}/setup/integrations/thrivecart/"
    client.post(url + "configure", data={"secret_word": "K7Q2M9X4TZ1B"})
    assert client.post(url + "disconnect").status_code == 302
    assert session.scalars(select(ThriveCartIntegration)).all() == []
    assert post_webhook(client, fixture_bytes("order-success.form")).status_code == 403


def test_page_shows_webhook_url_checklist_and_limits(
    make_app, app, make_user, make_event, make_ticket, connect
):
    public = make_app(PUBLIC_BASE_URL="https://tickets.example.com/")
    client = public.test_client()
    user = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=user)
    client.post("/login", data={"email": "ada@example.com",
                                "password": "correct horse battery"})
    url = f"/events/{event_id}/setup/integrations/thrivecart/"
    before = page(client, url)
    assert 'value="https://tickets.example.com/api/webhooks/thrivecart/"' in before
    assert 'data-copy-target="webhook-url"' in before
    assert "No ticket has an External ID yet" in before
    assert "No verified delivery from a ThriveCart account yet" in before
    for promise in ("are not sent to ThriveCart", "do not send buyers to ThriveCart",
                    "Affiliate sales and commissions are tracked in ThriveCart"):
        assert promise in before

    ticket = make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    make_ticket(event_id, "Old", "product-99", active=False)
    connect(event_id)
    # The built-in test purchase checks the tickets, not that ThriveCart has the webhook.
    sent = client.post(url + "test-purchase", data={"ticket_id": ticket,
                                                    "email": "tess@example.com"})
    assert sent.status_code == 302
    assert "No verified delivery from a ThriveCart account yet" in page(client, url)
    post_webhook(client, fixture_bytes("order-success.form"))
    after = page(client, url)
    assert "Secret Word saved (ends in" in after
    assert "2 tickets have an External ID" in after
    assert "Last verified delivery from ThriveCart" in after and "processed" in after
    assert "Linked but inactive" in after and "“Old”" in after
    assert "ada.lovelace@example.com" in after  # the delivery log


def test_webhook_url_defaults_to_the_request_host(client, new_event):
    shown = page(client, f"/events/{new_event}/setup/integrations/thrivecart/")
    assert 'value="http://localhost/api/webhooks/thrivecart/"' in shown
