"""The public API: __all__ in sync, exceptions well-formed, no Django or Channels import."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import securemsg.protocol as protocol
from securemsg.protocol import exceptions

ROOT = Path(__file__).resolve().parents[2]


def test_all_lists_exactly_the_public_names() -> None:
    # Everything importable from the package without an underscore, except
    # the submodule "exceptions" itself, must be listed, and nothing else.
    public = {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(protocol.__all__) == public
    assert len(protocol.__all__) == len(set(protocol.__all__))


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in protocol.__all__:
        value = getattr(protocol, name)
        if callable(value):
            assert value.__doc__, f"{name} has no docstring"


def test_exceptions_carry_close_code_and_reason() -> None:
    codes = {code.value for code in exceptions.CloseCode}
    assert codes == {4400, 4401, 4403, 4408, 4409, 4410, 4412, 4426, 4429, 4500}
    classes = [getattr(exceptions, n) for n in exceptions.__all__ if n != "CloseCode"]
    for cls in classes:
        assert issubclass(cls, exceptions.ProtocolError)
        assert cls.close_code in codes and cls.reason and cls.__doc__
    covered = {cls.close_code for cls in classes if cls is not exceptions.ProtocolError}
    assert covered == codes
    assert set(exceptions.__all__) <= set(protocol.__all__)


def test_core_imports_without_django_or_channels() -> None:
    # A meta path finder that refuses django and channels, installed before
    # the import: the core must load and run a handshake step regardless.
    script = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("django", "channels", "daphne"):
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        import securemsg.protocol as p
        from securemsg.protocol import _handshake, _keyset, _records, _appmsg  # noqa: F401
        assert not any(m.split(".")[0] in ("django", "channels") for m in sys.modules)
        print("ok", p.SUITE)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok SM1-")


def test_blocker_really_blocks() -> None:
    # Control: the same finder does stop a django import.
    script = (
        "import sys\n"
        "class B:\n"
        "    def find_spec(self, n, p=None, t=None):\n"
        "        if n.split('.')[0] == 'django': raise ImportError(n)\n"
        "sys.meta_path.insert(0, B())\n"
        "import django\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode != 0
