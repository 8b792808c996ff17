"""Email out of the app: rendering and sending through Flask-Mail, links from PUBLIC_BASE_URL.

Services decide what to send (:mod:`.services.alerts`); this module turns it into a message.
"""

import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template, url_for
from flask_mail import Message
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .extensions import mail
from .services.accounts import password_fingerprint
from .words import plural

log = logging.getLogger(__name__)


def send(message):
    """Send a message over SMTP, or write it to MAIL_SINK as a .eml file when that is set
    and MAIL_SERVER is not (development)."""
    config = current_app.config
    if config.get("MAIL_SINK") and not config.get("MAIL_SERVER"):
        folder = Path(config["MAIL_SINK"])
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}.eml"
        (folder / name).write_bytes(message.as_bytes())
        log.info("email written to %s (no MAIL_SERVER: development mail sink)", folder / name)
        return
    mail.send(message)


def digest_subject(digest):
    found = digest.findings
    parts = [text for count, text in (
        (found.failed, plural(found.failed, "failed delivery", "failed deliveries")),
        (found.unlinked, plural(found.unlinked, "unlinked item")),
        (found.payment_failed, plural(found.payment_failed, "payment failure")),
        (found.rejected, plural(found.rejected, "rejected post")),
        (found.held_refused, plural(found.held_refused, "refused post")),
        (found.silent_since, "no delivery lately"),
    ) if count]
    return f"{digest.event_name}: {', '.join(parts)}"


def deliver_digest(digest):
    """Send one alert digest (plain text and HTML); return its subject. Raises on failure."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        def log(**filters):
            return url_for("admin.deliveries", event_id=digest.event_id, _external=True,
                           **filters)

        links = {
            "failed": log(outcome="failed", attention=1),
            "rejected": log(outcome="rejected"),
            "payment_failed": log(outcome="payment_failed", attention=1),
            "unlinked": url_for("admin.unlinked_items", event_id=digest.event_id,
                                _external=True),
            "silence": url_for("admin.thrivecart", event_id=digest.event_id, _external=True),
            "configure": url_for("admin.configure_thrivecart", event_id=digest.event_id,
                                 _external=True),
            "log": log(attention=1),
            "account": url_for("admin.account", _external=True),
        }
        subject = digest_subject(digest)
        context = {"digest": digest, "found": digest.findings, "links": links,
                   "subject": subject}
        message = Message(subject, recipients=[digest.recipient],
                          body=render_template("email/alert_digest.txt", **context),
                          html=render_template("email/alert_digest.html", **context))
    send(message)
    return subject


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="access-link")


def access_url(link_id):
    """Return the signed URL of an access link (built from PUBLIC_BASE_URL)."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("access.show", token=_serializer().dumps(link_id), _external=True)


def read_access_token(token, max_age=None):
    """Return the access link id a token names, or None; ``max_age`` in seconds."""
    try:
        return int(_serializer().loads(token, max_age=max_age))
    except (BadSignature, TypeError, ValueError):
        return None


def deliver_access_email(email):
    """Send one access email (plain text and HTML, placeholders filled and escaped)."""
    link = email.values["access_link"]
    paragraphs = [part for part in email.text.split("\n\n") if part.strip()]
    message = Message(email.subject, recipients=[email.to], body=email.text,
                      html=render_template("email/access.html", email=email,
                                           paragraphs=paragraphs, link=link))
    message.msgId = message_id(email.key)
    send(message)


def message_id(key):
    """A Message-ID that is the same however often one email is sent: ``<key@host>``, the
    host of PUBLIC_BASE_URL."""
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "heysummit.invalid"
    return f"<{key}@{host}>"


PASSWORD_LINK_DAYS = 7


def _password_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="set-password")


def password_url(user, external=True):
    """Return a signed set-password link for the user: 7 days, and once (it carries a
    fingerprint of the current password, which setting one changes)."""
    token = _password_serializer().dumps({"u": user.id, "f": password_fingerprint(user)})
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if base and external:
        with current_app.test_request_context(base_url=base):
            return url_for("admin.set_password", token=token, _external=True)
    return url_for("admin.set_password", token=token, _external=external)


def read_password_token(token):
    """Return (user id, fingerprint) from a set-password token, or None."""
    try:
        data = _password_serializer().loads(token, max_age=PASSWORD_LINK_DAYS * 86400)
        return int(data["u"]), str(data["f"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def deliver_invite(user, event, inviter_email, subject):
    """Email a new member their set-password link, under ``subject`` (the outbox's)."""
    link = password_url(user)
    context = {"user": user, "event": event, "inviter": inviter_email, "link": link,
               "days": PASSWORD_LINK_DAYS}
    message = Message(subject, recipients=[user.email],
                      body=render_template("email/invite.txt", **context),
                      html=render_template("email/invite.html", **context))
    send(message)
