"""The package's ``__all__`` and what it actually exports stay in sync."""

from __future__ import annotations

import keyvault
from keyvault import exceptions, services


def test_all_names_resolve():
    for name in keyvault.__all__:
        assert getattr(keyvault, name) is not None, name


def test_all_is_services_plus_exceptions():
    assert set(keyvault.__all__) == set(services.__all__) | set(exceptions.__all__)


def test_every_exception_is_a_keyvault_error_with_a_docstring():
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, exceptions.KeyVaultError)
        assert cls.__doc__
        assert cls.close_code == 4500
