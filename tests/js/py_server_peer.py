"""A securemsg/1 server peer for the JavaScript interop tests.

Runs the Python core's ``ServerHandshake`` and ``Session`` over stdin and
stdout, one JSON value per line, with the test keys of
tests/vectors/securemsg1.json. Input lines are either frames from the client
(the exact text the client sent) or control objects ``{"ctl": ...}`` from
the test: ``update`` (key update now), ``push`` (seal ``message``), ``close``.
Output lines are frames for the client, or control objects: ``got`` (an
application message the server opened), ``close`` (the server closes with
``code``). Flags make the peer misbehave for negative tests.

It is a test double, not the server: the consumer lives in securemsg/chat.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import (
    ProtocolError,
    ServerHandshake,
    Session,
    StaleKeyError,
    b64u_decode,
    b64u_encode,
    encode_json,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "securemsg1.json"


def _load_private(entry: dict[str, Any]) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(entry["pkcs8_pem"].encode("ascii"), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class VectorKeyring:
    """The ServerKeyring of the test keys: one enc key, one chosen sig key."""

    def __init__(self, keys: dict[str, Any], sig_name: str) -> None:
        self._enc_kid: str = keys["server_enc"]["kid"]
        self._enc = _load_private(keys["server_enc"])
        self._sig_kid: str = keys[sig_name]["kid"]
        self._sig = _load_private(keys[sig_name])

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """Return the configured signing key."""
        return self._sig_kid, self._sig

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        """Return the enc key, or StaleKeyError (4412) for any other kid."""
        if enc_kid != self._enc_kid:
            raise StaleKeyError("unknown enc_kid")
        return self._enc


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Peer:
    """One connection's worth of server behaviour."""

    def __init__(self, options: argparse.Namespace) -> None:
        vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
        self.options = options
        self.handshake = ServerHandshake(VectorKeyring(vectors["keys"], options.sig), options.user)
        self.session: Session | None = None
        self.acks: dict[str, dict[str, Any]] = {}
        self.stored: list[dict[str, Any]] = []
        self.replayed = False

    def emit(self, obj: dict[str, Any]) -> None:
        """Write one line to the client side."""
        sys.stdout.write(encode_json(obj) + "\n")
        sys.stdout.flush()

    def send(self, message: dict[str, Any]) -> None:
        """Seal an application message and emit its frames."""
        assert self.session is not None
        for frame in self.session.seal(message):
            self.emit(frame)
            if self.options.replay_record and not self.replayed:
                self.replayed = True
                self.emit(frame)

    def handle(self, line: str) -> bool:
        """Handle one input line; return False when the connection ends."""
        obj = json.loads(line)
        if isinstance(obj, dict) and "ctl" in obj:
            return self.control(obj)
        if self.handshake.state == "start":
            hello = self.handshake.receive_client_hello(line)
            if self.options.tamper_signature:
                signature = bytearray(b64u_decode(hello["signature"]))
                signature[7] ^= 0x01
                hello["signature"] = b64u_encode(bytes(signature))
            self.emit(hello)
        elif self.session is None:
            established = self.handshake.receive_client_finished(line)
            self.session = established.session
            ready = dict(established.ready)
            if self.options.tamper_ready:
                ct = bytearray(b64u_decode(ready["ct"]))
                ct[0] ^= 0x01
                ready["ct"] = b64u_encode(bytes(ct))
            self.emit(ready)
        else:
            message = self.session.open(line)
            if message is not None:
                self.emit({"ctl": "got", "message": message})
                self.answer(message)
        return True

    def control(self, obj: dict[str, Any]) -> bool:
        """Run a test control command."""
        if obj["ctl"] == "update":
            assert self.session is not None
            self.emit(self.session.update_keys())
        elif obj["ctl"] == "push":
            self.send(obj["message"])
        elif obj["ctl"] == "close":
            self.emit({"ctl": "close", "code": int(obj.get("code", 1000))})
            return False
        return True

    def answer(self, message: dict[str, Any]) -> None:
        """Answer an application request the way the real server would."""
        kind = message.get("t")
        request_id = message.get("id")
        if kind == "ping":
            self.send({"t": "pong"} if request_id is None else {"t": "pong", "id": request_id})
        elif kind == "send":
            self.answer_send(message)
        elif kind == "history":
            items = [m for m in self.stored if message["with"] in (m["from"], m["to"])]
            reply: dict[str, Any] = {
                "t": "history",
                "with": message["with"],
                "messages": items[-int(message.get("limit", 50)) :],
                "more": False,
            }
            if request_id is not None:
                reply["id"] = request_id
            self.send(reply)
        elif kind == "delivered":
            pass  # recorded by the "got" line; a delivered notice gets no answer
        else:
            self.send({"t": "error", "id": request_id, "code": "bad_request", "message": "?"})

    def answer_send(self, message: dict[str, Any]) -> None:
        """Ack a send (idempotently by id), then optionally echo and receipt it."""
        request_id = str(message["id"])
        if request_id in self.acks:
            self.send(self.acks[request_id])
            return
        if self.options.no_ack:
            return
        mid = f"m-{len(self.stored) + 1}"
        ts = _now()
        self.acks[request_id] = {"t": "ack", "id": request_id, "mid": mid, "ts": ts}
        self.stored.append(
            {
                "mid": mid,
                "from": self.options.user,
                "to": message["to"],
                "body": message["body"],
                "ts": ts,
                "delivered": True,
            }
        )
        self.send(self.acks[request_id])
        if self.options.echo:
            self.send({"t": "receipt", "mid": mid, "state": "delivered"})
            self.send(
                {
                    "t": "msg",
                    "mid": f"e-{mid}",
                    "from": message["to"],
                    "to": self.options.user,
                    "body": f"echo: {message['body']}",
                    "ts": _now(),
                }
            )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--sig", default="server_sig", choices=["server_sig", "server_sig_next"])
    parser.add_argument("--tamper-signature", action="store_true")
    parser.add_argument("--tamper-ready", action="store_true")
    parser.add_argument("--replay-record", action="store_true")
    parser.add_argument("--no-ack", action="store_true")
    parser.add_argument("--echo", action="store_true")
    return parser.parse_args()


def main() -> int:
    """Serve one connection on stdin/stdout."""
    peer = Peer(_parse_args())
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            if not peer.handle(line):
                return 0
        except ProtocolError as exc:
            peer.emit({"ctl": "close", "code": int(exc.close_code), "reason": exc.reason})
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
