"""The signed-in user's own settings: password, sessions, email alerts."""

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import SelectChoice

from ..config import mail_problem
from ..extensions import db
from ..services.accounts import change_password, end_sessions
from ..services.alerts import digests_of, organiser_events, set_alert_events, subscribed_event_ids
from ..words import plural
from . import bp
from .forms import ActionForm, AlertsForm, ChangePasswordForm, status_of, submit


@bp.route("/account/", methods=["GET", "POST"])
@login_required
def account():
    """Choose the events whose alerts to get by email (and show the other settings)."""
    return _page(alerts_form=AlertsForm())


def _page(alerts_form=None, password_form=None):
    events = organiser_events(db.session, current_user.id)
    form = alerts_form or AlertsForm(formdata=None)
    if not form.is_submitted() or alerts_form is None:
        form.alert_event_ids.data = sorted(subscribed_event_ids(db.session, current_user.id))
    form.alert_event_ids.choices = [SelectChoice(event.id, event.name) for event in events]
    if alerts_form is not None and submit(form, lambda: set_alert_events(
            db.session, current_user, form.alert_event_ids.data or []))[0]:
        chosen = len(form.alert_event_ids.data or [])
        flash(f"Alerts saved: {plural(chosen, 'event')}." if chosen
              else "Alerts saved: none.", "success")
        return redirect(url_for("admin.account"))
    password_form = password_form or ChangePasswordForm(formdata=None)
    return render_template("admin/account.html", form=form, events=events,
                           password_form=password_form, action=ActionForm(),
                           mail_problem=mail_problem(current_app.config),
                           digests=digests_of(db.session, current_user.id)), \
        status_of(form, password_form)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_own_password():
    """Change the password (the current one required); other sessions end, this one stays."""
    form = ChangePasswordForm()
    if submit(form, lambda: change_password(db.session, current_user,
                                            form.current_password.data, form.password.data))[0]:
        login_user(current_user._get_current_object())  # this session, with the new token
        flash("Password changed. Your other sessions have ended.", "success")
        return redirect(url_for("admin.account"))
    return _page(password_form=form)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    """End every session of this user, this one included."""
    if submit(ActionForm(), lambda: end_sessions(db.session, current_user))[0]:
        logout_user()
        session.clear()
        flash("Signed out everywhere.", "success")
    return redirect(url_for("admin.login"))
