"""Slow clients cannot pin the app: gunicorn as gunicorn.conf.py configures it, and behind nginx
as deploy/ configures it.

Eight sockets send their headers and half a body, then stall. Meanwhile ``/healthz/live``
must keep answering within a second, time after time. nginx comes from Debian's package
(``.ci/run`` installs it); without it that test is skipped here, and ``REQUIRE_NGINX=1`` (set
by ``.ci/run``) makes its absence a failure.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import FIGURES, Gunicorn, free_port

REPO = Path(__file__).parent.parent
SLOW_CLIENTS = 8
CHECKS = 10


def stall(port, clients=SLOW_CLIENTS):
    """Open ``clients`` requests that send headers and half their body, then go quiet."""
    sockets = []
    for _ in range(clients):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(
            b"POST /api/webhooks/thrivecart/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000\r\n\r\n"
            + b"x" * 1000
        )
        sockets.append(connection)
    return sockets


def health_latencies(url):
    """Ask /healthz/live ``CHECKS`` times; return each answer's seconds (fails past 1 s)."""
    latencies = []
    for _ in range(CHECKS):
        started = time.monotonic()
        with urllib.request.urlopen(url + "/healthz/live", timeout=1) as response:
            assert response.status == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.2)
    return latencies


@pytest.fixture
def production_server(database_url, tmp_path):
    with Gunicorn(database_url, production=True, log_path=tmp_path / "gunicorn.log") as server:
        yield server


def test_trickling_clients_do_not_starve_gunicorn_as_configured(production_server):
    sockets = stall(production_server.port)
    try:
        time.sleep(0.5)  # let every stalled request reach a worker
        latencies = health_latencies(production_server.url)
    finally:
        for connection in sockets:
            connection.close()
    FIGURES.append(f"gunicorn.conf.py, {SLOW_CLIENTS} stalled bodies: /healthz/live max "
                   f"{max(latencies) * 1000:.0f} ms over {CHECKS} checks")
    assert max(latencies) < 1


def test_gunicorn_alone_gives_a_trickling_body_408_after_the_body_timeout(tmp_path):
    """More clients than gunicorn.conf.py has threads, each sending a byte a second: past
    GUNICORN_BODY_TIMEOUT each gets 408 and its connection is closed, and the app answers.
    No request reaches the database: one run, on an empty SQLite file."""
    database_url = f"sqlite:///{tmp_path / 'slow.db'}"
    clients = 40  # 4 workers x 8 threads on this machine's two cores: every thread, and more
    with Gunicorn(database_url, production=True, env={"GUNICORN_BODY_TIMEOUT": "1"},
                  log_path=tmp_path / "gunicorn.log") as server:
        sockets = []
        for _ in range(clients):
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            connection.sendall(
                b"POST /api/webhooks/thrivecart/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 2000\r\n\r\nx")
            sockets.append(connection)
        started = time.monotonic()
        answers = {}
        try:
            while len(answers) < clients and time.monotonic() - started < 20:
                for index, connection in enumerate(sockets):
                    if index in answers:
                        continue
                    try:
                        connection.sendall(b"x")  # a byte a second, never the whole body
                    except OSError:
                        pass
                    connection.settimeout(0.01)
                    try:
                        head = connection.recv(100)
                    except TimeoutError:
                        continue
                    except OSError:
                        head = b"reset"
                    answers[index] = (head.split(b"\r\n")[0], time.monotonic() - started)
                time.sleep(1)
            latencies = health_latencies(server.url)
        finally:
            for connection in sockets:
                connection.close()
    statuses = {line for line, _ in answers.values()}
    slowest = max(seconds for _, seconds in answers.values())
    FIGURES.append(f"gunicorn alone, {clients} bodies at a byte a second, "
                   f"GUNICORN_BODY_TIMEOUT=1: answered {statuses} within {slowest:.1f} s; "
                   f"then /healthz/live max {max(latencies) * 1000:.0f} ms")
    assert len(answers) == clients and statuses == {b"HTTP/1.1 408 Request Timeout"}
    # Threads taken in turn: the last waited for a thread, then had its second.
    assert slowest < 6
    assert max(latencies) < 1


def test_ctrl_c_stops_gunicorn_at_once_even_with_a_client_half_way_through_its_headers(
        tmp_path):
    """``make run``'s Ctrl+C: no 20 s wait for a thread stuck on a client, no SIGKILL. No
    request reaches the database: one run, on an empty SQLite file."""
    database_url = f"sqlite:///{tmp_path / 'ctrl-c.db'}"
    log_path = tmp_path / "gunicorn.log"
    with Gunicorn(database_url, workers=2, threads=2, log_path=log_path) as server:
        stuck = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        stuck.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
        time.sleep(0.5)  # a thread now waits for the rest of the headers
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=15)
        stopped = time.monotonic() - started
        stuck.close()
    FIGURES.append(f"gunicorn stopped by SIGINT with a client stuck mid-headers: {stopped:.1f} s")
    assert stopped < 5
    assert "SIGKILL" not in log_path.read_text()


def _nginx():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if found is None:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail("REQUIRE_NGINX=1 but nginx is not installed (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light): proxy test skipped")
    return found


@pytest.fixture
def nginx(production_server, tmp_path):
    """nginx on a free port with deploy/heysummit-proxy.conf, in front of the app."""
    binary = _nginx()
    port = free_port()
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / folder).mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    upstream heysummit {{ server 127.0.0.1:{production_server.port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        include {REPO / "deploy" / "heysummit-proxy.conf"};
    }}
}}
""")
    process = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(config),
                                "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url + "/healthz/live", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"nginx did not start: {process.stderr.read().decode()}") from None
            time.sleep(0.1)
    yield port, url
    process.terminate()
    process.wait(timeout=10)


def test_trickling_clients_wait_in_nginx_not_in_the_app(nginx, production_server):
    port, url = nginx
    # Four times as many as there are gunicorn threads would not even reach the app.
    sockets = stall(port, clients=SLOW_CLIENTS * 4)
    try:
        time.sleep(0.5)
        through_proxy = health_latencies(url)
        direct = health_latencies(production_server.url)
    finally:
        for connection in sockets:
            connection.close()
    FIGURES.append(f"nginx + gunicorn.conf.py, {SLOW_CLIENTS * 4} stalled bodies: "
                   f"/healthz/live max {max(through_proxy) * 1000:.0f} ms through nginx, "
                   f"{max(direct) * 1000:.0f} ms direct")
    assert max(through_proxy) < 1 and max(direct) < 1


def test_nginx_refuses_a_body_over_the_apps_limit(nginx):
    _port, url = nginx
    request = urllib.request.Request(url + "/api/webhooks/thrivecart/", data=b"x" * 300_000,
                                     method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 413
