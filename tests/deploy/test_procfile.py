"""The Procfile's release and web commands, run as docs/deploy.md describes (SQLite here; PostgreSQL in CI too)."""

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile():
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_env(tmp_path):
    unset = {"DEBUG", "HTTPS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        PATH=f"{BIN}:{env['PATH']}",
        SECRET_KEY="procfile-test-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        HTTPS="1",
        BEHIND_PROXY="1",
        PORT=str(free_port()),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="WARNING",
    )
    return env


def test_build_release_and_web_commands_serve_the_site(production_env):
    env = production_env
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True, "timeout": 300}
    build = subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], **run)
    assert build.returncode == 0, build.stderr
    release = subprocess.run(["bash", "-c", procfile()["release"]], **run)
    assert release.returncode == 0, release.stdout + release.stderr
    seed = subprocess.run([sys.executable, "manage.py", "load_seed", "-v0"], **run)
    assert seed.returncode == 0, seed.stderr

    web = subprocess.Popen(["bash", "-c", "exec " + procfile()["web"]], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not answer /healthz")
        # Behind the proxy, HTTPS requests are served; the CSS comes from whitenoise's hashed files.
        request = urllib.request.Request(
            f"{base}/treatment/stage-iv-recurrent-pleural-mesothelioma/", headers={"X-Forwarded-Proto": "https"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
            assert response.status == 200 and "Strict-Transport-Security" in response.headers
        css = page.split('rel="stylesheet" href="')[1].split('"')[0]
        assert css != "/static/css/site.css" and css.endswith(".css")  # hashed by ManifestStaticFilesStorage
        with urllib.request.urlopen(urllib.request.Request(base + css, headers={"X-Forwarded-Proto": "https"})) as r:
            assert r.status == 200 and "immutable" in r.headers.get("Cache-Control", "")
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_procfile_commands_are_the_documented_ones():
    commands = procfile()
    assert set(commands) == {"release", "web"}
    assert "migrate --no-input" in commands["release"] and "check --deploy" in commands["release"]
    assert shlex.split(commands["web"])[:2] == ["gunicorn", "mesoinfo.wsgi"]
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for command in commands.values():
        assert command in deploy
