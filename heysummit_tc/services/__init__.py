"""Business logic: plain functions taking a session and explicit arguments, never a request.

The transaction rule, service side: a service flushes and never commits; its caller (a view
through ``admin.forms.submit``, a CLI command, a job) commits once or rolls back. The
exceptions own their transactions because each step must be durable on its own, and say so:
``provisioning.run_delivery`` and the doors in ``releases`` (a delivery is recorded before it
is applied), ``alerts.send_digests`` and ``access_emails.send_due`` (each email is claimed
before it is sent).
"""


class ServiceError(Exception):
    """A request the domain refuses; the message is meant for the person who made it."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def required_name(value, what, limit=200):
    """Return a name trimmed, or raise a form error: empty, or longer than ``limit`` (never
    cut silently)."""
    name = (value or "").strip()
    if not name:
        raise ServiceError(f"Give the {what} a name.", field="name")
    if len(name) > limit:
        raise ServiceError(f"Shorten the name to {limit} characters (it has {len(name)}).",
                           field="name")
    return name
