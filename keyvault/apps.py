from django.apps import AppConfig


class KeyvaultConfig(AppConfig):
    """The server's private keys under envelope encryption."""

    name = "keyvault"
    verbose_name = "Key vault"
