"""heysummit-tc: ThriveCart takes the payment; the event platform creates the attendee."""

from flask import Flask

from . import instrumentation, logs, security
from .config import load_config
from .database import commit_reads, configure_connections
from .extensions import csrf, db, login_manager, mail, migrate


def create_app(config=None):
    """Create the application: configuration, extensions, blueprints, commands, handlers."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    load_config(app, config)
    logs.configure(app)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    security.register(app)
    instrumentation.register(app)
    return app


def register_extensions(app):
    """Bind the extensions to this app."""
    configure_connections()
    db.init_app(app)
    commit_reads(app, db)
    migrate.init_app(app, db, directory=str(_repo_path(app, "migrations")),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    mail.init_app(app)


def register_blueprints(app):
    """Mount the organiser pages and the webhook."""
    from .admin import blueprint as admin_blueprint
    from .buyers import bp as buyers_bp
    from .health import bp as health_bp
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(admin_blueprint())
    app.register_blueprint(buyers_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    csrf.exempt(webhooks_bp)


def register_commands(app):
    """Add the ``flask`` CLI groups."""
    from .cli import commands

    for command in commands:
        app.cli.add_command(command)


def register_errorhandlers(app):
    """Answer errors with pages (or JSON for the API) that say what happened."""
    from .errors import register

    register(app)


def register_template_helpers(app):
    """Give templates the filters they format money and times with."""
    from .templating import register

    register(app)


def _repo_path(app, name):
    from pathlib import Path

    return Path(app.root_path).parent / name
