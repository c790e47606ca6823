"""Run under SECUREMSG_ENV=production by test_production.py: print response headers as JSON."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "securemsg.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

client = Client()
result = {}
for path in sys.argv[1:]:
    response = client.get(path, secure=True)
    result[path] = {"status": response.status_code, "headers": dict(response.headers)}
    result[path]["cookies"] = {
        name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"])}
        for name, m in response.cookies.items()
    }
plain = client.get("/accounts/login/")
result["plain-http"] = {"status": plain.status_code, "location": plain.get("Location", "")}
print(json.dumps(result))
