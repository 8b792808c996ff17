"""An event's activity log (organisers only): who did what, newest first."""

from flask import render_template, request

from ..extensions import db
from ..services.activity import KINDS, activity_of
from . import bp
from .access import organisers_only


@bp.route("/events/<int:event_id>/activity/")
@organisers_only
def activity(event):
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    before = request.args.get("before", type=int)
    return render_template("admin/activity.html", event=event, kinds=KINDS, kind=kind,
                           before=before, page=activity_of(db.session, event.id, kind, before))
