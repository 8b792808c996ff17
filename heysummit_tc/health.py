"""``/healthz``: is this process able to serve, database included?"""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)


@bp.route("/healthz/live")
def live():
    """Answer 200 while the process serves (no database check): liveness, and the bench baseline."""
    return jsonify(status="ok")


@bp.route("/healthz")
def healthz():
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    finally:
        db.session.close()
    return jsonify(status="ok", database="ok")
