"""Dependencies the app can do without for a while (Redis), and one log line per outage.

A dependency that is down would otherwise log once per request that touches it, which floods
the log exactly when someone is reading it. :class:`Outage` says it once when it goes and once
when it is back, per process.
"""

import logging
import threading

log = logging.getLogger(__name__)


class Outage:
    """The state of one dependency in this process: reachable, or down since an error."""

    def __init__(self, name, consequence):
        self.name = name
        self.consequence = consequence  # what the app does meanwhile, said in the warning
        self.down = False
        self._lock = threading.Lock()

    def failed(self, error):
        """Note a failed call; the first of an outage logs one warning (no traceback)."""
        with self._lock:
            if self.down:
                return
            self.down = True
        log.warning("%s is unreachable (%s): %s until it is back",
                    self.name, type(error).__name__, self.consequence)

    def succeeded(self):
        """Note a call that worked; the first after an outage logs that it is over."""
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.warning("%s is reachable again", self.name)
