"""The link an access email carries: signed, single use, 7 days; what it shows the buyer.

Single use means one browser: the one that first opens it holds a key (a cookie) that opens
it again until it expires; any other is offered a fresh link.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from ..models import AccessLink, Attendee, Event, Ticket, TicketPurchase, utcnow
from . import ServiceError
from .lifecycle import has_access

LINK_DAYS = 7


@dataclass(frozen=True)
class Opened:
    """What an access link shows: the event and each ticket with whether it gives access."""

    attendee: Attendee
    event: Event
    tickets: list


class LinkProblem(ServiceError):
    """The link cannot be used (used or expired); the buyer may ask for a fresh one."""


def _digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def check_link(session, link_id, now=None):
    """Return the link if it can still be opened (not used, not expired); else raise
    LinkProblem."""
    link = session.get(AccessLink, link_id)
    if link is None:
        raise LinkProblem("This link is not valid.")
    if link.expires_at <= (now or utcnow()):
        raise LinkProblem("This link has expired.")
    if link.used_at is not None:
        raise LinkProblem("This link was used already.")
    return link


def open_link(session, link_id, now=None):
    """Use an access link once; return the key that lets this browser open it (see
    :func:`reopen_link`) until it expires, or raise LinkProblem."""
    now = now or utcnow()
    check_link(session, link_id, now)
    key = secrets.token_urlsafe(32)
    used = session.execute(update(AccessLink).where(AccessLink.id == link_id,
                                                    AccessLink.used_at.is_(None))
                           .values(used_at=now, browser_digest=_digest(key))
                           .execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise LinkProblem("This link was used already.")
    return key


def reopen_link(session, link_id, key, now=None):
    """Return what the page shows to the browser that first opened the link (``key``, its
    cookie) until the link expires; None for any other."""
    now = now or utcnow()
    link = session.get(AccessLink, link_id)
    if (link is None or not key or link.browser_digest is None or link.expires_at <= now
            or not hmac.compare_digest(link.browser_digest, _digest(key))):
        return None
    return _opened(session, link.attendee_id, now)


def _opened(session, attendee_id, now):
    attendee = session.get(Attendee, attendee_id)
    rows = session.execute(
        select(TicketPurchase, Ticket).join(Ticket, Ticket.id == TicketPurchase.ticket_id)
        .where(TicketPurchase.attendee_id == attendee.id)
        .order_by(Ticket.name, Ticket.id, TicketPurchase.id)).all()
    return Opened(attendee, session.get(Event, attendee.event_id), held_tickets(rows, now))


def held_tickets(rows, now):
    """Return (name, status, access, access ends) per ticket of (purchase, ticket) rows: a
    ticket bought twice (a rebuy) is held while any of its purchases gives access, and
    otherwise stands as its latest purchase left it."""
    tickets = {}
    for purchase, ticket in rows:
        access = has_access(purchase.status, purchase.access_ends_at, ticket.on_payment_failed,
                            now)
        held = tickets.get(ticket.id)
        if held is None or access or not held[2]:
            tickets[ticket.id] = (ticket.name, purchase.status, access, purchase.access_ends_at)
    return list(tickets.values())


def attendee_of_link(session, link_id):
    link = session.get(AccessLink, link_id)
    return session.get(Attendee, link.attendee_id) if link else None


def giving_access(session, attendee_id, now):
    """The names of the tickets the attendee holds that give access now (a ticket bought
    twice, once)."""
    rows = session.execute(
        select(TicketPurchase, Ticket).join(Ticket, Ticket.id == TicketPurchase.ticket_id)
        .where(TicketPurchase.attendee_id == attendee_id)
        .order_by(Ticket.name, Ticket.id, TicketPurchase.id)).all()
    return [name for name, _status, access, _ends in held_tickets(rows, now) if access]
