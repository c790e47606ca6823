"""Make a table refuse inserts, on SQLite and PostgreSQL alike (a full disk, a revoked grant).

The trigger aborts the statement inside the database, so the application sees
exactly the error a real write failure gives it.
"""

from __future__ import annotations

import re

from django.db import connection


def block_inserts(table: str, name: str, *, when_event: str | None = None) -> None:
    """Create trigger ``name`` that refuses every insert into ``table``.

    With ``when_event``, only rows whose ``event`` column equals it are refused.
    """
    # Triggers cannot take query parameters: accept only plain names and inline them.
    for value in (table, name, when_event or "x"):
        if not re.fullmatch(r"[a-z_][a-z0-9_.]*", value):
            raise ValueError(f"not a plain name: {value!r}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{table} refuses inserts'; END $$"
            )
            condition = "" if when_event is None else f"WHEN (NEW.event = '{when_event}') "
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                f"{condition}EXECUTE FUNCTION {name}_fn()"
            )
        else:
            condition = "" if when_event is None else f"WHEN NEW.event = '{when_event}' "
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                f"{condition}BEGIN SELECT RAISE(ABORT, 'refuses inserts'); END"
            )


def unblock_inserts(table: str, name: str) -> None:
    """Drop the trigger made by :func:`block_inserts` (no error if it is gone)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}_fn()")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def shared_database_url() -> str:
    """The URL of the test database, for a child process that must share it."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict["USER"], settings_dict["PASSWORD"]
    host, port, name = settings_dict["HOST"], settings_dict["PORT"], settings_dict["NAME"]
    return f"postgres://{user}:{password}@{host}:{port}/{name}"
