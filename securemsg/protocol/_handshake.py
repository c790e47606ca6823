"""Client and server handshake state machines (protocol.md, "Handshake").

Each side is an object that moves through its states once. A message in
the wrong state, or any call after an error, raises UnexpectedMessageError
(4400); the object never continues after an error.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from ._b64 import b64u_encode
from ._constants import MAX_USER_LENGTH, NONCE_SIZE, SECRET_SIZE, SESSION_ID_SIZE
from ._crypto import (
    oaep_decrypt,
    oaep_encrypt,
    oaep_unwrap_secret_silently,
    pss_sign,
    pss_verify,
    spki_der,
)
from ._framing import Frame, decode_frame
from ._keyset import KeySet
from ._messages import (
    ClientHello,
    ServerHello,
    client_finished_frame,
    parse_client_finished,
    parse_client_hello,
    parse_server_hello,
)
from ._records import Session
from ._schedule import HandshakeSecrets, derive_handshake_secrets, finished_mac, verify_finished_mac
from ._transcript import TranscriptInputs, transcript_hash
from .exceptions import (
    AuthenticationFailedError,
    MalformedMessageError,
    ProtocolError,
    UnexpectedMessageError,
    UntrustedSigningKeyError,
)

Random = Callable[[int], bytes]
Clock = Callable[[], float]
CLIENT_KEY_BITS = 2048


class ServerKeyring(Protocol):
    """What the server handshake needs from the key vault.

    The core never stores keys: the Django key vault implements this. Each
    method is called at most once per handshake, so a vault can count
    private-key operations per call.
    """

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """Return ``(sig_kid, private key)`` of the active signing key.

        Raises ServerUnavailableError (4500) if the key store cannot serve.
        """
        ...

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        """Return the private encryption key ``enc_kid``.

        Raises StaleKeyError (4412) if the kid is unknown (after reloading
        the key set from storage), not an encryption key, disabled,
        destroyed, or retiring past its deadline; ServerUnavailableError
        (4500) if the key store cannot serve.
        """
        ...


class Established(NamedTuple):
    """The server's result of a verified client_finished."""

    session: Session
    ready: dict[str, Any]  # the first s2c record, {"t": "ready", ...}, to send now


class _State(enum.Enum):
    START = "start"
    WAIT_FINISHED = "wait_finished"
    WAIT_SERVER_HELLO = "wait_server_hello"
    WAIT_READY = "wait_ready"
    DONE = "done"
    FAILED = "failed"


def ready_message(session_id: bytes) -> dict[str, Any]:
    """Return the plaintext of the server's first record."""
    return {"t": "ready", "session": b64u_encode(session_id)}


class _Machine:
    """Shared state bookkeeping: one step at a time, dead after an error."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def _enter(self, expected: _State) -> None:
        if self._state is not expected:
            current = self._state.value
            self._state = _State.FAILED
            raise UnexpectedMessageError(f"message not allowed in state {current}")

    def _fail(self) -> None:
        self._state = _State.FAILED

    @property
    def state(self) -> str:
        """The current state's name (for logs and tests)."""
        return self._state.value


class ServerHandshake(_Machine):
    """Server side of one handshake, for one authenticated ``user``.

    ``receive_client_hello`` does all the RSA work (one OAEP decryption and
    one PSS signature) in one synchronous call, so an async adapter can run
    it in a thread pool. Randomness is drawn in this order: the silent
    unwrap substitute (32), server_nonce (32), session_id (16),
    server_secret (32).
    """

    def __init__(
        self,
        keyring: ServerKeyring,
        user: str,
        *,
        random: Random = os.urandom,
        now: Clock = time.monotonic,
    ) -> None:
        if not isinstance(user, str) or not 1 <= len(user) <= MAX_USER_LENGTH:
            raise ValueError(f"user must be a string of 1 to {MAX_USER_LENGTH} characters")
        super().__init__(_State.START)
        self._keyring = keyring
        self._user = user
        self._random = random
        self._now = now
        self._hello: ClientHello | None = None
        self._sig_kid: str | None = None
        self._session_id: bytes | None = None
        self._th = b""
        self._secrets: HandshakeSecrets | None = None

    @property
    def enc_kid(self) -> str | None:
        """The client's enc_kid, once client_hello parsed (for the audit log)."""
        return None if self._hello is None else self._hello.enc_kid

    @property
    def sig_kid(self) -> str | None:
        """The signing key id used, once server_hello was made."""
        return self._sig_kid

    @property
    def session_id(self) -> bytes | None:
        """The session id, once server_hello was made."""
        return self._session_id

    def receive_client_hello(self, frame: Frame) -> dict[str, Any]:
        """Process client_hello and return the server_hello frame to send.

        Raises MalformedMessageError/UnexpectedMessageError (4400),
        UnsupportedVersionError (4426), and whatever the keyring raises
        (StaleKeyError 4412, ServerUnavailableError 4500). A bad
        wrapped_client_secret raises nothing here (see protocol.md).
        """
        self._enter(_State.START)
        try:
            return self._client_hello(frame)
        except ProtocolError:
            self._fail()
            raise

    def _client_hello(self, frame: Frame) -> dict[str, Any]:
        hello = parse_client_hello(decode_frame(frame))
        self._hello = hello
        decryption_key = self._keyring.decryption_key(hello.enc_kid)
        client_secret = oaep_unwrap_secret_silently(
            decryption_key, hello.wrapped_client_secret, self._random
        )
        server_nonce = _draw(self._random, NONCE_SIZE)
        session_id = _draw(self._random, SESSION_ID_SIZE)
        server_secret = _draw(self._random, SECRET_SIZE)
        wrapped_server_secret = oaep_encrypt(hello.client_public_key, server_secret)
        sig_kid, signing_key = self._keyring.signing_key()
        inputs = TranscriptInputs(
            client_key=hello.client_key,
            client_nonce=hello.client_nonce,
            enc_kid=hello.enc_kid,
            wrapped_client_secret=hello.wrapped_client_secret,
            server_nonce=server_nonce,
            session_id=session_id,
            sig_kid=sig_kid,
            wrapped_server_secret=wrapped_server_secret,
            user=self._user,
        )
        self._th = transcript_hash(inputs)
        self._secrets = derive_handshake_secrets(client_secret, server_secret, self._th)
        self._sig_kid, self._session_id = sig_kid, session_id
        self._state = _State.WAIT_FINISHED
        return ServerHello(
            server_nonce=server_nonce,
            session_id=session_id,
            sig_kid=sig_kid,
            user=self._user,
            wrapped_server_secret=wrapped_server_secret,
            signature=pss_sign(signing_key, self._th),
        ).to_frame()

    def receive_client_finished(self, frame: Frame) -> Established:
        """Verify client_finished; return the session and its ``ready`` record.

        Raises MalformedMessageError/UnexpectedMessageError (4400) and
        AuthenticationFailedError (4410) for a wrong MAC, which is also the
        outcome of a bad wrapped_client_secret.
        """
        self._enter(_State.WAIT_FINISHED)
        try:
            mac = parse_client_finished(decode_frame(frame))
            if self._secrets is None or self._session_id is None:  # not reachable via _enter
                raise UnexpectedMessageError("client_finished before server_hello")
            verify_finished_mac(self._secrets.finished_key, self._th, mac)
        except ProtocolError:
            self._fail()
            raise
        session = Session(
            role="server",
            th=self._th,
            session_id=self._session_id,
            secrets=self._secrets,
            now=self._now,
        )
        self._secrets = None  # the session holds the traffic secrets now
        self._state = _State.DONE
        (ready,) = session.seal(ready_message(self._session_id))
        return Established(session, ready)


def new_client_key() -> rsa.RSAPrivateKey:
    """A fresh ephemeral RSA-2048 client key.

    Generating one takes from tens of milliseconds to over a second on a
    busy machine. Make it before the WebSocket opens, off any event loop: a
    server that closes at once (a session limit, 4429) waits about a second
    for the close reply, then drops the TCP connection, and a client still
    busy with its key loses the close code.
    """
    return rsa.generate_private_key(65537, CLIENT_KEY_BITS)


class ClientHandshake(_Machine):
    """Client side of one handshake.

    ``key_set`` is the fetched keys.json; ``pins`` are the trusted signing
    key fingerprints. ``user``, when given, must equal the server's
    authenticated username. ``client_key`` defaults to a fresh RSA-2048 key
    (pass one in to replay a transcript). Randomness is drawn in this
    order: client_nonce (32), client_secret (32).
    """

    def __init__(
        self,
        key_set: KeySet,
        pins: Iterable[str],
        *,
        user: str | None = None,
        client_key: rsa.RSAPrivateKey | None = None,
        random: Random = os.urandom,
        now: Clock = time.monotonic,
    ) -> None:
        super().__init__(_State.START)
        self._key_set = key_set
        self._pins = frozenset(pins)
        key_set.trusted_fingerprints(self._pins)  # validates the pin format early
        self._user = user
        self._client_key = client_key or new_client_key()
        self._random = random
        self._now = now
        self._hello: ClientHello | None = None
        self._client_secret = b""
        self._session: Session | None = None
        self._server_hello: ServerHello | None = None

    @property
    def server_hello(self) -> ServerHello | None:
        """The verified server_hello (sig_kid, user, session_id), once received."""
        return self._server_hello

    def client_hello(self) -> dict[str, Any]:
        """Return the client_hello frame, wrapping to the active encryption key."""
        self._enter(_State.START)
        enc_key = self._key_set.active_key("enc")
        client_nonce = _draw(self._random, NONCE_SIZE)
        self._client_secret = _draw(self._random, SECRET_SIZE)
        self._hello = ClientHello(
            client_key=spki_der(self._client_key.public_key()),
            client_public_key=self._client_key.public_key(),
            client_nonce=client_nonce,
            enc_kid=enc_key.kid,
            wrapped_client_secret=oaep_encrypt(enc_key.public_key, self._client_secret),
        )
        self._state = _State.WAIT_SERVER_HELLO
        return self._hello.to_frame()

    def receive_server_hello(self, frame: Frame) -> dict[str, Any]:
        """Authenticate server_hello and return the client_finished frame.

        Raises 4400/4426 errors for malformed messages,
        UntrustedSigningKeyError for a sig_kid that is unknown (re-fetch
        keys.json once and retry) or does not chain to the pins, and
        AuthenticationFailedError for a bad signature, a wrong user or an
        undecryptable wrapped_server_secret.
        """
        self._enter(_State.WAIT_SERVER_HELLO)
        try:
            return self._receive_server_hello(frame)
        except ProtocolError:
            self._fail()
            raise

    def _receive_server_hello(self, frame: Frame) -> dict[str, Any]:
        hello = parse_server_hello(decode_frame(frame))
        if self._hello is None:  # not reachable via _enter
            raise UnexpectedMessageError("server_hello before client_hello")
        if self._key_set.find(hello.sig_kid, "sig") is None:
            raise UntrustedSigningKeyError("unknown sig_kid", kid=hello.sig_kid, unknown=True)
        signer = self._key_set.trusted_signing_key(hello.sig_kid, self._pins)
        if signer is None:
            raise UntrustedSigningKeyError(
                "signing key does not chain to the pin", kid=hello.sig_kid, unknown=False
            )
        th = transcript_hash(
            TranscriptInputs(
                client_key=self._hello.client_key,
                client_nonce=self._hello.client_nonce,
                enc_kid=self._hello.enc_kid,
                wrapped_client_secret=self._hello.wrapped_client_secret,
                server_nonce=hello.server_nonce,
                session_id=hello.session_id,
                sig_kid=hello.sig_kid,
                wrapped_server_secret=hello.wrapped_server_secret,
                user=hello.user,
            )
        )
        pss_verify(signer.public_key, hello.signature, th)
        if self._user is not None and hello.user != self._user:
            raise AuthenticationFailedError("server authenticated another user")
        server_secret = oaep_decrypt(self._client_key, hello.wrapped_server_secret)
        if len(server_secret) != SECRET_SIZE:
            raise AuthenticationFailedError("decryption failed")
        secrets = derive_handshake_secrets(self._client_secret, server_secret, th)
        self._client_secret = b""
        self._session = Session(
            role="client", th=th, session_id=hello.session_id, secrets=secrets, now=self._now
        )
        self._server_hello = hello
        self._state = _State.WAIT_READY
        return client_finished_frame(finished_mac(secrets.finished_key, th))

    def receive_ready(self, frame: Frame) -> Session:
        """Open the server's first record, check it is ``ready``, return the session."""
        self._enter(_State.WAIT_READY)
        if self._session is None:  # not reachable via _enter
            self._fail()
            raise UnexpectedMessageError("ready before server_hello")
        try:
            message = self._session.open(frame)
            if message is None or message.get("t") != "ready":
                raise UnexpectedMessageError("the first record must be ready")
            if message.get("session") != b64u_encode(self._session.session_id):
                raise MalformedMessageError("ready names another session")
        except ProtocolError:
            self._fail()
            raise
        self._state = _State.DONE
        return self._session


def _draw(random: Random, size: int) -> bytes:
    value = random(size)
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"random({size}) must return {size} bytes")
    return value
