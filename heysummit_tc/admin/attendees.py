"""Attendees: the list, one attendee, and the CSV export."""

from datetime import UTC, datetime

from flask import Response, render_template, request, stream_with_context

from ..extensions import db
from ..models import Attendee, utcnow
from ..services.access_emails import emails_of
from ..services.attendees import (
    attendee_csv,
    attendees_of,
    deliveries_touching,
    purchase_access,
    purchase_history,
)
from . import bp
from .access import organisers_only, owned_or_404
from .forms import AttendeeSearchForm


@bp.route("/events/<int:event_id>/attendees/")
@organisers_only
def attendees(event):
    """List the event's attendees with their purchases; search by email, filter by status."""
    form = AttendeeSearchForm(request.args)
    query = (form.q.data or "").strip()
    status = form.status.data or ""
    before = request.args.get("before", type=int)
    page = attendees_of(db.session, event.id, query=query, status=status, before=before)
    return render_template("admin/attendees.html", event=event, form=form, page=page,
                           query=query, status=status, before=before)


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>/")
@organisers_only
def attendee(event, attendee_id):
    """Show one attendee, their purchases and the deliveries that touched them."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    return render_template("admin/attendee.html", event=event, attendee=person,
                           deliveries=deliveries_touching(db.session, person),
                           history=purchase_history(db.session, person),
                           emails=emails_of(db.session, person.id),
                           access=purchase_access, now=utcnow())


@bp.route("/events/<int:event_id>/attendees.csv")
@organisers_only
def attendees_csv(event):
    """Stream every attendee and purchase of the event as CSV."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(attendee_csv(db.session, event.id)),
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="attendees-event-{event.id}-{stamp}.csv"'},
    )
