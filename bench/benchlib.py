"""Shared helpers for bench/generate.py, bench/run.py and bench/loadtest.py.

- the benchmark database (only databases whose name starts with ``mesoinfo_bench`` are ever created or dropped);
- the environment a benchmark process runs with (production settings: DEBUG=0, random SECRET_KEY, HTTPS=0);
- starting and stopping gunicorn on 127.0.0.1, and reading its workers' peak memory from /proc;
- two load generators, both bounded in time: `wrk` (C, preferred) and a stdlib asyncio HTTP/1.1 keep-alive client.

Every request goes to 127.0.0.1 only. Not a test module: pytest does not collect bench/.
"""

import asyncio
import http.client
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # scripts run as .venv/bin/python bench/...
HOST = "127.0.0.1"  # the only address any benchmark ever talks to
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# BENCH_DATABASE=mesoinfo_bench_<name> gives a machine shared by several people a dataset each.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "mesoinfo_bench")
WRK_HINT = (
    "wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu) for lighter, more accurate "
    "load generation; falling back to the stdlib asyncio generator in bench/benchlib.py."
)
_SECRET_KEY = secrets.token_urlsafe(50)  # one random key per benchmark run, never stored


# --- Database ---------------------------------------------------------------


def check_bench_database(name):
    if not re.fullmatch(r"mesoinfo_bench[a-z0-9_]*", name):
        raise SystemExit(f"refusing to touch database {name!r}: benchmark databases are named mesoinfo_bench*")


def database_url(name, server_url=SERVER_URL):
    check_bench_database(name)
    if not server_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_SERVER_URL must be a postgres:// URL")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _maintenance(server_url=SERVER_URL):
    import psycopg2

    connection = psycopg2.connect(server_url)
    connection.autocommit = True
    return connection


def database_exists(name, server_url=SERVER_URL):
    check_bench_database(name)
    connection = _maintenance(server_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def recreate_database(name, server_url=SERVER_URL):
    """Drop (if present) and create the benchmark database. Refuses any name not starting with mesoinfo_bench."""
    check_bench_database(name)
    connection = _maintenance(server_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def drop_database(name, server_url=SERVER_URL):
    check_bench_database(name)
    connection = _maintenance(server_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


# --- Environment ------------------------------------------------------------


def django_env(database, static_root=None, cache_url="", conn_max_age=60, **extra):
    """Production-like settings for a benchmark process (the app reads only environment variables)."""
    env = dict(os.environ)
    for name in ("SITE_URL", "BEHIND_PROXY", "CSRF_TRUSTED_ORIGINS", "SECURE_HSTS_SECONDS", "MEDIA_ROOT"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="mesoinfo.settings",
        SECRET_KEY=_SECRET_KEY,
        DEBUG="0",
        HTTPS="0",
        ALLOWED_HOSTS=HOST,
        SITE_URL=f"http://{HOST}",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url(database),
        CACHE_URL=cache_url,
        # 60 is docs/deploy.md's production value (persistent connections); run.py also measures 0, the default.
        CONN_MAX_AGE=str(conn_max_age),
    )
    if static_root is not None:
        env["STATIC_ROOT"] = str(static_root)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def free_port():
    """A free TCP port on 127.0.0.1 (ephemeral range: always 5 digits, so page sizes do not depend on it)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port >= 10000:
            return port
    raise RuntimeError("no free 5-digit port")


def collectstatic(env):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
    )


def build_pages(env, jobs=None):
    """`manage.py build_pages` with the servers' settings: every public page whose current version was not
    rendered by this release (code, templates, static files, SITE_URL) is rendered and stored now, so that no
    measured request renders one. Quick when every page is current."""
    jobs = jobs or os.cpu_count() or 1
    subprocess.run([sys.executable, "manage.py", "build_pages", "--jobs", str(jobs)], env=env, cwd=ROOT, check=True)


# --- gunicorn ---------------------------------------------------------------


def _proc_status(pid):
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            values[name] = value.strip()
    except OSError:
        pass
    return values


def _children(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def memory_kib(pid):
    """(peak resident set VmHWM, current VmRSS) of one process in KiB."""
    status = _proc_status(pid)
    return tuple(int(status.get(name, "0 kB").split()[0]) for name in ("VmHWM", "VmRSS"))


def procfile_web_command(port, env):
    """The Procfile's `web` command (what production runs), bound to 127.0.0.1:port instead of 0.0.0.0.

    ${VAR:-default} is expanded from `env` (WEB_CONCURRENCY, WEB_THREADS), as the shell would.
    """
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)
    expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], lines["web"])
    args = shlex.split(expanded)
    if args[0] != "gunicorn" or "--bind" not in args:
        raise RuntimeError(f"unexpected Procfile web command: {lines['web']}")
    args[0] = str(BIN / "gunicorn")
    args[args.index("--bind") + 1] = f"{HOST}:{port}"  # loopback only
    return args + ["--chdir", str(ROOT), "--log-level", "warning", "--error-logfile", "-"]


def gunicorn_option(command, name, default=None):
    return command[command.index(name) + 1] if name in command else default


class Gunicorn:
    """gunicorn (the Procfile's web command) on 127.0.0.1:port; a context manager that always stops it.

    While it runs, a thread samples every worker's peak resident memory (VmHWM) twice a second, so workers
    replaced by --max-requests are counted too.
    """

    def __init__(self, env, port, label="gunicorn", extra_args=()):
        self.env, self.port, self.label = env, port, label
        self.command = procfile_web_command(port, env) + list(extra_args)
        self.process = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{label}-", suffix=".log", delete=False)
        self.peak_kib = {}  # worker pid -> highest VmHWM seen
        self._stop_sampling = threading.Event()
        self._sampler = None

    def describe(self):
        workers, threads = gunicorn_option(self.command, "--workers"), gunicorn_option(self.command, "--threads")
        worker_class = gunicorn_option(self.command, "--worker-class", "sync")
        return f"{workers} workers × {threads} threads ({worker_class})"

    def start(self, ready_within=60):
        self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=self.log, stderr=self.log)
        workers = int(gunicorn_option(self.command, "--workers", "1"))
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _, _, _ = fetch(self.port, "/healthz", timeout=5)
                if status == 200 and len(self.worker_pids()) >= workers:
                    self._sampler = threading.Thread(target=self._sample, daemon=True)
                    self._sampler.start()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within {ready_within}s:\n{self.log_tail()}")

    def _sample(self):
        while not self._stop_sampling.wait(0.5):
            for pid in self.worker_pids():
                hwm, _ = memory_kib(pid)
                self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), hwm)

    def worker_pids(self):
        return _children(self.process.pid) if self.process else []

    def peak_rss_mib(self):
        """The highest peak resident set (VmHWM) of any worker so far, in MiB."""
        for pid in self.worker_pids():
            self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), memory_kib(pid)[0])
        return max(self.peak_kib.values(), default=0) / 1024

    def worker_ticks(self):
        processes = _process_ticks()
        return {pid: processes[pid][2] for pid in self.worker_pids() if pid in processes}

    def workers_seen(self):
        return len(self.peak_kib)

    def stop(self):
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=5)
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: gunicorn stops its own workers
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines=30):
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            os.unlink(self.log.name)
        else:
            print(f"{self.label}: gunicorn's log is kept at {self.log.name}", file=sys.stderr)


# --- Other processes' CPU use -----------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_ticks():
    """{pid: (parent pid, name, CPU ticks)} for every process; ticks include its reaped children's."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name == "postgres":  # its title names the database a backend serves
            try:
                name = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                pass
        fields = stat.rsplit(")", 1)[1].split()  # fields[1] ppid; [11..14] utime stime cutime cstime
        processes[int(entry.name)] = (int(fields[1]), name, sum(int(value) for value in fields[11:15]))
    return processes


class CpuWatch:
    """CPU time used while the benchmark measures, by who used it.

    - server: gunicorn (master and workers, including workers replaced meanwhile: the master's reaped children);
    - postgres: the PostgreSQL backends serving the benchmark's database (`database`) while they run, and the
      postmaster, which is charged with every backend that exits (with CONN_MAX_AGE=0, one per request; also
      other databases' backends, if other programs open and close connections meanwhile);
    - generator: this process and the wrk it ran;
    - other: everything else (another test suite, other databases' backends...), which competes for the cores.
    """

    database = BENCH_DATABASE  # whose PostgreSQL backends count as the benchmark's

    def __init__(self):
        self.started, self.before = time.monotonic(), _process_ticks()

    @classmethod
    def _category(cls, pid, processes, me):
        parent, name, _ = processes[pid]
        if pid == me:
            return "generator"
        if name.startswith("postgres:"):
            return "postgres" if f" {cls.database} " in name else "other"
        if "bin/postgres" in name:  # the postmaster: its reaped children are the backends that have exited
            return "postgres"
        current = parent
        while current and current in processes:
            if current == me:
                return "generator" if name == "wrk" else "server"
            current = processes[current][0]
        return "other"

    def usage(self):
        """{category: CPU seconds} since the watch started, and the elapsed seconds."""
        after, seconds, me = _process_ticks(), time.monotonic() - self.started, os.getpid()
        used = dict.fromkeys(("server", "postgres", "generator", "other"), 0.0)
        for pid, (_, _, ticks) in after.items():
            used[self._category(pid, after, me)] += (ticks - self.before.get(pid, (0, "", 0))[2]) / CLOCK_TICKS
        # A process that ended meanwhile: its parent's reaped-children ticks now hold its whole life, of which the
        # part before the watch started must not be counted.
        for pid in self.before.keys() - after.keys():
            parent = self.before[pid][0]
            reaper = parent if parent in self.before else pid
            used[self._category(reaper, self.before, me)] -= self.before[pid][2] / CLOCK_TICKS
        return used, seconds

    def other_cores(self):
        used, seconds = self.usage()
        return used["other"] / seconds if seconds else 0.0


def wait_for_quiet(max_wait, threshold=0.15, sample=3.0):
    """Wait (at most max_wait seconds) until other processes use under `threshold` cores; returns the last use."""
    deadline = time.monotonic() + max_wait
    while True:
        watch = CpuWatch()
        time.sleep(sample)
        other = watch.other_cores()
        if other < threshold or time.monotonic() >= deadline:
            return other
        print(f"  machine busy: other processes use {other:.2f} cores; waiting…", flush=True)


# --- One request ------------------------------------------------------------


def fetch(port, path, timeout=120, method="GET"):
    """(status, headers, body, seconds) for one request to 127.0.0.1:port, on a new connection."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request(method, path, headers={"Host": f"{HOST}:{port}"})
        response = connection.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body, time.perf_counter() - started
    finally:
        connection.close()


# --- Load results -----------------------------------------------------------


@dataclass
class LoadResult:
    tool: str
    requests: int = 0
    seconds: float = 0.0
    bytes: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    other_cores: float = 0.0  # CPU used meanwhile by processes outside the benchmark (CpuWatch)
    busiest_worker_share: float | None = None  # share of the workers' CPU time used by the busiest one
    cpu_seconds: dict = field(default_factory=dict)  # CpuWatch.usage(): server, postgres, generator, other
    errors: Counter = field(default_factory=Counter)  # connect, read, write, timeout, status (>=400), 5xx ...
    statuses: Counter = field(default_factory=Counter)
    page_cache: Counter = field(default_factory=Counter)  # X-Page-Cache of public pages: hit / miss (stdlib only)
    by_label: dict = field(default_factory=dict)  # label -> LoadResult (stdlib generator only)

    @property
    def rps(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_ms(self):
        """CPU time gunicorn and PostgreSQL spent per response (ms): cost, whatever else ran meanwhile."""
        used = self.cpu_seconds.get("server", 0.0) + self.cpu_seconds.get("postgres", 0.0)
        return used / self.requests * 1000 if self.requests else 0.0

    @property
    def error_count(self):
        return sum(self.errors.values())

    @property
    def hit_rate(self):
        """Share of the public pages answered without rendering (from the page cache or a stored version)."""
        answered = self.page_cache["hit"] + self.page_cache["miss"]
        return self.page_cache["hit"] / answered if answered else None


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --- wrk --------------------------------------------------------------------

# wrk's --latency prints 50/75/90/99 only; this script prints the percentiles we report, and the error counts.
_WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50=%d p90=%d p95=%d p99=%d max=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def have_wrk():
    return shutil.which("wrk") is not None


def run_wrk(port, path, duration, connections, threads=1, timeout=60):
    """Closed-loop keep-alive load on one URL for `duration` seconds (wrk stops by itself)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s",
            "-s", script.name, f"http://{HOST}:{port}{path}",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 30).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"BENCH-RESULT (.*)", output)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    values = {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    result = LoadResult(
        tool="wrk",
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        bytes=values["bytes"],
        **{f"{name}_ms": values[name] / 1000 for name in ("p50", "p90", "p95", "p99", "max")},
    )
    for name in ("connect", "read", "write", "status", "timeout"):
        if values[name]:
            result.errors[name] = values[name]
    return result


# --- stdlib asyncio load generator ------------------------------------------


class _Stats:
    def __init__(self):
        self.latencies, self.bytes, self.statuses, self.errors = [], 0, Counter(), Counter()
        self.page_cache = Counter()  # X-Page-Cache: "hit" (answered without rendering) or "miss" (rendered)


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    size = 0
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            chunk_size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if chunk_size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            await reader.readexactly(chunk_size + 2)
            size += chunk_size
    elif "content-length" in headers:
        size = int(headers["content-length"])
        await reader.readexactly(size)
    else:  # body until close
        size = len(await reader.read())
        return status, size, False, headers.get("x-page-cache")
    keep_alive = headers.get("connection", "").lower() != "close"
    return status, size, keep_alive, headers.get("x-page-cache")


async def _client(port, choose, deadline, timeout, stats):
    reader = writer = None

    def close():
        nonlocal reader, writer
        if writer is not None:
            writer.close()
        reader = writer = None

    while time.monotonic() < deadline:  # no new request after the deadline; each one is bounded by `timeout`
        label, path = choose()
        entry = stats.setdefault(label, _Stats())
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            except (OSError, TimeoutError):
                entry.errors["connect"] += 1
                close()
                await asyncio.sleep(0.05)
                continue
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: mesoinfo-bench\r\n\r\n".encode()
        started = time.perf_counter()
        try:
            writer.write(request)
            status, size, keep_alive, page_cache = await asyncio.wait_for(_read_response(reader), timeout)
        except TimeoutError:
            entry.errors["timeout"] += 1
            close()
            continue
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            entry.errors["connection"] += 1
            close()
            continue
        entry.latencies.append(time.perf_counter() - started)
        entry.bytes += size
        entry.statuses[status] += 1
        if page_cache:
            entry.page_cache[page_cache] += 1
        if status >= 500:
            entry.errors["5xx"] += 1
        elif status >= 400:
            entry.errors["4xx"] += 1
        if not keep_alive:
            close()
    close()


def _summarise(tool, stats_list, seconds):
    result = LoadResult(tool=tool, seconds=seconds)
    latencies = []
    for stats in stats_list:
        latencies += stats.latencies
        result.bytes += stats.bytes
        result.statuses.update(stats.statuses)
        result.errors.update(stats.errors)
        result.page_cache.update(stats.page_cache)
    latencies.sort()
    result.requests = len(latencies)
    for name, pct in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        setattr(result, f"{name}_ms", percentile(latencies, pct) * 1000)
    result.max_ms = (latencies[-1] if latencies else 0) * 1000
    return result


def run_python_load(port, targets, duration, connections, timeout=30, seed=1):
    """`connections` keep-alive clients for `duration` seconds; `targets` is [(label, path, weight)].

    Returns a LoadResult for everything, with one per label in `by_label`. Errors are non-2xx/3xx statuses
    (4xx, 5xx), connection failures and requests slower than `timeout` seconds.
    """
    labels = [label for label, _, _ in targets]
    paths = {label: path for label, path, _ in targets}
    weights = [weight for _, _, weight in targets]
    stats = {}

    async def main():
        deadline = time.monotonic() + duration
        clients = []
        for n in range(connections):
            rng = random.Random(seed * 1000 + n)

            def choose(rng=rng):
                label = rng.choices(labels, weights)[0]
                path = paths[label]
                return label, path() if callable(path) else path

            clients.append(_client(port, choose, deadline, timeout, stats))
        await asyncio.gather(*clients)

    started = time.monotonic()
    asyncio.run(main())
    seconds = time.monotonic() - started
    result = _summarise("python-asyncio", stats.values(), seconds)
    result.by_label = {label: _summarise("python-asyncio", [stats[label]], seconds) for label in stats}
    return result


def run_load(port, path, duration, connections, timeout=60, tool="auto"):
    """One URL under closed-loop load: wrk when installed (or asked for), else the stdlib generator."""
    watch = CpuWatch()
    if tool == "wrk" or (tool == "auto" and have_wrk()):
        result = run_wrk(port, path, duration, connections, timeout=timeout)
    else:
        result = run_python_load(port, [(path, path, 1)], duration, connections, timeout=timeout)
    result.cpu_seconds, seconds = watch.usage()
    result.other_cores = result.cpu_seconds["other"] / seconds
    return result
