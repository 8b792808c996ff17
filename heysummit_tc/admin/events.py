"""The user's events, creating one, and an event's dashboard."""

from flask import flash, g, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Role
from ..services.events import (
    EventDetails,
    create_event,
    dashboard_counts,
    events_of,
    update_event,
)
from ..services.integrations import integration_of
from ..services.outcomes import GROUPS
from ..services.revenue import chart, revenue_of
from ..services.times import local_text, timezone_names
from . import bp
from .access import members, organisers_only
from .forms import EventDetailsForm, EventForm, status_of, submit


@bp.route("/events/")
@login_required
def events():
    """List the events the user belongs to."""
    return render_template("admin/events.html", rows=events_of(db.session, current_user.id))


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new_event():
    """Create an event; its creator becomes its organiser."""
    form = EventForm()
    done, event = submit(form, lambda: create_event(db.session, form.name.data,
                                                    form.currency.data, current_user))
    if done:
        flash(f"Event “{event.name}” created. Next: add its tickets.", "success")
        return redirect(url_for("admin.dashboard", event_id=event.id))
    return render_template("admin/event_new.html", form=form), status_of(form)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@organisers_only
def edit_event(event):
    """Rename the event; change its currency while nothing has been bought."""
    form = EventDetailsForm(obj=event, starts=local_text(event.starts_at, event.timezone))
    done, _ = submit(form, lambda: update_event(
        db.session, event, form.name.data, form.currency.data, actor=current_user,
        details=EventDetails(form.timezone.data, form.starts.data,
                             form.joining_instructions.data)))
    if done:
        flash(f"Event “{event.name}” saved.", "success")
        return redirect(url_for("admin.dashboard", event_id=event.id))
    return render_template("admin/event_edit.html", event=event, form=form,
                           timezones=timezone_names()), status_of(form)


@bp.route("/events/<int:event_id>/")
@members
def dashboard(event):
    """Show the event's counts and where its set-up stands."""
    integration = integration_of(db.session, event.id)
    return render_template(
        "admin/dashboard.html", event=event,
        counts=dashboard_counts(db.session, event.id, integration),
        integration=integration, groups=GROUPS,
        revenue=revenue_of(db.session, event.id) if g.membership.role == Role.ORGANISER
        else None, chart=chart,
    )
