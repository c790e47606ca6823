from django.apps import AppConfig


class SecuremsgConfig(AppConfig):
    """Project-wide pieces: management commands, templates and checks."""

    name = "securemsg"
    verbose_name = "securemsg"

    def ready(self) -> None:
        """Register the system checks of ``securemsg/checks.py``."""
        from securemsg import checks  # noqa: F401 -- registers the checks
