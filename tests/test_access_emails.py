"""The access email: written with the grant, sent once by the real worker over real SMTP,
and the single-use link it carries."""

import html
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from heysummit_tc.extensions import db
from heysummit_tc.jobs import send_emails
from heysummit_tc.models import (
    ActivityEntry,
    EmailKind,
    EmailStatus,
    Event,
    OutboxEmail,
    utcnow,
)
from heysummit_tc.services.events import EventDetails, update_event

from helpers import PASSWORD, Worker, mail_config, mail_env, post_webhook, wait_for
from orders import success

BASE = "https://events.example.com"


@pytest.fixture
def jobs_url(tmp_path):
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


@pytest.fixture
def mailing(app, make_app, smtp_server, jobs_url):
    """The app with mail and the worker's queue (same database as ``app``)."""
    return make_app(**mail_config(smtp_server), JOBS_URL=jobs_url, EMAIL_RETRY_SECONDS=1)


@pytest.fixture
def worker(database_url, jobs_url, smtp_server, tmp_path):
    with Worker(database_url, jobs_url, mail_env(smtp_server),
                log_path=tmp_path / "worker.log") as running:
        yield running


@pytest.fixture
def summit(make_user, make_event, make_ticket, connect):
    ada = make_user("ada@example.com")
    event_id = make_event("Growth Summit", organiser=ada)
    make_ticket(event_id, "All-Access Pass", "product-12", [("49.97", "USD")])
    make_ticket(event_id, "Workbook", "bump-3", [("19.00", "USD")])
    connect(event_id)
    return event_id


def order(order_id, email="grace@example.com", keys=("product-12",)):
    charges = []
    for key in keys:
        item_type, reference = key.split("-")
        charges.append({"name": key, "reference": reference, "item_type": item_type,
                        "item_identifier": f"{item_type}_{reference}", "amount": "4997",
                        "type": "single", "quantity": "1"})
    return success(order_id=order_id, email=email, charges=charges)


def link_of(message):
    text = message.get_body(("plain",)).get_content()
    url = re.search(rf"{re.escape(BASE)}(/access/\S+)", text).group(1)
    return url


def outbox(session):
    session.expire_all()
    return session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()


def test_a_buyer_gets_one_access_email_however_often_the_order_arrives(
    mailing, worker, smtp_server, summit, session
):
    client = mailing.test_client()
    assert post_webhook(client, order("A-1", keys=("product-12", "bump-3"))).status_code == 200
    [message] = wait_for(lambda: smtp_server.messages)
    assert message["To"] == "grace@example.com"
    assert message["From"] == "events@heysummit.test"
    # A test-mode order, of two tickets: the subject says so.
    assert message["Subject"] == "[TEST] Your tickets for Growth Summit"
    text = message.get_body(("plain",)).get_content()
    # What ThriveCart charged for each, in its currency.
    assert "You now hold: All-Access Pass (49.97\u00a0USD), Workbook (49.97\u00a0USD)." in text
    markup = message.get_body(("html",)).get_content()
    assert f'<a href="{BASE}{link_of(message)}">Open your tickets</a>' in html.unescape(markup)

    # ThriveCart repeats itself; the organiser replays; a second buyer then proves the worker
    # has drained the queue: still one email for the first grant.
    for _ in range(3):
        post_webhook(client, order("A-1", keys=("product-12", "bump-3")))
    post_webhook(client, order("B-1", email="bob@example.com"))
    wait_for(lambda: len(smtp_server.messages) >= 2)
    wait_for(lambda: all(row.status == EmailStatus.SENT for row in outbox(session)))
    assert [m["To"] for m in smtp_server.messages] == ["grace@example.com", "bob@example.com"]
    assert len(outbox(session)) == 3  # one row per ticket granted, sent as one email each
    # The dashboard counts emails, not the tickets they are about.
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    dashboard = client.get(f"/events/{summit}/").get_data(as_text=True)
    assert "Access emails</a>: 0 queued · 2 sent · 0 failed." in dashboard


def test_the_link_works_once_then_offers_a_fresh_one_to_the_address_it_was_sent_to(
    mailing, worker, smtp_server, summit, session
):
    event = session.get(Event, summit)
    update_event(session, event, event.name, event.currency, details=EventDetails(
        "Europe/London", "2027-03-01T09:00", "Join at https://live.example/room\nDoors 08:45"))
    session.commit()
    client = mailing.test_client()
    post_webhook(client, order("A-1"))
    post_webhook(client, order("B-1", email="bob@example.com"))
    wait_for(lambda: len(smtp_server.messages) == 2)
    [message] = [m for m in smtp_server.messages if m["To"] == "grace@example.com"]
    path = link_of(message)
    # A mail scanner's GET uses nothing: the page asks for a click.
    scanned = mailing.test_client().get(path)
    assert scanned.status_code == 200
    assert "Open my tickets" in scanned.get_data(as_text=True)
    assert "All-Access Pass" not in scanned.get_data(as_text=True)
    page = client.post(path, follow_redirects=True)
    assert page.status_code == 200 and page.request.method == "GET"  # a reload is harmless
    text = html.unescape(page.get_data(as_text=True))
    assert "Your tickets for Growth Summit" in text and "All-Access Pass" in text
    assert "access now" in text
    # When it starts, in the event's timezone, and how to get in.
    assert "Starts <strong>" in text
    assert "><span>2027-03-01</span> <span>09:00 GMT</span></time></strong>" in text
    assert "(Europe/London)" in text
    assert ('How to join</h2>\n    <p class="instructions">Join at https://live.example/room\n'
            'Doors 08:45</p>') in text
    assert "ada@example.com" not in text and "Workbook" not in text  # nothing of anyone else
    assert page.headers["Cache-Control"] == "no-store"

    # This browser opens it again (its cookie, HttpOnly, for the link's paths only)...
    cookie = page.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/access/" in cookie and "SameSite=Lax" in cookie
    assert "All-Access Pass" in client.get(path).get_data(as_text=True)
    # ...and no other: it is offered a fresh link.
    again = mailing.test_client().get(path)
    assert again.status_code == 410
    again_text = again.get_data(as_text=True)
    assert "This link was used already." in again_text
    assert "goes to the email address this one was sent to" in again_text
    assert 'name="email"' not in again_text  # nothing to type another address into
    # An address typed into the request anyway changes nothing: the link's own buyer gets it.
    sent = client.post(path + "/fresh", data={"email": "bob@example.com"})
    assert "A fresh link is on its way" in sent.get_data(as_text=True)
    wait_for(lambda: len(smtp_server.messages) == 3)
    fresh = smtp_server.messages[2]
    assert fresh["To"] == "grace@example.com"
    # Words for a link asked for, and only the tickets that give access now.
    assert fresh["Subject"] == "Your link to Growth Summit"
    body = fresh.get_body(("plain",)).get_content()
    assert "here is a new link to your ticket for Growth Summit: All-Access Pass." in body
    assert "thank you" not in body.lower()
    assert client.post(link_of(fresh), follow_redirects=True).status_code == 200
    assert client.get("/access/not-a-signed-token").status_code == 404


def test_fresh_links_are_limited_per_recipient_whoever_asks(
    make_app, mailing, jobs_url, smtp_server, summit, session
):
    limited = make_app(**mail_config(smtp_server), JOBS_URL=jobs_url,
                       FRESH_LINK_RATE_LIMIT="100 per hour",
                       FRESH_LINK_RECIPIENT_RATE_LIMIT="3 per hour")
    post_webhook(limited.test_client(), order("A-1"))
    with limited.app_context():
        from heysummit_tc.emails import access_url
        from heysummit_tc.models import AccessLink, Attendee

        grace = db.session.scalar(select(Attendee).where(Attendee.email == "grace@example.com"))
        link = AccessLink(attendee_id=grace.id, expires_at=utcnow() - timedelta(minutes=1))
        db.session.add(link)
        db.session.commit()
        path = access_url(link.id).removeprefix(BASE)
    statuses = []
    for number in range(30):  # thirty clients, one victim
        stranger = limited.test_client()
        stranger.environ_base["REMOTE_ADDR"] = f"198.51.100.{number}"
        statuses.append(stranger.post(path + "/fresh").status_code)
    assert statuses == [200] * 3 + [429] * 27
    assert len([row for row in outbox(session) if row.kind == "fresh_link"]) == 3


def test_fresh_links_are_limited_per_client(make_app, jobs_url, smtp_server, summit):
    limited = make_app(**mail_config(smtp_server), JOBS_URL=jobs_url,
                       FRESH_LINK_RATE_LIMIT="2 per hour",
                       FRESH_LINK_RECIPIENT_RATE_LIMIT="100 per hour")
    client = limited.test_client()
    post_webhook(client, order("A-1"))
    post_webhook(client, order("B-1", email="bob@example.com"))
    with limited.app_context():
        from heysummit_tc.emails import access_url
        from heysummit_tc.models import AccessLink, Attendee

        paths = []
        for attendee in db.session.scalars(select(Attendee).order_by(Attendee.id)):
            link = AccessLink(attendee_id=attendee.id, expires_at=utcnow())
            db.session.add(link)
            db.session.flush()
            paths.append(access_url(link.id).removeprefix(BASE))
        db.session.commit()
    # One client asking for two buyers' links, then a third time: the client's limit holds.
    statuses = [client.post(path + "/fresh").status_code for path in (*paths, paths[0])]
    assert statuses == [200, 200, 429]


def test_an_expired_link_offers_a_fresh_one(mailing, worker, smtp_server, summit):
    client = mailing.test_client()
    post_webhook(client, order("A-1"))
    [message] = wait_for(lambda: smtp_server.messages)
    with time_machine.travel(utcnow() + timedelta(days=7, minutes=1)):
        expired = client.get(link_of(message))
        assert expired.status_code == 410
        assert "This link has expired." in expired.get_data(as_text=True)
    assert client.get(link_of(message)).status_code == 200  # within 7 days it still opens


def test_a_rolled_back_delivery_sends_nothing(mailing, worker, smtp_server, summit, session):
    failed_once = []

    def fail_outcomes(_connection, _cursor, statement, *_args):
        # The statement that writes the outcomes (on PostgreSQL, inside the one that closes
        # the attempt).
        if "INSERT INTO delivery_outcomes" in statement and not failed_once:
            failed_once.append(statement)
            raise OperationalError(statement, {}, Exception("disk I/O error"))

    with mailing.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", fail_outcomes)
    try:
        client = mailing.test_client()
        assert post_webhook(client, order("A-1")).status_code == 503
    finally:
        sa_event.remove(engine, "before_cursor_execute", fail_outcomes)
    assert outbox(session) == []  # the grant and its email went together
    post_webhook(client, order("B-1", email="bob@example.com"))
    wait_for(lambda: smtp_server.messages)
    wait_for(lambda: all(row.status == EmailStatus.SENT for row in outbox(session)))
    assert [m["To"] for m in smtp_server.messages] == ["bob@example.com"]


def test_an_smtp_refusal_is_retried_with_backoff(mailing, worker, smtp_server, summit,
                                                  session):
    smtp_server.refuse = 1
    post_webhook(mailing.test_client(), order("A-1"))
    [message] = wait_for(lambda: smtp_server.messages, timeout=30)
    assert message["To"] == "grace@example.com"
    # The server has the message a moment before the worker records it as sent.
    [row] = wait_for(lambda: [row for row in outbox(session) if row.status != EmailStatus.SENDING])
    assert row.status == EmailStatus.SENT and row.tries == 2


def test_switched_off_sends_nothing_and_the_organiser_can_resend(
    mailing, worker, smtp_server, summit, session
):
    client = mailing.test_client()
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    settings = f"/events/{summit}/setup/access-email"
    page = client.get(settings).get_data(as_text=True)
    # On by default once mail is configured.
    assert 'checked id="enabled" name="enabled" type="checkbox" value="y"' in page
    saved = client.post(settings, data={"subject": "Welcome to {event}",
                                        "body": "Hi {first_name}: {access_link}"},
                        follow_redirects=True)
    assert "buyers get it no more (switched off)" in saved.get_data(as_text=True)
    post_webhook(client, order("A-1"))
    wait_for(lambda: [row for row in outbox(session) if row.status == EmailStatus.SKIPPED])
    assert smtp_server.messages == []
    [row] = outbox(session)
    assert row.last_error == "the access email is switched off"

    attendee_id = row.attendee_id
    attendee_page = f"/events/{summit}/attendees/{attendee_id}/"
    done = client.post(attendee_page + "resend", follow_redirects=True)
    assert "Access email queued for grace@example.com" in done.get_data(as_text=True)
    [message] = wait_for(lambda: smtp_server.messages)
    # A resend is a link asked for: its own words, not the purchase email's.
    assert message["Subject"] == "Your link to Growth Summit"
    [entry] = session.scalars(select(ActivityEntry).where(
        ActivityEntry.kind == "access_email_resent")).all()
    assert entry.user.email == "ada@example.com" and entry.detail == "grace@example.com"
    wait_for(lambda: "Your link to Growth Summit" in client.get(attendee_page).get_data(
        as_text=True))
    listed = client.get(attendee_page).get_data(as_text=True)
    assert "badge-email-sent" in listed and "badge-email-skipped" in listed


def test_the_settings_preview_fills_and_escapes_and_refuses_unknown_placeholders(
    mailing, summit, session
):
    client = mailing.test_client()
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    settings = f"/events/{summit}/setup/access-email"
    preview = client.post(settings, data={
        "enabled": "y", "subject": "<b>{event}</b>", "body": "Hi {first_name}, {access_link}",
        "preview": "1"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "&lt;b&gt;Growth Summit&lt;/b&gt;" in text and "Hi Ada," in text
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
    unknown = client.post(settings, data={"enabled": "y", "subject": "{event.__class__}",
                                          "body": "{access_link}"})
    assert unknown.status_code == 400
    assert "Unknown placeholder {event.__class__}" in html.unescape(unknown.get_data(
        as_text=True))
    no_link = client.post(settings, data={"enabled": "y", "subject": "Hi",
                                          "body": "No link here"})
    assert "Keep {access_link} in the body" in html.unescape(no_link.get_data(as_text=True))


@pytest.mark.postgresql_only
def test_32_concurrent_duplicate_deliveries_send_one_email(
    make_app, mailing, worker, smtp_server, summit, session, jobs_url
):
    threaded = make_app(**mail_config(smtp_server), JOBS_URL=jobs_url,
                        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 32, "max_overflow": 0})
    start = threading.Barrier(32)

    def deliver(_):
        client = threaded.test_client()
        body = order("RACE-1")
        start.wait()
        return post_webhook(client, body).status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(deliver, range(32)))
    assert set(statuses) == {200}
    post_webhook(mailing.test_client(), order("B-1", email="bob@example.com"))
    wait_for(lambda: len(smtp_server.messages) >= 2)
    wait_for(lambda: all(row.status == EmailStatus.SENT for row in outbox(session)))
    assert sorted(m["To"] for m in smtp_server.messages) == ["bob@example.com",
                                                             "grace@example.com"]
    assert len(outbox(session)) == 2


def test_a_new_member_gets_their_set_password_link_by_email(
    mailing, worker, smtp_server, summit, session
):
    smtp_server.refuse = 1  # the outbox's retry, as for any email
    client = mailing.test_client()
    client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    added = client.post(f"/events/{summit}/team/", data={"email": "grace@example.com",
                                                         "role": "ticket_editor"})
    assert "It is also on its way to them by email." in added.get_data(as_text=True)
    [message] = wait_for(lambda: smtp_server.messages, timeout=30)
    [row] = wait_for(lambda: [row for row in outbox(session) if row.status != EmailStatus.SENDING])
    assert (row.kind, row.status, row.tries, row.attendee_id) == (
        EmailKind.INVITE, EmailStatus.SENT, 2, None)
    assert row.subject == "You have been added to Growth Summit"
    # The dashboard's access emails are the buyers' alone.
    dashboard = html.unescape(client.get(f"/events/{summit}/").get_data(as_text=True))
    assert "Access emails</a>: 0 queued · 0 sent · 0 failed." in dashboard
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == "You have been added to Growth Summit"
    text = message.get_body(("plain",)).get_content()
    assert "ada@example.com added you to the team of Growth Summit" in text
    path = re.search(rf"{re.escape(BASE)}(/set-password/\S+)", text).group(1)
    grace = mailing.test_client()
    assert grace.post(path, data={"password": "a much longer passphrase"}).status_code == 302
    assert grace.post("/login", data={"email": "grace@example.com",
                                      "password": "a much longer passphrase"}).status_code == 302


def test_each_order_is_one_email_however_its_grants_fall_into_batches(
    mailing, smtp_server, summit, session
):
    # Nobody sends while the orders arrive: 61 grants wait, and the 25th two-item order's
    # two grants straddle the worker's batches of 50.
    client = mailing.test_client()
    post_webhook(client, order("A-0", email="first@example.com"))
    for number in range(1, 31):
        post_webhook(client, order(f"A-{number}", email=f"buyer{number}@example.com",
                                   keys=("product-12", "bump-3")))
    with mailing.app_context():
        send_emails()
    recipients = [message["To"] for message in smtp_server.messages]
    assert sorted(recipients) == sorted(["first@example.com"] + [
        f"buyer{number}@example.com" for number in range(1, 31)])
    for message in smtp_server.messages[1:]:
        assert "You now hold: All-Access Pass (49.97\u00a0USD), Workbook (49.97\u00a0USD)." in \
            message.get_body(("plain",)).get_content()


def test_a_worker_killed_after_the_smtp_server_accepted_sends_it_again_recognisably(
    mailing, smtp_server, summit, session
):
    from heysummit_tc.emails import access_url, deliver_access_email
    from heysummit_tc.services.access_emails import Sender, send_due

    post_webhook(mailing.test_client(), order("A-1"))

    def accepted_then_killed(email):
        deliver_access_email(email)
        raise KeyboardInterrupt  # the process dies before it records the send

    start = utcnow()
    with mailing.app_context(), pytest.raises(KeyboardInterrupt):
        send_due(db.session, Sender(accepted_then_killed, access_url, True), now=start)
    assert [row.status for row in outbox(session)] == [EmailStatus.SENDING]
    with mailing.app_context():
        db.session.rollback()
        # Within what one send takes (four SMTP timeouts of 30 s), it is another worker's.
        with time_machine.travel(start + timedelta(seconds=119), tick=False):
            assert send_emails() == {}
        with time_machine.travel(start + timedelta(seconds=121), tick=False):
            assert send_emails() == {EmailStatus.SENT: 1}
    first, second = smtp_server.messages
    [row] = outbox(session)
    assert first["Message-ID"] == second["Message-ID"] == f"<outbox-{row.id}@events.example.com>"
    assert [row.status for row in outbox(session)] == [EmailStatus.SENT]
