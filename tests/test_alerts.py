"""Email alerts: opting in on the account page, and `flask alerts send` over real SMTP."""

import html
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from heysummit_tc.extensions import db
from heysummit_tc.models import AlertDigest, AlertSubscription, User
from heysummit_tc.services.alerts import set_alert_events

from helpers import FIXTURE_SECRET, PASSWORD, form_body, load_fixture, mail_config, post_webhook
from orders import LATER, rebill_failed, success

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://events.example.com"


def order(order_id, key="product-12", email="buyer@example.com", secret=FIXTURE_SECRET):
    return success(order_id=order_id, key=key, email=email, secret=secret)


def failing_order(order_id):
    """An order.success without a usable email: its delivery fails (422)."""
    payload = load_fixture("order-success.json")
    payload.update(order_id=order_id, thrivecart_secret=FIXTURE_SECRET)
    payload["customer"]["email"] = "not-an-email"
    return form_body(payload)


@pytest.fixture
def summit(make_user, make_event, make_ticket, connect):
    """Ada organises the Growth Summit (product-12 linked, Secret Word saved)."""
    ada = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=ada)
    make_ticket(event_id, "All-Access", "product-12", [("49.97", "USD")],
                on_payment_failed="suspend")
    connect(event_id)
    return event_id, ada


@pytest.fixture
def mailing(app, make_app, smtp_server):
    """The same database, served by an app whose mail goes to the loopback SMTP server."""
    return make_app(**mail_config(smtp_server))


def subscribe(app, user_id, event_ids):
    with app.app_context():
        set_alert_events(db.session, db.session.get(User, user_id), event_ids)
        db.session.commit()


def send(app):
    # Its own app context: the session fixture's belongs to the app without mail.
    with app.app_context():
        return app.test_cli_runner().invoke(args=["alerts", "send"])


def parts(message):
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    return text, markup


def test_organisers_opt_in_per_event_on_the_account_page_which_says_when_mail_is_off(
    client, login, make_user, make_event, session
):
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    summit = make_event("Growth Summit", organiser=ada)
    other = make_event("Other Summit", organiser=bob, editors=[ada])
    login("ada@example.com")
    page = html.unescape(client.get("/account/").get_data(as_text=True))
    assert f'name="alert_event_ids" type="checkbox" value="{summit}"' in page
    assert f'value="{other}"' not in page  # ada only edits tickets there
    assert "Alerts cannot be sent from this server:" in page
    assert "MAIL_SERVER, MAIL_DEFAULT_SENDER, PUBLIC_BASE_URL are not set" in page

    saved = client.post("/account/", data={"alert_event_ids": [summit]}, follow_redirects=True)
    assert "Alerts saved: 1 event." in saved.get_data(as_text=True)
    assert f'checked id="alert_event_ids-0" name="alert_event_ids" type="checkbox" ' \
           f'value="{summit}"' in saved.get_data(as_text=True)
    refused = client.post("/account/", data={"alert_event_ids": [summit, other]})
    assert refused.status_code == 400
    assert "not a valid choice" in refused.get_data(as_text=True)
    assert session.scalars(select(AlertSubscription.event_id)).all() == [summit]
    cleared = client.post("/account/", data={}, follow_redirects=True)
    assert "Alerts saved: none." in cleared.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AlertSubscription)) == 0


def test_the_account_page_does_not_warn_once_mail_is_configured(mailing, make_user):
    make_user("ada@example.com")
    client = mailing.test_client()
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    page = client.get("/account/").get_data(as_text=True)
    assert "Alerts cannot be sent" not in page and "you organise no event yet" in page


def test_a_digest_reports_what_is_new_with_links_at_most_once_an_hour(
    app, client, mailing, smtp_server, summit, session
):
    event_id, ada = summit
    with time_machine.travel(LATER, tick=False):
        subscribe(app, ada, [event_id])
        assert post_webhook(client, order("SUB-1")).status_code == 200
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        assert post_webhook(client, failing_order("BAD-1")).status_code == 422
        post_webhook(client, order("UP-1", key="upsell-9"))
        post_webhook(client, rebill_failed(order_id="SUB-1", when=LATER))
        assert post_webhook(client, order("X-1", secret="GUESSED12345")).status_code == 403

    with time_machine.travel(LATER + timedelta(minutes=10), tick=False):
        result = send(mailing)
    assert result.exit_code == 0, result.output
    assert "1 alert email sent." in result.output
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert message["From"] == "alerts@heysummit.test"
    assert message["Subject"] == ("Growth Summit: 1 failed delivery, 1 unlinked item, "
                                  "1 payment failure, 1 rejected post")
    text, markup = parts(message)
    log = f"{BASE}/events/{event_id}/deliveries/"
    for link in (f"{log}?outcome=failed&attention=1",
                 f"{log}?outcome=payment_failed&attention=1",
                 f"{log}?outcome=rejected",
                 f"{BASE}/events/{event_id}/revenue/tickets/unlinked",
                 f"{BASE}/account/"):
        assert link in text
        assert f'href="{html.escape(link)}"' in markup
    assert "(upsell-9)" in text and "examplesummits" in text

    # Nothing new: a second run sends nothing.
    with time_machine.travel(LATER + timedelta(minutes=11), tick=False):
        assert "0 alert emails sent." in send(mailing).output
        post_webhook(client, failing_order("BAD-2"))
    # Something new, but within the hour of the last digest: it waits.
    with time_machine.travel(LATER + timedelta(minutes=30), tick=False):
        assert "0 alert emails sent." in send(mailing).output
    with time_machine.travel(LATER + timedelta(minutes=71), tick=False):
        assert "1 alert email sent." in send(mailing).output
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[1]["Subject"] == "Growth Summit: 1 failed delivery"
    digests = session.scalars(select(AlertDigest).order_by(AlertDigest.id)).all()
    assert [digest.findings for digest in digests] == [
        "failed=1 rejected=1 unlinked=1 payment_failed=1", "failed=1"]


def test_an_smtp_server_that_refuses_is_retried_on_the_next_run_and_logged(
    app, client, mailing, smtp_server, summit, session, caplog
):
    event_id, ada = summit
    with time_machine.travel(LATER, tick=False):
        subscribe(app, ada, [event_id])
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        post_webhook(client, failing_order("BAD-1"))
    smtp_server.refuse = 1
    with time_machine.travel(LATER + timedelta(minutes=10), tick=False):
        refused = send(mailing)
    assert refused.exit_code == 1
    assert "0 alert emails sent; 1 failed and will be retried next run." in refused.output
    assert "not sent, retried next run: SMTPDataError" in caplog.text
    assert smtp_server.messages == []
    assert session.scalar(select(func.count()).select_from(AlertDigest)) == 0
    with time_machine.travel(LATER + timedelta(minutes=15), tick=False):
        retried = send(mailing)
    assert retried.exit_code == 0 and "1 alert email sent." in retried.output
    assert smtp_server.messages[0]["Subject"] == "Growth Summit: 1 failed delivery"


def test_silence_while_tickets_are_linked_is_reported_once(
    app, client, mailing, smtp_server, summit
):
    event_id, ada = summit
    with time_machine.travel(LATER, tick=False):
        subscribe(app, ada, [event_id])
        post_webhook(client, order("OK-1"))
    with time_machine.travel(LATER + timedelta(days=6), tick=False):
        assert "0 alert emails sent." in send(mailing).output
    with time_machine.travel(LATER + timedelta(days=7, minutes=1), tick=False):
        assert "1 alert email sent." in send(mailing).output
    with time_machine.travel(LATER + timedelta(days=8), tick=False):
        assert "0 alert emails sent." in send(mailing).output
    [message] = smtp_server.messages
    assert message["Subject"] == "Growth Summit: no delivery lately"
    assert "No delivery from ThriveCart since 2027-01-10 12:00 UTC" in parts(message)[0]


def test_only_current_organisers_get_digests_and_without_mail_the_command_says_why(
    app, client, runner, mailing, smtp_server, summit, make_user, session
):
    event_id, ada = summit
    with time_machine.travel(LATER, tick=False):
        subscribe(app, ada, [event_id])
        post_webhook(client, failing_order("BAD-1"))
    unconfigured = runner.invoke(args=["alerts", "send"])
    assert unconfigured.exit_code == 1
    assert "MAIL_SERVER, MAIL_DEFAULT_SENDER, PUBLIC_BASE_URL are not set" in unconfigured.output
    # Demoted to ticket editor: the subscription stays, but nothing is sent to them.
    from heysummit_tc.models import EventMember, Role

    session.execute(EventMember.__table__.update().values(role=Role.TICKET_EDITOR.value))
    session.commit()
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        assert "0 alert emails sent." in send(mailing).output
    assert smtp_server.messages == []


@pytest.mark.postgresql_only
def test_cron_on_four_hosts_at_once_sends_each_digest_once(
    app, client, database_url, smtp_server, summit
):
    event_id, ada = summit
    subscribe(app, ada, [event_id])
    post_webhook(client, failing_order("BAD-1"))
    env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": database_url,
           "SECRET_KEY": "test-secret-key", "SECRET_WORD_KEY": "test-secret-word-key",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port),
           "MAIL_USE_TLS": "0", "MAIL_DEFAULT_SENDER": "alerts@heysummit.test",
           "PUBLIC_BASE_URL": BASE}
    hosts = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "alerts", "send"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [host.communicate(timeout=60)[0] for host in hosts]
    assert all(host.returncode == 0 for host in hosts), outputs
    assert sorted(output.strip().splitlines()[-1] for output in outputs) == [
        "0 alert emails sent.", "0 alert emails sent.", "0 alert emails sent.",
        "1 alert email sent."]
    assert len(smtp_server.messages) == 1
