"""What the pages that (re)process deliveries share: where the ThriveCart pages live, and
what follows a run started from a page."""

from flask_login import current_user

from ..extensions import db
from ..jobs import after_grant
from ..services.activity import record

THRIVECART = "/events/<int:event_id>/setup/integrations/thrivecart"


def processed(event, results, kind, detail):
    """After deliveries were (re)processed from a page: wake the email worker for what they
    granted, and record in the activity log, once, who asked for it."""
    for result in results:
        after_grant(result)
    if results:
        record(db.session, event.id, current_user, kind, detail)
        db.session.commit()
