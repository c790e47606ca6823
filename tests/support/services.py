"""Real Redis and PostgreSQL servers for tests, and the ``--backend`` pytest option.

``RedisServer`` runs Debian's ``redis-server`` on a free localhost port with
persistence off; ``PostgresCluster`` runs ``initdb``/``pg_ctl`` from
``/usr/lib/postgresql/*/bin`` into a temporary directory, as the unprivileged
``postgres`` system user when the tests run as root (PostgreSQL refuses to
run as root), with a password-protected role and database for the project.

As a pytest plugin (``pytest_plugins`` in ``tests/conftest.py``) this module
adds ``--backend=sqlite|postgres-redis``. With ``postgres-redis`` both
servers start in ``pytest_configure``, before pytest-django creates the test
database, and Django's ``DATABASES``, ``CHANNEL_LAYERS`` and ``CACHES`` are
rebuilt from ``DATABASE_URL``/``REDIS_URL`` by re-running the settings
module, so the settings logic is the production one. Child processes (Daphne,
``manage.py``) inherit ``DATABASE_URL`` pointing at the *test* database.

Fixtures: ``redis_server`` and ``postgres_cluster`` (session-wide: the
ones the backend started, or fresh ones), ``backend`` (the option's value)
and ``postgres_redis`` (skips a test unless the backend is postgres-redis).
Tests that use the servers are marked ``services`` automatically.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import free_port, stop_process, wait_for_port

__all__ = [
    "BACKENDS",
    "PostgresCluster",
    "RedisServer",
    "postgres_bindir",
]

BACKENDS = ("sqlite", "postgres-redis")
#: The system user that runs PostgreSQL when the tests run as root.
POSTGRES_SYSTEM_USER = "postgres"
#: Seconds a server gets to start or stop before the fixture gives up.
START_TIMEOUT = 30.0
#: Name of the project's database and role in the cluster.
PROJECT_DB = "securemsg"


# --- Redis ---------------------------------------------------------------------


@dataclass
class RedisServer:
    """One ``redis-server`` on 127.0.0.1, no RDB snapshots, no AOF, state in ``directory``."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it answers on its port."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.directory),
                    "--daemonize", "no",
                    "--protected-mode", "yes",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for_port(self.port, timeout=START_TIMEOUT)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"redis-server did not start: {self.log()}") from None
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); nothing is saved."""
        stop_process(self.process)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop, wait ``down_for`` seconds, start again on the same port (empty state)."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        """What the server logged."""
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


# --- PostgreSQL ----------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb``."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(max(found, key=lambda p: int(Path(p).parts[-3].split(".")[0]))).parent


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix and account that run PostgreSQL (``postgres`` when root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise RuntimeError(
            "running as root needs the 'postgres' system user (apt-get install postgresql)"
        ) from None
    return ["runuser", "-u", POSTGRES_SYSTEM_USER, "--"], account


@dataclass
class PostgresCluster:
    """A throw-away PostgreSQL cluster: data, socket and log under ``directory``.

    The cluster listens on 127.0.0.1 and on a Unix socket in ``directory``;
    TCP connections need the password (SCRAM), the superuser connects
    through the socket only. Durability is off (``fsync=off``): the data is
    thrown away after the run.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    user: str = PROJECT_DB
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    database: str = PROJECT_DB
    bindir: Path = field(default_factory=postgres_bindir)
    started: bool = False

    @property
    def data_dir(self) -> Path:
        """The cluster's PGDATA."""
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        """Where the server puts its Unix socket."""
        return self.directory / "sock"

    def url(self, database: str | None = None) -> str:
        """``postgres://user:password@127.0.0.1:PORT/database`` (the project DB by default)."""
        name = database or self.database
        return f"postgres://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        prefix, _account = _run_as()
        result = subprocess.run(
            [*prefix, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.directory,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stdout}{result.stderr}")
        return result

    def start(self) -> PostgresCluster:
        """initdb, start the server, create the project role (password, CREATEDB) and DB."""
        _prefix, account = _run_as()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if account is not None:
            for path in (self.directory, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        if not self.data_dir.exists():
            self._run(
                str(self.bindir / "initdb"),
                "-D", str(self.data_dir),
                "-U", "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E", "UTF8",
                "--no-sync",
            )  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=200",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-l", str(self.directory / "postgres.log"),
            "-o", options,
            "-w", "-t", str(int(START_TIMEOUT)),
            "start",
        )  # fmt: skip
        self.started = True
        self.psql(
            f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD '{self.password}'",
            f"CREATE DATABASE {self.database} OWNER {self.user}",
        )
        return self

    def psql(self, *statements: str) -> str:
        """Run SQL as the superuser over the Unix socket; return psql's output."""
        argv = [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]
        argv += ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres"]
        argv += ["-d", "postgres"]
        for statement in statements:
            argv += ["-c", statement]
        return self._run(*argv).stdout

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster."""
        if self.started:
            self.started = False
            try:
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                    "stop",
                )  # fmt: skip
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        """What the server logged."""
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _tempdir(prefix: str) -> Path:
    # Not pytest's tmp_path: it lives under a 0700 directory the postgres user
    # cannot traverse. /tmp/<random> is reachable and chowned by the cluster.
    return Path(tempfile.mkdtemp(prefix=prefix))


def start_redis() -> RedisServer:
    """A started RedisServer in a fresh temporary directory."""
    return RedisServer(_tempdir("securemsg-redis-")).start()


def start_postgres() -> PostgresCluster:
    """A started PostgresCluster in a fresh temporary directory."""
    cluster = PostgresCluster(_tempdir("securemsg-pg-"))
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise


# --- The --backend option ------------------------------------------------------


@dataclass
class _Started:
    redis: RedisServer
    postgres: PostgresCluster


_STARTED = pytest.StashKey[_Started]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--backend``."""
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default="sqlite",
        help="database and channel layer of the integration tests: sqlite (SQLite and the "
        "in-memory layer, default) or postgres-redis (a real PostgreSQL cluster and "
        "redis-server started for the run)",
    )


def _use_services(postgres: PostgresCluster, redis: RedisServer) -> None:
    """Point Django (already set up by pytest-django) and child processes at the servers."""
    from django.conf import settings
    from django.core.cache import caches
    from django.db import connections

    os.environ["DATABASE_URL"] = postgres.url()
    os.environ["REDIS_URL"] = redis.url
    # Re-run the settings module so the values are exactly what production
    # builds from these URLs, then drop what django.setup() built from the
    # old ones (the handlers' parsed settings and the unopened SQLite wrapper).
    module = importlib.reload(importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]))
    for handler in (connections, caches):
        for alias in list(handler):
            with contextlib.suppress(AttributeError):
                del handler[alias]
        handler.__dict__.pop("settings", None)
        setattr(handler, "_settings", None)  # noqa: B010  # re-read from django.conf.settings
    for name in ("DATABASES", "REDIS_URL", "CHANNEL_LAYERS", "CACHES"):
        setattr(settings, name, getattr(module, name))
    # pytest-django creates test_<name>; servers started by tests must use it.
    os.environ["DATABASE_URL"] = postgres.url("test_" + postgres.database)


def pytest_configure(config: pytest.Config) -> None:
    """Start PostgreSQL and Redis for ``--backend=postgres-redis``."""
    if config.getoption("help", False) or config.getoption("--backend") != "postgres-redis":
        return
    redis = start_redis()
    try:
        postgres = start_postgres()
    except BaseException:
        redis.stop()
        raise
    config.stash[_STARTED] = _Started(redis, postgres)
    _use_services(postgres, redis)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop what pytest_configure started."""
    started = config.stash.get(_STARTED, None)
    if started is not None:
        del config.stash[_STARTED]
        started.postgres.stop()
        started.redis.stop()
        shutil.rmtree(started.redis.directory, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which backend this run uses."""
    return f"securemsg backend: {config.getoption('--backend')}"


_SERVICE_FIXTURES = frozenset({"redis_server", "postgres_cluster", "postgres_redis"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a real server ``services``."""
    for item in items:
        if _SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


# --- Fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The ``--backend`` of this run."""
    return str(request.config.getoption("--backend"))


@pytest.fixture(scope="session")
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A running redis-server: the backend's, or one started for this session."""
    started = request.config.stash.get(_STARTED, None)
    if started is not None:
        yield started.redis
        return
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster(request: pytest.FixtureRequest) -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster: the backend's, or one started for this session."""
    started = request.config.stash.get(_STARTED, None)
    if started is not None:
        yield started.postgres
        return
    cluster = start_postgres()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session", autouse=True)
def _postgres_test_db_dropped(request: pytest.FixtureRequest) -> Iterator[None]:
    """On postgres-redis, end stray sessions so the test database can be dropped.

    Connections that ``sync_to_async`` opened in executor threads outlive the
    tests; PostgreSQL refuses to drop a database with sessions on it.
    Requesting ``django_db_setup`` here makes this teardown run before its.
    """
    started = request.config.stash.get(_STARTED, None)
    if started is None:
        yield
        return
    request.getfixturevalue("django_db_setup")
    yield
    started.postgres.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = 'test_{started.postgres.database}' AND pid <> pg_backend_pid()"
    )


@pytest.fixture
def postgres_redis(
    request: pytest.FixtureRequest, backend: str
) -> tuple[PostgresCluster, RedisServer]:
    """Skip unless Django itself runs on PostgreSQL + Redis (``--backend=postgres-redis``)."""
    if backend != "postgres-redis":
        pytest.skip("needs --backend=postgres-redis (scripts/test runs that pass)")
    postgres: PostgresCluster = request.getfixturevalue("postgres_cluster")
    redis: RedisServer = request.getfixturevalue("redis_server")
    return postgres, redis
