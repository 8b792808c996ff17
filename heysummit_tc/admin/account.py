"""The signed-in user's own settings: email alerts."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from ..config import mail_problem
from ..extensions import db
from ..services import ServiceError
from ..services.alerts import digests_of, organiser_events, set_alert_events, subscribed_event_ids
from . import bp
from .access import apply_service_error
from .forms import AlertsForm


@bp.route("/account/", methods=["GET", "POST"])
@login_required
def account():
    """Choose the events whose alerts to get by email."""
    events = organiser_events(db.session, current_user.id)
    form = AlertsForm()
    if not form.is_submitted():
        form.alert_event_ids.data = sorted(subscribed_event_ids(db.session, current_user.id))
    form.alert_event_ids.choices = [SelectChoice(event.id, event.name) for event in events]
    if form.validate_on_submit():
        try:
            set_alert_events(db.session, current_user, form.alert_event_ids.data or [])
        except ServiceError as error:
            db.session.rollback()
            apply_service_error(form, error, flash)
        else:
            db.session.commit()
            chosen = len(form.alert_event_ids.data or [])
            flash(f"Alerts saved: {chosen} event{'s' if chosen != 1 else ''}." if chosen
                  else "Alerts saved: none.", "success")
            return redirect(url_for("admin.account"))
    status = 400 if form.errors else 200
    return render_template("admin/account.html", form=form, events=events,
                           mail_problem=mail_problem(current_app.config),
                           digests=digests_of(db.session, current_user.id)), status
