"""A deadline for reading a request's body, when gunicorn serves the app without a proxy.

gunicorn reads a body on the worker thread that serves the request, with no timeout: a client
that sends a byte a second holds that thread for as long as it likes, and a few dozen such
clients hold every thread there is. The production path is a proxy that buffers bodies
(``deploy/``); this bounds the damage where a client reaches gunicorn directly.
``gunicorn.conf.py`` wraps each worker's app in :class:`BodyDeadline`.
"""

import heapq
import io
import itertools
import socket
import threading
import time

TIMEOUT_BODY = b"The request body did not arrive in time.\n"


class BodyDeadline:
    """WSGI middleware: read the whole body (up to ``limit`` + 1 bytes) within ``seconds``,
    or answer 408 and close the connection.

    The body is read before the app runs, into memory (it is at most ``limit`` + 1 bytes, the
    app's own MAX_CONTENT_LENGTH plus the byte that tells a body too large), while a
    watchdog thread holds the deadline: past it, the socket's reading side is shut, which
    ends the blocked read at once. Requests without a body pass straight through.
    """

    def __init__(self, app, *, seconds, limit):
        self.app = app
        self.seconds = seconds
        self.limit = limit
        self.watchdog = _Watchdog()

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if sock is None or not (chunked or environ.get("CONTENT_LENGTH", "0") not in ("", "0")):
            return self.app(environ, start_response)
        ticket = self.watchdog.watch(sock, time.monotonic() + self.seconds)
        try:
            body = _read_up_to(environ["wsgi.input"], self.limit + 1)
        except Exception:
            if self.watchdog.release(ticket):
                raise  # not the deadline: the client went away, as the app would have seen
            return self._too_slow(start_response)
        if not self.watchdog.release(ticket):
            return self._too_slow(start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        if len(body) > self.limit:
            # The rest is left unread: the connection cannot carry another request.
            def closing_start_response(status, headers, exc_info=None):
                return start_response(status, [*headers, ("Connection", "close")], exc_info)

            return self.app(environ, closing_start_response)
        return self.app(environ, start_response)

    @staticmethod
    def _too_slow(start_response):
        start_response("408 Request Timeout", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close"),
            ("Content-Length", str(len(TIMEOUT_BODY)))])
        return [TIMEOUT_BODY]


def _read_up_to(stream, size):
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, 65536))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _Watchdog:
    """One thread per process that shuts the reading side of sockets past their deadline."""

    def __init__(self):
        self._heap = []
        self._watched = {}
        self._numbers = itertools.count()
        self._wake = threading.Condition()
        self._thread = None

    def watch(self, sock, deadline):
        number = next(self._numbers)
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                # Started in the worker, after the fork: a thread does not survive one.
                self._thread = threading.Thread(target=self._run, name="body-deadline",
                                                daemon=True)
                self._thread.start()
            self._watched[number] = sock
            heapq.heappush(self._heap, (deadline, number))
            if self._heap[0][1] == number:
                self._wake.notify()
        return number

    def release(self, number):
        """Stop watching; return False if the deadline had passed and the socket was shut."""
        with self._wake:
            return self._watched.pop(number, None) is not None

    def _run(self):
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, number = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                sock = self._watched.pop(number, None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # closed meanwhile
