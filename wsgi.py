"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from heysummit_tc import create_app

app = create_app()
