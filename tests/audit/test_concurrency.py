"""Concurrent writers in several threads still produce one linear chain."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from securemsg.audit import record
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.models import AuditEvent

THREADS = 6
PER_THREAD = 15


@pytest.mark.django_db(transaction=True)
def test_threads_write_one_linear_chain():
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                record(
                    "ratelimit.hit", outcome="denied", target_type="thread", target_id=f"{n}-{i}"
                )
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, THREADS * PER_THREAD + 1))
    assert AuditEvent.objects.values("prev_hash").distinct().count() == len(seqs)  # no fork
    result = verify_database()
    assert result.ok, result.broken
