"""Signing in and out."""


from heysummit_tc.models import (
    User,
)
from heysummit_tc.services import accounts
from heysummit_tc.services.accounts import password_hasher

from helpers import PASSWORD


def test_login_reaches_events_and_logout_ends_the_session(client, make_user, make_event):
    user = make_user("ada@example.com")
    make_event("Growth Summit", organiser=user)
    response = client.post("/login", data={"email": " ADA@example.com ",
                                           "password": "correct horse battery"})
    assert response.status_code == 302 and response.location.endswith("/events/")
    assert "Growth Summit" in client.get("/events/").get_data(as_text=True)

    assert client.post("/logout").status_code == 302
    response = client.get("/events/")
    assert response.status_code == 302 and "/login" in response.location


def test_wrong_password_and_unknown_email_say_the_same(client, make_user):
    make_user("ada@example.com")
    wrong = client.post("/login", data={"email": "ada@example.com", "password": "nope nope"})
    unknown = client.post("/login", data={"email": "who@example.com", "password": "nope nope"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Email or password is wrong." in response.get_data(as_text=True)
    assert client.get("/events/").status_code == 302


def test_login_only_follows_local_next_urls(client, make_user):
    make_user("ada@example.com")
    response = client.post("/login?next=https://evil.example/", data={
        "email": "ada@example.com", "password": "correct horse battery"})
    assert response.location.endswith("/events/")


def test_anonymous_users_are_sent_to_login(client, make_event):
    event_id = make_event()
    response = client.get(f"/events/{event_id}/")
    assert response.status_code == 302 and "/login" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert '<p class="flash flash-info" role="status">Sign in to continue.</p>' in page


def test_passwords_are_hashed_with_argon2id_at_owasp_cost(app, make_user, session,
                                                          monkeypatch):
    """The suite hashes at the lowest cost (conftest); the app's own hasher is OWASP's, and a
    sign-in raises a hash made at a lower cost to it."""
    quick = session.get(User, make_user("ada@example.com"))
    assert quick.password_hash.startswith("$argon2id$")
    assert password_hasher.check_needs_rehash(quick.password_hash)
    monkeypatch.setattr(accounts, "password_hasher", password_hasher)
    user = session.get(User, make_user("bob@example.com"))
    assert "m=19456,t=2,p=1" in user.password_hash
    assert not password_hasher.check_needs_rehash(user.password_hash)
    assert "correct horse battery" not in user.password_hash
    assert accounts.authenticate(session, "ada@example.com", PASSWORD) is not None
    session.commit()
    session.refresh(quick)
    assert "m=19456,t=2,p=1" in quick.password_hash


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
