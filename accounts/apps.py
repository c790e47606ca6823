from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People who sign in: the custom user model, sign-in pages and lockout."""

    name = "accounts"
    verbose_name = "Accounts"
