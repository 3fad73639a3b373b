"""When the database goes away: a friendly 503 (never a traceback), /healthz says so, and the site
recovers by itself when the database is back.

The end-to-end test runs the real server (gunicorn, DEBUG off) against PostgreSQL through a small TCP
proxy, then cuts and restores the connection at the TCP level. It needs PostgreSQL and is skipped on
SQLite. The unit tests below run on either database.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import OperationalError, ProgrammingError, connection

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_DB = "mesoinfo_outage"
FRIENDLY_HEADING = "MesoInfo is briefly unavailable"
# What must never reach a visitor: Python's traceback format, exception names, SQL, connection details.
LEAKS = ["Traceback", 'File "', "OperationalError", "psycopg2", "could not connect", "Connection refused", "SELECT"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TCPProxy:
    """Forwards 127.0.0.1:<port> to `upstream`; stop() closes the listener and every connection.

    While `frozen` is set, everything is silently dropped in both directions and the sockets stay open.
    """

    def __init__(self, upstream, port=None):
        self.upstream = upstream
        self.port = port or free_port()
        self.frozen = threading.Event()
        self._listener = None
        self._stopped = threading.Event()
        self._sockets = set()
        self._threads = []
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)  # the accept loop notices stop() within this time
        self._listener = listener
        self._stopped.clear()
        self._spawn(self._accept_loop, listener)

    def stop(self):
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            self._close(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        assert not self._threads, "proxy threads did not stop"

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener):
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                self._close(client)
                continue
            client.settimeout(None)
            with self._lock:
                if self._stopped.is_set():
                    self._close(client)
                    self._close(server)
                    return
                self._sockets.update({client, server})
            self._spawn(self._pump, client, server)
            self._spawn(self._pump, server, client)

    def _pump(self, source, destination):
        try:
            while data := source.recv(65536):
                if not self.frozen.is_set():
                    destination.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(destination)

    @staticmethod
    def _close(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def fetch(url, timeout=10):
    """(status, headers, body) for a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


def wait_for(condition, timeout, interval=0.25):
    """Poll `condition` until it returns something truthy, or give up after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except OSError as error:  # not listening yet, reset while the database is away, ...
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout} s; last result: {last!r}")


def assert_friendly_503(status, headers, body):
    assert status == 503, body[:500]
    assert FRIENDLY_HEADING in body
    assert re.search(r"<title>[^<]*unavailable[^<]*</title>", body, re.I), body[:300]
    assert headers.get("Retry-After", "").isdigit()
    assert "text/html" in headers.get("Content-Type", "")
    for leak in LEAKS:
        assert leak not in body, leak


@pytest.fixture
def postgres_server():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the outage is made by cutting a TCP connection to the database server")
    database = settings.DATABASES["default"]
    return {
        "host": database.get("HOST") or "127.0.0.1",
        "port": int(database.get("PORT") or 5432),
        "user": database.get("USER") or "postgres",
        "password": database.get("PASSWORD") or "",
    }


def _admin_sql(server, *statements):
    conn = psycopg2.connect(
        host=server["host"], port=server["port"], user=server["user"], password=server["password"],
        dbname="postgres", connect_timeout=10,
    )  # fmt: skip
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def _stop(process):
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # gunicorn and its worker: the group we started
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_site_serves_a_friendly_503_while_the_database_is_down_and_recovers_by_itself(postgres_server, tmp_path):
    server = postgres_server
    proxy = TCPProxy((server["host"], server["port"]))
    credentials = server["user"] + (f":{server['password']}" if server["password"] else "")
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL"}}
    env.update(
        DEBUG="0", HTTPS="0", SECRET_KEY="outage-test-" + "k" * 40, ALLOWED_HOSTS="127.0.0.1", CACHE_URL="dummy://",
        DATABASE_URL=f"postgres://{credentials}@127.0.0.1:{proxy.port}/{OUTAGE_DB}", LOG_LEVEL="WARNING",
        CONN_MAX_AGE="0", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    gunicorn = None
    _admin_sql(server, f"DROP DATABASE IF EXISTS {OUTAGE_DB} WITH (FORCE)", f"CREATE DATABASE {OUTAGE_DB}")
    try:
        proxy.start()
        manage = [sys.executable, "manage.py"]
        for command, timeout in [
            (["migrate", "--no-input", "-v0"], 300),
            (["load_seed", "-v0"], 120),
            # DEBUG off uses the hashed-name manifest that collectstatic writes (STATIC_ROOT, git-ignored).
            (["collectstatic", "--no-input", "-v0"], 120),
        ]:
            result = subprocess.run(
                manage + command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
            assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"

        with log.open("w") as output:
            gunicorn = subprocess.Popen(
                [str(ROOT / ".venv/bin/gunicorn"), "mesoinfo.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
                 "--timeout", "30", "--graceful-timeout", "5"],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: fetch(f"{base}/healthz", timeout=3)[0] == 200, timeout=30)

        # Up: pages and health check.
        status, _, home = fetch(f"{base}/")
        assert status == 200
        overview = re.search(r'href="(/treatment/[-\w]+/)"', home).group(1)
        status, _, body = fetch(base + overview)
        assert status == 200 and "<h1>" in body
        status, _, health = fetch(f"{base}/healthz")
        assert (status, json.loads(health)["database"]) == (200, "ok")

        # Down: the listener and every open connection close, as when the database server goes away.
        proxy.stop()
        for path in [overview, "/", "/drugs/"]:
            assert_friendly_503(*fetch(base + path))
        status, _, health = fetch(f"{base}/healthz")
        assert status == 503
        assert json.loads(health)["status"] == "error"
        assert json.loads(health)["database"].startswith("error")

        # Back: the same address answers again and the site recovers with no restart.
        proxy.start()
        started = time.monotonic()
        wait_for(lambda: fetch(base + overview, timeout=5)[0] == 200, timeout=15)
        assert time.monotonic() - started < 15
        status, _, health = fetch(f"{base}/healthz")
        assert (status, json.loads(health)["database"]) == (200, "ok")
        assert gunicorn.poll() is None, "the server must not have died"
    except BaseException:
        if log.exists():
            print("--- gunicorn log ---\n" + log.read_text()[-5000:])
        raise
    finally:
        _stop(gunicorn)
        proxy.stop()
        _admin_sql(server, f"DROP DATABASE IF EXISTS {OUTAGE_DB} WITH (FORCE)")


def test_proxy_really_cuts_and_restores_connections(postgres_server):
    """The tool the end-to-end test relies on: an open connection dies on stop(), a new one works after start()."""
    proxy = TCPProxy((postgres_server["host"], postgres_server["port"]))

    def connect():
        return psycopg2.connect(
            host="127.0.0.1", port=proxy.port, user=postgres_server["user"], password=postgres_server["password"],
            dbname="postgres", connect_timeout=5,
        )  # fmt: skip

    try:
        proxy.start()
        conn = connect()
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        proxy.stop()
        with pytest.raises(psycopg2.Error):
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        with pytest.raises(psycopg2.OperationalError):
            connect()
        conn.close()
        proxy.start()
        conn = connect()
        with conn.cursor() as cursor:
            cursor.execute("SELECT 2")
            assert cursor.fetchone() == (2,)
        conn.close()
    finally:
        proxy.stop()


# --- unit level: the error handler, with the test client ------------------------------------------------------


@pytest.fixture
def unsafe_client(client):
    client.raise_request_exception = False  # answer as the server would, instead of re-raising in the test
    return client


def _raise(error):
    def view_part(*args, **kwargs):
        raise error

    return view_part


@pytest.mark.django_db
def test_database_error_while_the_database_is_unreachable_is_a_friendly_503(unsafe_client, monkeypatch, caplog):
    monkeypatch.setattr("treatments.views.DrugListView.get_queryset", _raise(OperationalError("connection refused")))
    monkeypatch.setattr("mesoinfo.views._database_reachable", lambda: False)
    response = unsafe_client.get("/drugs/")
    assert_friendly_503(response.status_code, response.headers, response.content.decode())
    assert any(record.getMessage() == "database unavailable" for record in caplog.records)


@pytest.mark.django_db
def test_database_error_while_the_database_is_reachable_is_a_500(unsafe_client, monkeypatch):
    """A failing query (a bug, not an outage) is not reported to visitors as a temporary outage."""
    monkeypatch.setattr("treatments.views.DrugListView.get_queryset", _raise(ProgrammingError("no such column")))
    response = unsafe_client.get("/drugs/")
    body = response.content.decode()
    assert response.status_code == 500
    assert FRIENDLY_HEADING not in body and "Something went wrong" in body
    assert "Retry-After" not in response.headers
    for leak in [*LEAKS, "ProgrammingError", "no such column"]:
        assert leak not in body


@pytest.mark.django_db
def test_other_errors_are_a_plain_500_without_a_traceback(unsafe_client, monkeypatch):
    monkeypatch.setattr("treatments.views.DrugListView.get_queryset", _raise(RuntimeError("secret detail")))
    response = unsafe_client.get("/drugs/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body and FRIENDLY_HEADING not in body
    for leak in [*LEAKS, "RuntimeError", "secret detail"]:
        assert leak not in body


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_database_as_503(client, monkeypatch):
    class DeadConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("mesoinfo.views.connection", DeadConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["database"] == "error: OperationalError"
