"""Stateful fuzzing of the server's handshake and record layer (hypothesis).

The machine drives the protocol core's server side (ServerHandshake, Session
and the consumer's request parser) with honest, mutated, truncated,
reordered, duplicated, oversized and garbage frames in every phase, through
``tests/fuzz/driver.py`` (shared with ``bench/fuzz_protocol.py``). It checks:

- the server raises nothing but ProtocolError (anything else fails the test);
- it accepts no forgery (driver.ForgeryError: a client_finished for another
  transcript, a record whose plaintext is not the client's message of the
  expected seq);
- after a refusal, and at the end of every run, a fresh client completes a
  handshake and a record round trip with the same keys.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.fuzz.driver import ForgeryError, ServerFuzzer, fuzz_keys, garbage

pytestmark = pytest.mark.timeout(120)


class ServerStateMachine(RuleBasedStateMachine):
    """Rules are the phases of one connection; a refused frame ends it."""

    def __init__(self) -> None:
        super().__init__()
        self.fuzzer = ServerFuzzer(fuzz_keys())
        self.refusals = 0

    @precondition(lambda self: self.fuzzer.phase == "hello")
    @rule(rng=st.randoms(use_true_random=False))
    def client_hello(self, rng: random.Random) -> None:
        self.fuzzer.step_hello(rng)

    @precondition(lambda self: self.fuzzer.phase == "finished")
    @rule(rng=st.randoms(use_true_random=False))
    def client_finished(self, rng: random.Random) -> None:
        self.fuzzer.step_finished(rng)

    @precondition(lambda self: self.fuzzer.phase == "records")
    @rule(rng=st.randoms(use_true_random=False))
    def seal_without_delivering(self, rng: random.Random) -> None:
        self.fuzzer.step_seal(rng)

    @precondition(lambda self: self.fuzzer.phase == "records")
    @rule(rng=st.randoms(use_true_random=False))
    def record(self, rng: random.Random) -> None:
        self.fuzzer.step_record(rng)

    @precondition(lambda self: self.fuzzer.phase != "dead")
    @rule(rng=st.randoms(use_true_random=False))
    def garbage_in_any_phase(self, rng: random.Random) -> None:
        self.fuzzer.deliver(garbage(rng))

    @precondition(lambda self: self.fuzzer.phase == "dead")
    @rule()
    def reconnect(self) -> None:
        # A refused connection is over; a fresh client must be served at once.
        self.refusals += 1
        assert self.fuzzer.honest_handshake_works()

    @invariant()
    def no_forgery(self) -> None:
        assert self.fuzzer.forgeries == 0

    def teardown(self) -> None:
        assert self.fuzzer.honest_handshake_works()


ServerStateMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_server_state_machine = ServerStateMachine.TestCase


def test_driver_counts_refusals_and_finds_forgeries_it_is_shown() -> None:
    """The oracle: honest traffic passes, tampering is refused, a fake accept is caught."""
    fuzzer = ServerFuzzer(fuzz_keys())
    assert fuzzer.honest_handshake_works()
    assert fuzzer.frames == 3 and fuzzer.errors == {} and fuzzer.handshakes == 1
    rng = random.Random(1)
    fuzzer.step_seal(rng)
    frame = dict(fuzzer.frames_by_seq[fuzzer.delivered])
    frame["ct"] = ("A" if frame["ct"][0] != "A" else "B") + frame["ct"][1:]
    fuzzer.deliver(frame)
    assert fuzzer.phase == "dead"
    assert fuzzer.errors == {"AuthenticationFailedError(4410)": 1}
    # Shown a record from nowhere as accepted, the oracle reports a forgery.
    fuzzer.fast_session()
    fuzzer.step_seal(rng)
    fuzzer.sent[0] = {"t": "send", "id": "other", "to": "mallory", "body": "x"}
    with pytest.raises(ForgeryError, match="record accepted"):
        fuzzer.deliver(fuzzer.frames_by_seq[0])
    assert fuzzer.forgeries == 1
