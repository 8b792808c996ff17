"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

import sys

from heysummit_tc import create_app
from heysummit_tc.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One line that names what to set, not a traceback (gunicorn and the CLI alike).
    sys.exit(f"heysummit-tc: {error}")
