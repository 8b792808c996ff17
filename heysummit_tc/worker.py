"""The background worker's entry point: ``huey_consumer heysummit_tc.worker.huey``.

It builds the app from the environment (as ``wsgi.py`` does) and the queue the app's
``JOBS_URL`` names.
"""

from . import create_app
from .jobs import queue_for

app = create_app()
huey = queue_for(app)
