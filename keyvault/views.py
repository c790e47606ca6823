"""Public key publication: ``GET /.well-known/securemsg/keys.json`` (protocol.md)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .internal.publication import keys_document

__all__ = ["KEYS_JSON_MAX_AGE", "keys_json"]

#: protocol.md: the document may be cached for 60 s; every process publishes a
#: rotation within that time.
KEYS_JSON_MAX_AGE = 60


@require_GET
def keys_json(request: HttpRequest) -> JsonResponse:
    """Return the active and retiring server keys and every endorsement."""
    del request
    response = JsonResponse(keys_document())
    response["Cache-Control"] = f"public, max-age={KEYS_JSON_MAX_AGE}"
    return response
