"""``flask`` commands: each calls services and commits once."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .config import mail_problem
from .extensions import db
from .jobs import send_alerts
from .models import DeliveryStatus, Event, Role
from .services import ServiceError
from .services.accounts import create_user, generate_password, has_users, user_by_email
from .services.deliveries import failed_delivery_ids
from .services.erasure import erasable, erase_buyer
from .services.events import add_member, create_event
from .services.held import HELD_DAYS, prune_held
from .services.lifecycle import expire_cancelled
from .services.releases import replay
from .services.retention import prune_payloads
from .services.tickets import TicketFields, create_ticket
from .words import plural

users = AppGroup("users", help="Manage user accounts.")
events = AppGroup("events", help="Manage events and their members.")
tickets = AppGroup("tickets", help="Manage tickets.")
thrivecart = AppGroup("thrivecart", help="Work with ThriveCart deliveries.")
deliveries = AppGroup("deliveries", help="Retention of recorded deliveries.")
alerts = AppGroup("alerts", help="Email alerts to organisers.")
buyers = AppGroup("buyers", help="Buyers' personal data.")


def _fail(error):
    db.session.rollback()
    raise click.ClickException(error.message)


@users.command("create")
@click.argument("email")
@click.option("--password", is_flag=True, help="Prompt for the password instead of generating one.")
def create_user_command(email, password):
    """Create a user; prompts for a password, or generates and prints one."""
    secret = (click.prompt("Password", hide_input=True, confirmation_prompt=True)
              if password else generate_password())
    try:
        user = create_user(db.session, email, secret)
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Created user {user.email} (id {user.id}).")
    if not password:
        click.echo(f"Password: {secret}")


@events.command("create")
@click.argument("name")
@click.option("--organiser", "organiser_email", required=True, help="Email of an existing user.")
@click.option("--currency", default="USD", show_default=True)
def create_event_command(name, organiser_email, currency):
    """Create an event with an organiser."""
    organiser = user_by_email(db.session, organiser_email)
    if organiser is None:
        raise click.ClickException(f"No user has the email {organiser_email}.")
    try:
        event = create_event(db.session, name, currency, organiser)
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Created event {event.id}: {event.name} ({event.currency}).")


@events.command("add-member")
@click.argument("event_id", type=int)
@click.argument("email")
@click.option("--role", type=click.Choice(["organiser", "ticket-editor"]), required=True)
def add_member_command(event_id, email, role):
    """Give a user a role on an event."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise click.ClickException(f"No event has the id {event_id}.")
    try:
        membership = add_member(db.session, event, email, role.replace("-", "_"))
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{membership.user.email} is now {Role(membership.role).label.lower()} "
               f"of event {event.id}.")


@tickets.command("create")
@click.argument("event_id", type=int)
@click.argument("name")
@click.option("--external-id", help="ThriveCart item id, e.g. product-2.")
@click.option("--price", "prices", multiple=True, help="Amount such as 97.00; repeatable.")
@click.option("--currency", help="Currency of the prices (default: the event's).")
@click.option("--inactive", is_flag=True, help="Create the ticket inactive.")
def create_ticket_command(event_id, name, external_id, prices, currency, inactive):
    """Create a ticket with optional External ID and prices."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise click.ClickException(f"No event has the id {event_id}.")
    try:
        ticket = create_ticket(db.session, event, TicketFields(name, external_id, not inactive),
                               [(price, currency or event.currency) for price in prices])
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Created ticket {ticket.id}: {ticket.name}"
               + (f" [{ticket.external_ids_text}]" if ticket.links else ""))


@thrivecart.command("expire")
def expire_command():
    """Record `ended` for cancelled purchases past their access end (idempotent; for cron)."""
    count = expire_cancelled(db.session)
    db.session.commit()
    click.echo(f"{plural(count, 'purchase')} ended.")


@thrivecart.command("replay")
@click.argument("delivery_id", type=int, required=False)
@click.option("--failed", is_flag=True, help="Replay every delivery whose last attempt failed.")
def replay_command(delivery_id, failed):
    """Process a recorded delivery again (idempotent), or all failed ones."""
    if (delivery_id is None) == (not failed):
        raise click.UsageError("Give a DELIVERY_ID or --failed (not both).")
    if failed:
        ids = failed_delivery_ids(db.session)
    else:
        ids = [delivery_id]
    if not ids:
        click.echo("No failed deliveries to replay.")
    problems = 0
    for current in ids:
        try:
            result = replay(db.session, current)
        except ServiceError as error:
            raise click.ClickException(str(error)) from None
        problems += result.status == DeliveryStatus.FAILED
        summary = ", ".join(f"{o.item or '-'}: {o.outcome}" for o in result.outcomes)
        click.echo(f"Delivery {current}: {result.status} ({result.http_status})"
                   + (f" {summary}" if summary else "")
                   + (f" {result.error}" if result.error else ""))
    if problems:
        raise click.ClickException(f"{problems} of {len(ids)} replays failed.")


@deliveries.command("prune")
@click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
              help="Redact the payloads of deliveries older than this many days "
                   "(default: PAYLOAD_RETENTION_DAYS).")
def prune_command(days):
    """Remove the buyer from old delivery payloads (summaries, outcomes and money stay) and
    drop held deliveries past 14 days."""
    if days is None:
        days = current_app.config["PAYLOAD_RETENTION_DAYS"]
    pruned = prune_payloads(db.session, days)
    dropped = prune_held(db.session)
    db.session.commit()
    click.echo(f"Removed the buyer from the payloads of {pruned} deliveries older than {days} "
               f"days; dropped {dropped} held deliveries older than {HELD_DAYS} days.")


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Seed only when the database has no user yet.")
def demo_command(if_empty):
    """Seed a demo organiser and event with tickets, and print the login."""
    from .demo import demo_login, seed_demo

    if if_empty and has_users(db.session):
        if (Path(current_app.instance_path) / "demo-login.txt").exists():
            click.echo(demo_login(current_app.instance_path))
        return
    login = seed_demo(db.session, current_app.instance_path)
    db.session.commit()
    click.echo(login)


@alerts.command("send")
def send_alerts_command():
    """Email each opted-in organiser what needs attention (at most hourly; for cron)."""
    problem = mail_problem(current_app.config)
    if problem:
        raise click.ClickException(problem)
    sent, failed = send_alerts()
    click.echo(f"{plural(sent, 'alert email')} sent"
               + (f"; {failed} failed and will be retried next run." if failed else "."))
    if failed:
        raise SystemExit(1)


@buyers.command("erase")
@click.argument("email")
@click.option("--event", "event_id", type=int, default=None,
              help="Erase from this event only (default: from every event the buyer is in).")
def erase_buyer_command(email, event_id):
    """Erase a buyer's personal data: the attendee becomes a tombstone and every stored copy
    of them is redacted; money, counts and statuses stay."""
    try:
        found = erasable(db.session, email, event_id)
    except ServiceError as error:
        _fail(error)
    for attendee in found:
        erasure = erase_buyer(db.session, attendee, current_app.config["SECRET_WORD_KEY"])
        click.echo(f"Event {attendee.event_id}: erased {erasure.describe()}.")
    db.session.commit()


commands = [users, events, tickets, thrivecart, deliveries, alerts, buyers, demo_command]
