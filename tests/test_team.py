"""Running an event as a team: members and roles, set-password links, one's own account."""

import html
import re

import pytest
from sqlalchemy import func, select

from heysummit_tc.extensions import db
from heysummit_tc.models import EventMember, Role, User

from helpers import PASSWORD

NEW_PASSWORD = "a much longer passphrase"


def page_text(response):
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def summit(signed_in):
    return signed_in()


def set_password_link(page):
    return re.search(r'id="invite-link" class="mono" type="text" readonly value="([^"]+)"',
                     page).group(1)


def user_id(app, email):
    # Its own app context: a test-long one would share flask.g (and so the signed-in user)
    # between the two clients' requests.
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_an_editor_added_by_email_sets_a_password_once_and_sees_only_tickets(app, client, summit):
    team = f"/events/{summit}/team/"
    added = client.post(team, data={"email": " Grace@Example.com ", "role": "ticket_editor"})
    assert added.status_code == 200
    page = page_text(added)
    assert "grace@example.com has an account now" in page
    link = set_password_link(page)
    assert link.startswith("http://localhost/set-password/")
    assert "It is also on its way to them by email" not in page  # mail is not configured
    assert "grace@example.com" in page_text(client.get(team))

    grace = app.test_client()
    path = link.removeprefix("http://localhost")
    assert grace.get(path).status_code == 200
    short = grace.post(path, data={"password": "short"})
    assert short.status_code == 400 and "at least 10 characters" in page_text(short)
    done = grace.post(path, data={"password": NEW_PASSWORD}, follow_redirects=True)
    assert "Password set. Sign in with it now." in page_text(done)
    assert grace.get(path).status_code == 410  # once
    assert grace.post("/login", data={"email": "grace@example.com",
                                      "password": NEW_PASSWORD}).status_code == 302
    assert grace.get(f"/events/{summit}/revenue/tickets/").status_code == 200
    assert grace.get(f"/events/{summit}/attendees/").status_code == 403
    assert grace.get(team).status_code == 403

    # Removed from their only event: their session ends at once.
    grace_id = user_id(app, "grace@example.com")
    removed = client.post(f"{team}{grace_id}/remove", follow_redirects=True)
    assert "grace@example.com removed from the team." in page_text(removed)
    assert grace.get("/events/").status_code == 302


def test_an_existing_account_is_added_without_a_link_and_roles_change(
    client, summit, make_user, session
):
    bob = make_user("bob@example.com")
    team = f"/events/{summit}/team/"
    added = client.post(team, data={"email": "bob@example.com", "role": "organiser"},
                        follow_redirects=True)
    assert "bob@example.com added as organiser." in page_text(added)
    again = client.post(team, data={"email": "bob@example.com", "role": "organiser"})
    assert again.status_code == 400
    assert "bob@example.com is already on this event's team" in page_text(again)
    changed = client.post(f"{team}{bob}/role", data={"role": "ticket_editor"},
                          follow_redirects=True)
    assert "bob@example.com is now ticket editor." in page_text(changed)
    assert session.get(EventMember, (summit, bob)).role == Role.TICKET_EDITOR
    bad = client.post(team, data={"email": "carol@example.com", "role": "owner"})
    assert bad.status_code == 400 and "Not a valid choice" in page_text(bad)


def test_the_last_organiser_can_be_neither_demoted_nor_removed(client, summit, session):
    ada = session.scalar(select(User.id).where(User.email == "ada@example.com"))
    team = f"/events/{summit}/team/"
    demoted = client.post(f"{team}{ada}/role", data={"role": "ticket_editor"},
                          follow_redirects=True)
    assert "The event needs an organiser" in page_text(demoted)
    removed = client.post(f"{team}{ada}/remove", follow_redirects=True)
    assert "The event needs an organiser" in page_text(removed)
    assert session.scalar(select(func.count()).select_from(EventMember).where(
        EventMember.event_id == summit, EventMember.role == Role.ORGANISER)) == 1


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    app, client, summit
):
    other = app.test_client()
    assert other.post("/login", data={"email": "ada@example.com",
                                      "password": PASSWORD}).status_code == 302
    wrong = client.post("/account/password", data={"current_password": "not it",
                                                   "password": NEW_PASSWORD})
    assert wrong.status_code == 400 and "The current password is wrong." in page_text(wrong)
    assert other.get("/events/").status_code == 200
    changed = client.post("/account/password", data={"current_password": PASSWORD,
                                                     "password": NEW_PASSWORD},
                          follow_redirects=True)
    assert "Password changed. Your other sessions have ended." in page_text(changed)
    assert client.get("/events/").status_code == 200  # this one stays
    assert other.get("/events/").status_code == 302  # the other one ended
    assert app.test_client().post("/login", data={
        "email": "ada@example.com", "password": NEW_PASSWORD}).status_code == 302


def test_sign_out_everywhere_ends_this_session_too(app, client, summit):
    other = app.test_client()
    other.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    done = client.post("/account/sign-out-everywhere", follow_redirects=True)
    assert "Signed out everywhere." in page_text(done)
    assert client.get("/events/").status_code == 302
    assert other.get("/events/").status_code == 302


def test_a_set_password_link_is_refused_when_forged_or_expired(app, client, summit):
    from datetime import timedelta

    import time_machine

    from heysummit_tc.models import utcnow

    added = client.post(f"/events/{summit}/team/", data={"email": "dan@example.com",
                                                         "role": "ticket_editor"})
    path = set_password_link(page_text(added)).removeprefix("http://localhost")
    assert app.test_client().get(path[:-3] + "abc").status_code == 410
    with time_machine.travel(utcnow() + timedelta(days=7, minutes=1)):
        assert app.test_client().get(path).status_code == 410
    assert app.test_client().get(path).status_code == 200
