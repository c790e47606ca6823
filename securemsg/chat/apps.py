from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Encrypted chat: the WebSocket consumer, message storage and the chat page."""

    name = "securemsg.chat"
    label = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from securemsg.chat import signals  # noqa: F401  (connects receivers)
