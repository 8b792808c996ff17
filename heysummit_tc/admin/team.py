"""An event's team (organisers only): add by email, change roles, remove."""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from ..config import mail_problem
from ..emails import password_url
from ..extensions import db
from ..jobs import wake_email_worker
from ..models import EventMember
from ..services.team import add_to_team, change_role, members_of, remove_from_team
from . import bp
from .access import organisers_only
from .forms import ActionForm, MemberForm, RoleForm, status_of, submit

TEAM = "/events/<int:event_id>/team/"


@bp.route(TEAM, methods=["GET", "POST"])
@organisers_only
def team(event):
    """List the team; add someone by email (creating their account if need be)."""
    form = MemberForm()
    invite = None
    mail_configured = mail_problem(current_app.config) is None
    done, added = submit(form, lambda: add_to_team(db.session, event, form.email.data,
                                                   form.role.data, actor=current_user,
                                                   invite=mail_configured))
    if done:
        membership, created = added
        user = membership.user
        if not created:
            flash(f"{user.email} added as {membership.role.label.lower()}.", "success")
            return redirect(url_for("admin.team", event_id=event.id))
        # Shown once, on this page: the link is not kept anywhere.
        if mail_configured:
            wake_email_worker()
        invite = {"email": user.email, "link": password_url(user), "emailed": mail_configured}
        form = MemberForm(formdata=None)
    return render_template("admin/team.html", event=event, form=form, invite=invite,
                           members=members_of(db.session, event.id),
                           role_form=RoleForm(formdata=None), action=ActionForm()), \
        status_of(form)


def _member_or_404(event, user_id):
    membership = db.session.get(EventMember, (event.id, user_id))
    if membership is None:
        abort(404)
    return membership


@bp.route(TEAM + "<int:user_id>/role", methods=["POST"])
@organisers_only
def change_member_role(event, user_id):
    _member_or_404(event, user_id)
    form = RoleForm()
    done, membership = submit(form, lambda: change_role(db.session, event, user_id,
                                                        form.role.data, actor=current_user))
    if done:
        flash(f"{membership.user.email} is now {membership.role.label.lower()}.", "success")
    for message in form.role.errors:  # the page is shown again after a redirect
        flash(message, "error")
    return redirect(url_for("admin.team", event_id=event.id))


@bp.route(TEAM + "<int:user_id>/remove", methods=["POST"])
@organisers_only
def remove_member(event, user_id):
    _member_or_404(event, user_id)
    done, user = submit(ActionForm(), lambda: remove_from_team(db.session, event, user_id,
                                                               actor=current_user))
    if done and user.id == current_user.id:
        flash(f"You left {event.name}.", "success")
        return redirect(url_for("admin.events"))
    if done:
        flash(f"{user.email} removed from the team.", "success")
    return redirect(url_for("admin.team", event_id=event.id))
