"""Operations: health checks, Prometheus metrics, structured logs and the admin status page.

- ``securemsg.ops.health``: the readiness checks (``/health/ready``, ``manage.py
  securemsg doctor``, the status page);
- ``securemsg.ops.metrics``: named metrics and the one-line helpers call sites use;
- ``securemsg.ops.logs`` and ``securemsg.ops.correlation``: JSON/console logs and the
  request/connection ids shared with the audit log;
- ``securemsg.ops.views``: the endpoints and the status page.

docs/operations.md is the operator's reference.
"""
