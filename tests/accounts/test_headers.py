"""Browser protections that apply in every profile (dev here)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_security_headers_in_dev(client: Client, db, path: str):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
