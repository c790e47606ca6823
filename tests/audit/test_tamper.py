"""Each kind of tampering, done with SQL on the database, is found and named."""

from __future__ import annotations

import pytest

from securemsg.audit.internal.canonical import chain_hash, format_ts
from securemsg.audit.internal.checkpoints import take_checkpoint
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.internal.verify import BreakKind
from securemsg.audit.models import AuditEvent


@pytest.fixture
def chain(events, vault):
    """Ten events, a checkpoint at 6, and more events after it."""
    events(6)
    take_checkpoint()  # signs row 6, then records audit.checkpoint as row 7
    events(3)
    return 10


def _broken(kind: BreakKind, seq: int) -> None:
    result = verify_database()
    assert result.broken is not None, "tampering went unnoticed"
    assert (result.broken.kind, result.broken.seq) == (kind, seq), result.broken.message


def test_intact_chain_verifies(chain):
    result = verify_database()
    assert result.ok, result.broken
    assert (result.rows, result.first_seq, result.last_seq) == (chain, 1, chain)
    assert (result.checkpoints, result.last_checkpoint) == (1, 6)


def test_edited_row(chain, sql):
    sql("UPDATE audit_auditevent SET outcome = 'success' WHERE seq = 4")
    _broken(BreakKind.EDITED, 4)


def test_edited_details(chain, sql):
    sql("""UPDATE audit_auditevent SET details = '{"n": 99}' WHERE seq = 9""")
    _broken(BreakKind.EDITED, 9)


def test_deleted_row(chain, sql):
    sql("DELETE FROM audit_auditevent WHERE seq = 3")
    _broken(BreakKind.DELETED, 3)


def test_deleted_and_renumbered(chain, sql):
    sql("DELETE FROM audit_auditevent WHERE seq = 3")
    sql("UPDATE audit_auditevent SET seq = seq - 1 WHERE seq > 3")
    _broken(BreakKind.DELETED, 3)


def test_reordered_rows(chain, sql):
    sql("UPDATE audit_auditevent SET seq = -1 WHERE seq = 2")
    sql("UPDATE audit_auditevent SET seq = 2 WHERE seq = 3")
    sql("UPDATE audit_auditevent SET seq = 3 WHERE seq = -1")
    _broken(BreakKind.REORDERED, 2)


def test_forged_checkpoint_signature(chain, sql):
    (signature,) = sql("SELECT signature FROM audit_checkpoint WHERE seq = 6")[0]
    forged = bytes([signature[0] ^ 1]) + bytes(signature[1:])
    sql("UPDATE audit_checkpoint SET signature = %s WHERE seq = 6", [forged])
    _broken(BreakKind.FORGED_CHECKPOINT, 6)


def test_checkpoint_with_unknown_key(chain, sql):
    sql("UPDATE audit_checkpoint SET kid = 'attacker-key' WHERE seq = 6")
    _broken(BreakKind.FORGED_CHECKPOINT, 6)


def recompute_hashes(sql, start: int) -> None:
    """What a database writer without the audit key can do: fix every plain hash from ``start``."""
    prev = AuditEvent.objects.get(seq=start - 1).hash
    for row in AuditEvent.objects.filter(seq__gte=start).order_by("seq"):
        fields = {
            name: getattr(row, name)
            for name in (
                "seq event outcome actor_id actor_username ip user_agent target_type "
                "target_id details"
            ).split()
        }
        digest = chain_hash(prev, fields | {"ts": format_ts(row.ts)})
        sql(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev, digest, row.seq],
        )
        prev = digest
    sql("UPDATE audit_chainhead SET hash = %s", [prev])


def test_rewritten_chain_is_caught_by_the_mac_of_the_edited_row(chain, sql):
    """Edit row 3 and recompute every later hash: the MAC of row 3 no longer matches."""
    sql("UPDATE audit_auditevent SET outcome = 'success' WHERE seq = 3")
    recompute_hashes(sql, 3)
    _broken(BreakKind.EDITED, 3)
    broken = verify_database().broken
    assert broken is not None
    assert "MAC" in broken.message


def test_rewritten_chain_contradicts_the_checkpoint_offline(chain, sql, tmp_path):
    """Offline (an export, no MACs) the signed checkpoint still catches the rewrite."""
    from securemsg.audit.internal.retention import export
    from securemsg.audit.internal.sources import verify_file

    sql("UPDATE audit_auditevent SET outcome = 'success' WHERE seq = 3")
    recompute_hashes(sql, 3)
    export(tmp_path / "export.jsonl")
    result, _export = verify_file(tmp_path / "export.jsonl")
    assert result.broken is not None
    assert (result.broken.kind, result.broken.seq) == (BreakKind.CHECKPOINT_MISMATCH, 6)


def test_truncated_tail_after_last_checkpoint(chain, sql):
    sql("DELETE FROM audit_auditevent WHERE seq > 8")
    _broken(BreakKind.TRUNCATED, 9)


def test_truncated_back_past_a_checkpoint(chain, sql):
    sql("DELETE FROM audit_auditevent WHERE seq > 4")
    sql("UPDATE audit_chainhead SET seq = 4")
    _broken(BreakKind.TRUNCATED, 5)


def test_head_rows_deleted_without_prune(chain, sql):
    sql("DELETE FROM audit_auditevent WHERE seq <= 6")
    _broken(BreakKind.DELETED, 6)


def test_from_seq_verifies_the_rest(chain, sql):
    sql("UPDATE audit_auditevent SET outcome = 'success' WHERE seq = 2")
    assert verify_database(from_seq=5).ok
    _broken(BreakKind.EDITED, 2)
