"""Sign in and out."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db
from ..security import login_failures
from ..services.accounts import authenticate, end_sessions
from . import bp
from .forms import ActionForm, LoginForm

WRONG_LOGIN = "Email or password is wrong."


@bp.route("/")
def index():
    """Send people to their events, or to sign in."""
    return redirect(url_for("admin.events" if current_user.is_authenticated else "admin.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        client = request.remote_addr or "-"
        if login_failures.exceeded(client):
            form.password.errors = ["Too many failed sign-ins. Wait a minute and try again."]
            return render_template("admin/login.html", form=form), 429
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            # A fresh session: nothing an attacker planted before sign-in survives it.
            session.clear()
            login_user(user)
            db.session.commit()
            flash("Signed in.", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.events"))
        login_failures.record_failure(client)
        form.password.errors = [WRONG_LOGIN]
        status = 401
    return render_template("admin/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    """Sign out (a POST; GET asks to confirm)."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        # A copy of the cookie taken before now must not open anything afterwards.
        end_sessions(db.session, current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("Signed out.", "success")
        return redirect(url_for("admin.login"))
    return render_template("admin/logout.html", form=form)


def _safe_next(target):
    """Return ``target`` only if it is a path on this site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
