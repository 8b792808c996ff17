"""Event Setup > Access email: what buyers get, and resending it from an attendee's page."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..config import mail_problem
from ..extensions import db
from ..jobs import wake_email_worker
from ..models import Attendee, EmailKind
from ..services.access_emails import email_counts, queue_email
from ..services.access_settings import (
    PLACEHOLDERS,
    Settings,
    check_template,
    render,
    save_settings,
    settings_of,
)
from . import bp
from .access import organisers_only, owned_or_404
from .forms import AccessEmailForm, status_of, submit

SAMPLE_LINK = "https://…/access/(a link for this buyer)"


@bp.route("/events/<int:event_id>/setup/access-email", methods=["GET", "POST"])
@organisers_only
def access_email(event):
    """Edit the access email; preview it before saving."""
    problem = mail_problem(current_app.config)
    settings = settings_of(db.session, event.id, problem is None)
    form = AccessEmailForm(data={"enabled": settings.enabled, "subject": settings.subject,
                                 "body": settings.body} if request.method == "GET" else None)
    preview = None
    if "preview" in request.form:
        done, preview = submit(form, lambda: _preview(event, form))
    else:
        done, _ = submit(form, lambda: save_settings(
            db.session, event, Settings(form.enabled.data, form.subject.data, form.body.data),
            user=current_user))
        if done:
            flash("Access email saved: buyers get it "
                  + ("from their next purchase on." if form.enabled.data
                     else "no more (switched off)."), "success")
            return redirect(url_for("admin.access_email", event_id=event.id))
    return render_template("admin/access_email.html", event=event, form=form, preview=preview,
                           placeholders=PLACEHOLDERS, mail_problem=problem,
                           counts=email_counts(db.session, event.id)), status_of(form)


def _preview(event, form):
    """The email as a buyer would read it, placeholders filled with samples (not saved)."""
    check_template(form.subject.data, "subject")
    check_template(form.body.data, "body")
    values = {"first_name": current_user.email.split("@")[0].title(), "event": event.name,
              "tickets": ", ".join(ticket.name for ticket in event.tickets[:2]) or "a ticket",
              "access_link": SAMPLE_LINK}
    return {"subject": render(form.subject.data, values), "body": render(form.body.data, values)}


@bp.route("/events/<int:event_id>/attendees/<int:attendee_id>/resend", methods=["POST"])
@organisers_only
def resend_access_email(event, attendee_id):
    """Queue the access email again for an attendee (with a fresh link), and record it."""
    attendee = owned_or_404(Attendee, attendee_id, event.id)
    problem = ("this buyer's personal data was erased" if attendee.erased_at is not None
               else mail_problem(current_app.config))
    if problem:
        flash(f"Not sent: {problem}", "error")
        return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=attendee.id))
    queue_email(db.session, attendee, EmailKind.RESEND, user=current_user)
    db.session.commit()
    wake_email_worker()
    flash(f"Access email queued for {attendee.email}, with a fresh link.", "success")
    return redirect(url_for("admin.attendee", event_id=event.id, attendee_id=attendee.id))
