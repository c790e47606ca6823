"""The real-server fixtures: Redis and PostgreSQL start, answer, and keep their promises."""

from __future__ import annotations

import os
import pwd

import psycopg
import pytest
import redis

from tests.support.services import PostgresCluster, RedisServer


def test_redis_answers_and_keeps_nothing_across_a_restart(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("securemsg:probe", "1")
        assert client.get("securemsg:probe") == b"1"
        config = client.config_get("save") | client.config_get("appendonly")
        assert config == {"save": "", "appendonly": "no"}
    finally:
        client.close()


def test_postgres_requires_the_password_over_tcp(postgres_cluster: PostgresCluster) -> None:
    with psycopg.connect(postgres_cluster.url(), connect_timeout=10) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
        assert row == (postgres_cluster.user, postgres_cluster.database)
        can_create = conn.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert can_create == (True,)
    wrong = postgres_cluster.url().replace(postgres_cluster.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)


def test_postgres_runs_unprivileged(postgres_cluster: PostgresCluster) -> None:
    owner = postgres_cluster.data_dir.stat().st_uid
    assert owner != 0
    if os.geteuid() == 0:
        assert pwd.getpwuid(owner).pw_name == "postgres"
    pid = int((postgres_cluster.data_dir / "postmaster.pid").read_text().split()[0])
    assert os.stat(f"/proc/{pid}").st_uid == owner
