"""Attendees: the list, one attendee, and the CSV export."""

from datetime import UTC, datetime

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from wtforms import SelectChoice

from ..extensions import db
from ..models import Attendee, utcnow
from ..services import ServiceError
from ..services.access_emails import emails_of
from ..services.attendees import (
    AttendeeFilter,
    attendee_csv,
    attendees_of,
    deliveries_touching,
    purchase_access,
    purchase_history,
    refunded_amounts,
)
from ..services.email_changes import conflicts_of, merge_attendees
from ..services.erasure import erase_buyer, erasure_preview
from ..services.tickets import tickets_of
from . import bp
from .access import organisers_only, owned_or_404
from .forms import ActionForm, AttendeeForm, AttendeeSearchForm, GrantForm


@bp.route("/events/<int:event_id>/attendees/")
@organisers_only
def attendees(event):
    """List the event's attendees with their purchases; search by email, filter by status."""
    form = AttendeeSearchForm(request.args)
    query = (form.q.data or "").strip()
    status = form.status.data or ""
    before = request.args.get("before", type=int)
    page = attendees_of(db.session, event.id, AttendeeFilter(query, status, before))
    return render_template("admin/attendees.html", event=event, form=form, page=page,
                           query=query, status=status, before=before)


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>/")
@organisers_only
def attendee(event, attendee_id):
    """Show one attendee, their purchases and the deliveries that touched them."""
    return attendee_page(event, owned_or_404(Attendee, attendee_id, event.id))


def attendee_page(event, person, edit_form=None, grant=None):
    """The attendee's page, with the forms that change it by hand (a refused one keeps its
    errors)."""
    return render_template("admin/attendee.html", event=event, attendee=person,
                           deliveries=deliveries_touching(db.session, person),
                           history=purchase_history(db.session, person),
                           emails=emails_of(db.session, person.id),
                           merge_into=conflicts_of(db.session, person),
                           refunded=refunded_amounts(db.session, person.purchases),
                           access=purchase_access, now=utcnow(),
                           edit_form=edit_form or AttendeeForm(formdata=None, obj=person),
                           grant=grant or grant_form(event))


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>/erase", methods=["GET", "POST"])
@organisers_only
def erase_attendee(event, attendee_id):
    """Erase the buyer's personal data from this event, after a confirmation saying what
    goes and what stays."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    back = url_for("admin.attendee", event_id=event.id, attendee_id=person.id)
    if person.erased_at is not None:
        flash("This buyer's personal data was erased already.", "error")
        return redirect(back)
    if request.method == "GET" or not ActionForm().validate_on_submit():
        return render_template("admin/attendee_erase.html", event=event, attendee=person,
                               preview=erasure_preview(db.session, person))
    erasure = erase_buyer(db.session, person, current_app.config["SECRET_WORD_KEY"],
                          actor=current_user)
    db.session.commit()
    flash(f"Personal data erased: {erasure.describe()}.", "success")
    return redirect(back)


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>/merge", methods=["POST"])
@organisers_only
def merge_attendee(event, attendee_id):
    """Merge this attendee into the one that holds the email ThriveCart changed it to."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    target = owned_or_404(Attendee, request.form.get("into", type=int), event.id)
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=person.id))
    source_id = person.id
    try:
        moved = merge_attendees(db.session, person, target, actor=current_user)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=source_id))
    db.session.commit()
    flash(f"Attendee #{source_id} merged into this one: {moved} purchases moved.", "success")
    return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=target.id))


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


def grant_form(event, formdata=None):
    """The grant form, offering every ticket of the event (an inactive one says so)."""
    form = GrantForm(formdata=formdata)
    form.ticket_id.choices = [SelectChoice(0, "Choose a ticket…")] + [
        SelectChoice(ticket.id, ticket.name + ("" if ticket.active else " (inactive)"))
        for ticket, _purchases in tickets_of(db.session, event.id)]
    return form
