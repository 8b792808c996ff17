"""The flask CLI: users, events, members, tickets and the demo."""

from sqlalchemy import select

from heysummit_tc.models import Event, EventMember, Role, Ticket, User
from heysummit_tc.services.accounts import authenticate


def test_users_create_generates_and_prints_a_password(runner, session):
    result = runner.invoke(args=["users", "create", "Ada@Example.com"])
    assert result.exit_code == 0, result.output
    password = result.output.split("Password: ")[1].strip()
    assert authenticate(session, "ada@example.com", password) is not None


def test_users_create_prompts_for_a_password(runner, session):
    result = runner.invoke(args=["users", "create", "grace@example.com", "--password"],
                           input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "a long passphrase" not in result.output
    assert authenticate(session, "grace@example.com", "a long passphrase") is not None


def test_users_create_refuses_a_duplicate(runner):
    runner.invoke(args=["users", "create", "ada@example.com"])
    result = runner.invoke(args=["users", "create", "ADA@example.com"])
    assert result.exit_code != 0 and "already exists" in result.output


def test_events_tickets_and_members(runner, session):
    runner.invoke(args=["users", "create", "ada@example.com"])
    runner.invoke(args=["users", "create", "ed@example.com"])
    result = runner.invoke(args=["events", "create", "Growth Summit", "--organiser",
                                 "ada@example.com", "--currency", "gbp"])
    assert result.exit_code == 0, result.output
    event = session.scalar(select(Event))
    assert (event.name, event.currency) == ("Growth Summit", "GBP")

    result = runner.invoke(args=["events", "add-member", str(event.id), "ed@example.com",
                                 "--role", "ticket-editor"])
    assert result.exit_code == 0, result.output
    editor = session.scalar(select(User).where(User.email == "ed@example.com"))
    assert session.get(EventMember, (event.id, editor.id)).role == Role.TICKET_EDITOR

    result = runner.invoke(args=["tickets", "create", str(event.id), "VIP", "--external-id",
                                 "UPSELL_3", "--price", "147.00", "--price", "97.00",
                                 "--inactive"])
    assert result.exit_code == 0, result.output
    ticket = session.scalar(select(Ticket))
    assert (ticket.external_ids, ticket.active) == (["upsell-3"], False)
    assert sorted((p.amount, p.currency) for p in ticket.prices) == [(9700, "GBP"),
                                                                      (14700, "GBP")]

    result = runner.invoke(args=["tickets", "create", str(event.id), "Bad", "--external-id",
                                 "upsell3"])
    assert result.exit_code != 0 and "not a ThriveCart item id" in result.output


def test_unknown_ids_are_clear_errors(runner):
    result = runner.invoke(args=["events", "create", "X", "--organiser", "nobody@example.com"])
    assert result.exit_code != 0 and "No user has the email" in result.output
    result = runner.invoke(args=["tickets", "create", "999", "X"])
    assert result.exit_code != 0 and "No event has the id 999" in result.output


def test_demo_seeds_an_event_with_linked_tickets_once(runner, session, app, tmp_path):
    app.instance_path = str(tmp_path)
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Demo login: organiser@example.com / password: " in result.output
    password = result.output.split("password: ")[1].split()[0]
    assert authenticate(session, "organiser@example.com", password) is not None
    tickets = session.scalars(select(Ticket)).all()
    assert {key for t in tickets for key in t.external_ids} >= {"product-2", "bump-2",
                                                                "upsell-3", "downsell-5"}
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0
    assert again.output.strip() == f"Demo login: organiser@example.com / password: {password}"
    assert len(session.scalars(select(Event)).all()) == 1
