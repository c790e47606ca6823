"""Server RSA keys made once per test session and handed out again in later tests.

Most tests build a fresh key vault (``keyvault init``: one signing and one
encryption key) and a key rotation makes another; generating those RSA-2048
keys took about a minute of every test pass. The pool gives each test
distinct, real keys (a test that rotates three times gets four different
keys) but lets the next test take the same ones again, since every test
starts from an empty database. Tests marked ``fresh_keys`` (the key vault's
own generation tests) get newly generated keys as in production.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from keyvault.internal import lifecycle, minimum

#: Keys made so far, per algorithm name ("RSA-2048"...), in hand-out order.
_POOL: defaultdict[str, list[rsa.RSAPrivateKey]] = defaultdict(list)


class _TestKeys:
    """The keys one test has taken; the n-th call gets the n-th pooled key."""

    def __init__(self, generate: object) -> None:
        self._generate = generate
        self._taken: defaultdict[str, int] = defaultdict(int)

    def __call__(self, algorithm: str) -> rsa.RSAPrivateKey:
        keys = _POOL[algorithm]
        index = self._taken[algorithm]
        if index == len(keys):
            keys.append(self._generate(algorithm))  # type: ignore[operator]
        self._taken[algorithm] = index + 1
        return keys[index]

    def __repr__(self) -> str:
        return "<pooled test keys>"


@pytest.fixture(autouse=True)
def pooled_server_keys(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Hand the key vault pooled keys in this test (not with ``@pytest.mark.fresh_keys``)."""
    if request.node.get_closest_marker("fresh_keys") is None:
        keys = _TestKeys(lifecycle.generate_private_key)
        # minimum.py imported the name, so both bindings are replaced.
        monkeypatch.setattr(lifecycle, "generate_private_key", keys)
        monkeypatch.setattr(minimum, "generate_private_key", keys)
    yield
