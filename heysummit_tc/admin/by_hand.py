"""Attendees changed by hand: name and email, a ticket granted or revoked, and the event's
test orders deleted before launch (after a confirmation that counts them)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import Attendee, Ticket, TicketPurchase
from ..services.by_hand import (
    delete_test_orders,
    edit_attendee,
    grant_ticket,
    revoke_purchase,
    test_orders,
)
from ..words import plural
from . import bp
from .access import organisers_only, owned_or_404
from .attendees import attendee_page, grant_form
from .forms import ActionForm, AttendeeForm, submit

ATTENDEE = "/events/<int:event_id>/attendees/<int:attendee_id>/"


def _back(event, person):
    return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=person.id))


@bp.route(ATTENDEE + "edit", methods=["POST"])
@organisers_only
def edit_attendee_details(event, attendee_id):
    """Change the attendee's name and email."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    form = AttendeeForm()
    done, changes = submit(form, lambda: edit_attendee(
        db.session, person, form.first_name.data, form.last_name.data, form.email.data,
        actor=current_user))
    if done:
        flash("Saved: " + "; ".join(changes) + "." if changes else "Nothing changed.",
              "success" if changes else "info")
        return _back(event, person)
    db.session.refresh(person)
    return attendee_page(event, person, edit_form=form), 400


@bp.route(ATTENDEE + "grant", methods=["POST"])
@organisers_only
def grant_attendee_ticket(event, attendee_id):
    """Give the attendee a ticket by hand (source manual)."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    form = grant_form(event, request.form)
    ticket = (owned_or_404(Ticket, form.ticket_id.data, event.id)
              if form.validate_on_submit() and form.ticket_id.data else None)
    if ticket is None:
        form.ticket_id.errors = [*form.ticket_id.errors, "Choose the ticket to grant."]
        return attendee_page(event, person, grant=form), 400
    done, _ = submit(form, lambda: grant_ticket(db.session, person, ticket, current_user))
    if done:
        flash(f"“{ticket.name}” granted to {person.email} by hand.", "success")
        return _back(event, person)
    return attendee_page(event, person, grant=form), 400


@bp.route(ATTENDEE + "purchases/<int:purchase_id>/revoke", methods=["POST"])
@organisers_only
def revoke_attendee_purchase(event, attendee_id, purchase_id):
    """End a purchase's access now, by hand."""
    person = owned_or_404(Attendee, attendee_id, event.id)
    purchase = db.session.get(TicketPurchase, purchase_id)
    if purchase is None or purchase.attendee_id != person.id:
        return _back(event, person)
    done, _ = submit(ActionForm(), lambda: revoke_purchase(db.session, purchase, current_user))
    if done:
        flash(f"“{purchase.ticket.name}” revoked: no access from now on.", "success")
    return _back(event, person)


@bp.route("/events/<int:event_id>/attendees/test-orders", methods=["GET", "POST"])
@organisers_only
def delete_event_test_orders(event):
    """Delete the event's test orders before launch, after a confirmation that counts them."""
    counted = test_orders(db.session, event.id)
    if request.method == "POST":
        done, deleted = submit(ActionForm(), lambda: delete_test_orders(
            db.session, event.id, current_user))
        if done:
            flash(f"Deleted {plural(deleted.purchases, 'test purchase')}, "
                  f"{plural(deleted.deliveries, 'delivery', 'deliveries')} and "
                  f"{plural(deleted.attendees, 'attendee')} who held nothing else.", "success")
            return redirect(url_for("admin.attendees", event_id=event.id))
    return render_template("admin/test_orders.html", event=event, counted=counted)

