from django.apps import AppConfig


class SecuremsgConfig(AppConfig):
    """Project-wide pieces: management commands, templates and checks."""

    name = "securemsg"
    verbose_name = "securemsg"
