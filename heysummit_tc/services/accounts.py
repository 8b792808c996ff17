"""Users, passwords and sign-in."""

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import contains_eager

from ..models import EventMember, User
from . import ServiceError

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 degree of parallelism.
password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this keeps a sign-in for an unknown email as slow as a wrong password.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


def normalize_email(email):
    """Return the email as stored: trimmed and lower-cased."""
    return (email or "").strip().lower()


def generate_password():
    """Return a random password that is easy to copy."""
    return secrets.token_urlsafe(12)


def create_user(session, email, password):
    """Create a user with a hashed password."""
    email = normalize_email(email)
    if not email or "@" not in email:
        raise ServiceError("Enter an email address.", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ServiceError(f"A user with the email {email} already exists.", field="email")
    user = User(
        email=email,
        password_hash=password_hasher.hash(password),
        session_token=secrets.token_hex(16),
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session, email):
    """Return the user with this email (as typed: trimmed, any case), or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def has_users(session):
    return session.scalar(select(User.id).limit(1)) is not None


def authenticate(session, email, password):
    """Return the user with this email and password, or None."""
    user = user_by_email(session, email)
    try:
        password_hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    return user


def set_password(session, user, password):
    """Give the user a new password; every session of theirs ends."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if len(password) > 1024:
        raise ServiceError("Use a password of at most 1,024 characters.", field="password")
    user.password_hash = password_hasher.hash(password)
    end_sessions(session, user)


def change_password(session, user, current, new):
    """Change the user's own password, knowing the current one."""
    try:
        password_hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise ServiceError("The current password is wrong.", field="current_password") from None
    set_password(session, user, new)


def password_fingerprint(user):
    """A digest that changes whenever the password does: a set-password link carries it, so
    the link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def end_sessions(session, user):
    """End every session of the user: the token each session cookie carries changes."""
    user.session_token = secrets.token_hex(16)
    session.flush()


def load_user(session, user_id, event_id=None):
    """Return the user a session cookie names, if its token is still current, and their
    membership of ``event_id`` (with its event), or None; (None, None) for no user.

    An event's pages need both before anything else: one statement reads them.
    """
    user_part, _, token = (user_id or "").partition(":")
    if not (user_part.isascii() and user_part.isdigit()) or not token:
        return None, None
    found = session.execute(_USER_AND_MEMBERSHIP,
                            {"user_id": int(user_part), "event_id": event_id}).first()
    if found is None or not secrets.compare_digest(found.User.session_token, token):
        return None, None
    return found.User, found.EventMember


_USER_AND_MEMBERSHIP = (
    select(User, EventMember)
    .outerjoin(EventMember, and_(EventMember.user_id == User.id,
                                 EventMember.event_id == bindparam("event_id")))
    .outerjoin(EventMember.event)
    .options(contains_eager(EventMember.event))
    .where(User.id == bindparam("user_id"))
)
