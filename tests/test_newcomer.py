"""A newcomer's first commands: the CLI after `make run` needs no environment, and a missing
key outside development is one line that names it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("APP_ENV", "SECRET_KEY", "SECRET_WORD_KEY", "DATABASE_URL", "FLASK_APP")


def clean_env(**extra):
    env = {name: value for name, value in os.environ.items() if name not in KEYS}
    return {**env, **extra}


def flask(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_missing_key_outside_development_is_one_line_naming_it():
    result = flask("--app", "wsgi", "users", "create", "someone@example.com", cwd=ROOT,
                   env=clean_env(APP_ENV="production"))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["heysummit-tc: SECRET_KEY and SECRET_WORD_KEY must be set outside "
                     "development (APP_ENV=production); refusing to start with a guessable key."]


def test_after_make_run_the_cli_needs_no_environment(tmp_path):
    """What `make run` leaves behind (.flaskenv) is all `flask users create` needs."""
    shutil.copy(ROOT / "wsgi.py", tmp_path / "wsgi.py")
    made = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), ".flaskenv"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / ".flaskenv").read_text() == "FLASK_APP=wsgi\nAPP_ENV=development\n"
    # Only the database is this test's own, so as not to touch the checkout's.
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'newcomer.db'}",
                    PYTHONPATH=str(ROOT))
    assert flask("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = flask("users", "create", "someone@example.com", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    assert "Created user someone@example.com" in created.stdout
    assert "Password: " in created.stdout


def test_in_development_without_smtp_every_email_lands_in_instance_mail(
        make_app, app, make_user, make_event, make_ticket, connect, tmp_path):
    import email
    from email import policy

    from heysummit_tc.config import mail_problem
    from heysummit_tc.jobs import send_emails

    from helpers import post_webhook
    from orders import success

    default = make_app(APP_ENV="development")
    assert default.config["MAIL_SINK"] == str(Path(default.instance_path) / "mail")
    assert mail_problem(default.config) is None  # emails are on, into the sink
    assert default.config["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"

    sink = tmp_path / "mail"
    development = make_app(APP_ENV="development", MAIL_SINK=str(sink))
    event_id = make_event("Growth Summit", organiser=make_user("ada@example.com"))
    make_ticket(event_id, "All-Access Pass", "product-12", [("49.97", "USD")])
    connect(event_id)
    assert post_webhook(development.test_client(), success()).status_code == 200
    with development.app_context():
        assert send_emails() == {"sent": 1}
    [written] = sink.glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == "ada.lovelace@example.com"
    assert "http://127.0.0.1:8000/access/" in message.get_body(("plain",)).get_content()
