"""The access email: what a buyer gets when a delivery first grants them a ticket.

The words are :mod:`.access_settings`'s and the link :mod:`.access_links`'s. The outbox entry
of a grant is the grant's own outcome row (``paid``, written by
:mod:`.provisioning` in the grant's transaction, ``email_queued_at`` still empty): a
rolled-back delivery leaves none, a crash after the commit loses none, and the webhook pays
no extra statement for it. The worker turns those entries into emails to send (one per
attendee, ticket and order, whatever repeats), claims them, sends them through a ``deliver``
callable (the Flask side renders and speaks SMTP), and marks each sent, retried with
backoff, failed or skipped.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, func, or_, select, tuple_, update

from ..models import (
    AccessLink,
    ActivityKind,
    Attendee,
    DeliveryOutcome,
    EmailKind,
    EmailStatus,
    Event,
    OutboxEmail,
    OutcomeKind,
    TicketPurchase,
    User,
    utcnow,
)
from ..sql import insert_once
from .access_links import LINK_DAYS, giving_access
from .access_settings import LINK_BODY, LINK_SUBJECT, NO_ACCESS_BODY, render, settings_of
from .activity import record
from .money import money_text

MAX_TRIES = 5


# A row claimed longer ago than this was left by a worker that died: it may be taken again.
# The worker passes what one send can take (a few SMTP timeouts); this is the fallback.
STALE_CLAIM = timedelta(minutes=2)


BATCH = 50
# An access email is unique per grant (the outbox's unique constraint): a grant seen twice
# (two workers, a retry) queues one.
_ONE_EMAIL_PER_GRANT = ("attendee_id", "ticket_id", "order_id", "kind")


def queue_grants(session, now=None, limit=BATCH):
    """Queue the access email of every grant not queued yet; return how many grants.

    A grant's email is unique per attendee, ticket and order: a grant seen twice (two
    workers, a retry) queues one. Commits per batch.
    """
    now = now or utcnow()
    total = 0
    while True:
        grants = session.execute(_grants_of_deliveries(limit)).all()
        if not grants:
            session.commit()
            return total
        emails = [
            {"event_id": grant.event_id, "attendee_id": grant.attendee_id,
             "ticket_id": grant.ticket_id,
             "order_id": (grant.thrivecart_order_id or f"delivery-{grant.delivery_id}")[:40],
             "kind": EmailKind.ACCESS.value, "status": EmailStatus.PENDING.value,
             "test": bool(grant.test), "created_at": now, "next_attempt_at": now, "tries": 0}
            # A purchase or attendee deleted since leaves nobody to write to.
            for grant in grants if grant.attendee_id and grant.ticket_id
            and grant.test is not None]
        if emails:
            # A grant queued before inserts nothing.
            insert_once(session, OutboxEmail.__table__, emails, _ONE_EMAIL_PER_GRANT)
        session.execute(update(DeliveryOutcome)
                        .where(DeliveryOutcome.id.in_([grant.id for grant in grants]))
                        .values(email_queued_at=now)
                        .execution_options(synchronize_session=False))
        session.commit()
        total += len(grants)


_UNQUEUED_GRANT = and_(DeliveryOutcome.outcome == OutcomeKind.PAID,
                       DeliveryOutcome.email_queued_at.is_(None))


def _grants_of_deliveries(limit):
    """Every unqueued grant of the deliveries of the first ``limit`` unqueued grants.

    Whole deliveries, so that one delivery's grants to a buyer reach the outbox in one
    transaction and are claimed, and sent, as one email.
    """
    first = (select(DeliveryOutcome.delivery_id).where(_UNQUEUED_GRANT)
             .order_by(DeliveryOutcome.id).limit(limit))
    return (select(DeliveryOutcome.id, DeliveryOutcome.event_id, DeliveryOutcome.attendee_id,
                   DeliveryOutcome.ticket_id, DeliveryOutcome.delivery_id,
                   TicketPurchase.thrivecart_order_id, TicketPurchase.test)
            .outerjoin(TicketPurchase, TicketPurchase.id == DeliveryOutcome.purchase_id)
            .where(_UNQUEUED_GRANT, DeliveryOutcome.delivery_id.in_(first.scalar_subquery()))
            .order_by(DeliveryOutcome.id)
            .with_for_update(skip_locked=True, of=DeliveryOutcome))


def claim(session, now=None, limit=BATCH, stale_after=STALE_CLAIM):
    """Take a batch of due outbox rows for this worker; return their ids.

    The batch is made of whole emails: every due row of each attendee, order and kind among
    the first ``limit`` due rows, so that a buyer's tickets of one order go in one email
    however the rows fall into batches. On PostgreSQL the rows are read ``FOR UPDATE SKIP
    LOCKED``, so workers take different emails without waiting; on SQLite (one writer at a
    time) the claim itself is the guard. Either way a row is ours only if our claim token
    landed on it. A row claimed more than ``stale_after`` ago was left by a worker that
    died mid-send: it is due again.
    """
    now = now or utcnow()
    due = or_(
        and_(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.next_attempt_at <= now),
        and_(OutboxEmail.status == EmailStatus.SENDING,
             OutboxEmail.claimed_at < now - stale_after),
    )
    # An invite has no attendee (NULL would match nothing); its order_id is its own.
    recipient = func.coalesce(OutboxEmail.attendee_id, 0)
    email = tuple_(recipient, OutboxEmail.order_id, OutboxEmail.kind)
    first = select(OutboxEmail.id).where(due).order_by(OutboxEmail.id).limit(limit)
    candidates = list(session.scalars(
        select(OutboxEmail.id)
        .where(due, email.in_(select(recipient, OutboxEmail.order_id, OutboxEmail.kind)
                              .where(OutboxEmail.id.in_(first.scalar_subquery()))))
        .order_by(OutboxEmail.id)
        .with_for_update(skip_locked=True)
    ))
    if not candidates:
        session.commit()
        return []
    token = secrets.token_hex(8)
    session.execute(
        update(OutboxEmail).where(OutboxEmail.id.in_(candidates), due)
        .values(status=EmailStatus.SENDING, claimed_at=now, claim_token=token,
                tries=OutboxEmail.tries + 1)
        .execution_options(synchronize_session=False))
    session.commit()
    return list(session.scalars(select(OutboxEmail.id).where(
        OutboxEmail.claim_token == token, OutboxEmail.status == EmailStatus.SENDING)))


@dataclass(frozen=True)
class AccessEmail:
    """One email to send: rendered words and where it goes."""

    to: str
    subject: str
    text: str
    values: dict
    event_name: str
    # The same for every attempt at this email (its first outbox row): a copy sent again
    # after a worker died between the SMTP server's acceptance and the record of it is
    # recognisably the same message.
    key: str = ""


@dataclass(frozen=True)
class Sender:
    """How the outbox sends: ``deliver(email)`` hands an :class:`AccessEmail` to the mail
    server, ``sign(link_id)`` makes its access link, ``invite(user, event, inviter_email,
    subject)`` sends a new member's set-password email; a failed send is tried again after
    ``retry_seconds``, doubling each time."""

    deliver: Callable
    sign: Callable
    mail_configured: bool
    retry_seconds: int = 60
    invite: Callable | None = None


def send_due(session, sender, *, now=None, stale_after=STALE_CLAIM):
    """Send every due outbox email through ``sender`` (a :class:`Sender`); return a count per
    status.

    Rows of one attendee and order are sent as one email. A failed send is marked failed
    after MAX_TRIES (``pending`` in the counts: waiting for a retry). Commits as it goes.
    """
    now = now or utcnow()
    counts = {}
    queue_grants(session, now)
    while ids := claim(session, now, stale_after=stale_after):
        rows = list(session.scalars(select(OutboxEmail).where(OutboxEmail.id.in_(ids))
                                    .order_by(OutboxEmail.id)))
        groups = {}
        for row in rows:
            groups.setdefault((row.attendee_id, row.order_id, row.kind), []).append(row)
        for group in groups.values():
            status = _send_group(session, group, sender, now)
            counts[status] = counts.get(status, 0) + 1
            session.commit()
    return counts


def waiting_for_retry(session):
    """Return how many emails were refused and wait for their retry."""
    return session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.tries > 0))


def _send_group(session, rows, sender, now):
    first, mail_configured = rows[0], sender.mail_configured
    if first.kind == EmailKind.INVITE:
        return _send_invite(session, first, sender, now)
    attendee = session.get(Attendee, first.attendee_id)
    event = session.get(Event, first.event_id)
    settings = settings_of(session, event.id, mail_configured)
    if first.kind == EmailKind.ACCESS and not settings.enabled:
        return _mark(rows, EmailStatus.SKIPPED, error="the access email is switched off")
    if not mail_configured:
        return _mark(rows, EmailStatus.SKIPPED, error="mail is not configured")
    link = AccessLink(attendee_id=attendee.id, created_at=now,
                      expires_at=now + timedelta(days=LINK_DAYS))
    session.add(link)
    session.flush()
    asked = first.kind != EmailKind.ACCESS  # a resend or a fresh link
    names = (giving_access(session, attendee.id, now) if asked
             else [row.ticket.name for row in rows if row.ticket is not None])
    values = {"first_name": attendee.first_name or "there", "event": event.name,
              "tickets": ", ".join(names) or "your tickets",
              "ticket_word": "ticket" if len(names) == 1 else "tickets",
              "access_link": sender.sign(link.id)}
    subject_template, body = settings.subject, settings.body
    if asked:
        subject_template, body = LINK_SUBJECT, LINK_BODY if names else NO_ACCESS_BODY
    subject = render(subject_template, values)
    if any(row.test for row in rows):
        subject = "[TEST] " + subject
    if not asked and names:  # the body says what each cost (a subject stays short)
        values = {**values, "tickets": ", ".join(_granted(session, rows))}
    email = AccessEmail(attendee.email, subject[:300], render(body, values), values,
                        event.name, key=f"outbox-{first.id}")
    # The link must exist before the buyer can click it.
    session.commit()
    return _attempt(rows, lambda: sender.deliver(email), email.subject, sender, now)


def _granted(session, rows):
    """The tickets an access email is about, each with what ThriveCart charged for it:
    ``All-Access Pass (97.00 USD)``."""
    first = rows[0]
    charged = {ticket_id: money_text(amount, currency) for ticket_id, amount, currency in
               session.execute(select(TicketPurchase.ticket_id, TicketPurchase.charged_amount,
                                      TicketPurchase.charged_currency)
                               .where(TicketPurchase.attendee_id == first.attendee_id,
                                      TicketPurchase.thrivecart_order_id == first.order_id))}
    return [row.ticket.name + (f" ({charged[row.ticket_id]})" if charged.get(row.ticket_id)
                               else "") for row in rows if row.ticket is not None]


def _send_invite(session, row, sender, now):
    """A new member's set-password email (the link is made as it is sent)."""
    if not sender.mail_configured:
        return _mark([row], EmailStatus.SKIPPED, error="mail is not configured")
    user, event = session.get(User, row.user_id), session.get(Event, row.event_id)
    inviter = session.get(User, row.requested_by_id) if row.requested_by_id else None
    inviter_email = inviter.email if inviter is not None else "An organiser"
    subject = f"You have been added to {event.name}"
    return _attempt([row], lambda: sender.invite(user, event, inviter_email, subject),
                    subject, sender, now)


def _attempt(rows, send, subject, sender, now):
    """Send one email (``send()``) and mark its rows sent, or due again after a backoff,
    or failed after MAX_TRIES."""
    first = rows[0]
    try:
        send()
    except Exception as error:  # noqa: BLE001 - any failure is retried, then reported
        message = f"{type(error).__name__}: {error}"[:300]
        if first.tries >= MAX_TRIES:
            return _mark(rows, EmailStatus.FAILED, error=message, subject=subject)
        backoff = timedelta(seconds=sender.retry_seconds * 2 ** (first.tries - 1))
        return _mark(rows, EmailStatus.PENDING, error=message, next_attempt_at=now + backoff)
    return _mark(rows, EmailStatus.SENT, subject=subject, sent_at=now)


def _mark(rows, status, error=None, **values):
    for row in rows:
        row.status, row.last_error, row.claim_token = status, error, None
        for name, value in values.items():
            setattr(row, name, value)
    return status


def queue_email(session, attendee, kind, user=None, now=None):
    """Queue a resend (an organiser's) or a fresh link (the buyer's) to an attendee."""
    now = now or utcnow()
    row = _queue(session, attendee.event_id, kind, user, now, attendee_id=attendee.id)
    if kind == EmailKind.RESEND:
        record(session, attendee.event_id, user, ActivityKind.ACCESS_EMAIL_RESENT, attendee.email,
               now=now)
    return row


def queue_invite(session, event_id, user, actor=None):
    """Queue a new member's set-password email, asked for by ``actor``."""
    return _queue(session, event_id, EmailKind.INVITE, actor, utcnow(), user_id=user.id)


def _queue(session, event_id, kind, requested_by, now, **recipient):
    """An outbox row of one email on demand (its ``order_id`` a token of its own), to an
    attendee or a user."""
    row = OutboxEmail(event_id=event_id, order_id=f"{kind.value}-{secrets.token_hex(8)}",
                      kind=kind, status=EmailStatus.PENDING, created_at=now,
                      next_attempt_at=now,
                      requested_by_id=requested_by.id if requested_by else None, **recipient)
    session.add(row)
    session.flush()
    return row


def emails_of(session, attendee_id):
    """Return every email queued for an attendee, newest first."""
    return list(session.scalars(
        select(OutboxEmail).where(OutboxEmail.attendee_id == attendee_id)
        .order_by(OutboxEmail.id.desc())))


def email_counts(session, event_id):
    """Return how many of the event's emails are queued, sent, failed and skipped: emails,
    not the tickets they are about (one email of an order's three tickets is one)."""
    counts = dict(session.execute(_EMAIL_COUNTS, {"event_id": event_id}).all())
    return {"queued": counts.get(EmailStatus.PENDING, 0) + counts.get(EmailStatus.SENDING, 0),
            "sent": counts.get(EmailStatus.SENT, 0), "failed": counts.get(EmailStatus.FAILED, 0),
            "skipped": counts.get(EmailStatus.SKIPPED, 0)}


# An email is the outbox rows of one recipient, order and kind (see claim), in one status.
_EMAILS = (select(OutboxEmail.status)
           .where(OutboxEmail.event_id == bindparam("event_id"),
                  OutboxEmail.kind != EmailKind.INVITE)
           .group_by(OutboxEmail.status, OutboxEmail.attendee_id, OutboxEmail.order_id,
                     OutboxEmail.kind)
           .subquery())
_EMAIL_COUNTS = select(_EMAILS.c.status, func.count()).group_by(_EMAILS.c.status)
