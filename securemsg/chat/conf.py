"""Settings of the chat layer, read lazily from Django settings (``SECUREMSG_*``)."""

from __future__ import annotations

from django.conf import settings


class ChatSettings:
    """Typed access to the chat settings; every value is read when used."""

    @property
    def allowed_origins(self) -> list[str]:
        """Origins allowed on the WebSocket; empty means "the page's own origin"."""
        return list(getattr(settings, "SECUREMSG_ALLOWED_ORIGINS", []))

    @property
    def idle_timeout(self) -> int:
        """Seconds without a client frame after ``ready`` before 4408; 0 = never."""
        return int(getattr(settings, "SECUREMSG_IDLE_TIMEOUT", 300))

    @property
    def handshake_timeout(self) -> float:
        """Seconds from accept to a verified client_finished."""
        return float(getattr(settings, "SECUREMSG_HANDSHAKE_TIMEOUT", 10))

    @property
    def handshakes_per_minute(self) -> int:
        """Per user; 0 = unlimited."""
        return int(getattr(settings, "SECUREMSG_HANDSHAKES_PER_MINUTE", 30))

    @property
    def handshakes_per_minute_per_ip(self) -> int:
        """Per client address; 0 = unlimited."""
        return int(getattr(settings, "SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP", 120))

    @property
    def messages_per_minute(self) -> int:
        """``send`` requests per user; 0 = unlimited."""
        return int(getattr(settings, "SECUREMSG_MESSAGES_PER_MINUTE", 600))

    @property
    def max_sessions_per_user(self) -> int:
        """Open WebSocket connections per user; 0 = unlimited."""
        return int(getattr(settings, "SECUREMSG_MAX_SESSIONS_PER_USER", 20))

    @property
    def redelivery_interval(self) -> float:
        """Seconds between sweeps that deliver from storage what the channel layer dropped."""
        return float(getattr(settings, "SECUREMSG_REDELIVERY_SECONDS", 5))

    @property
    def db_threads(self) -> int:
        """Threads for the WebSocket side's database work, each with a connection kept open.

        Read once, when the first one starts.
        """
        return max(1, int(getattr(settings, "SECUREMSG_DB_THREADS", 1)))

    @property
    def trusted_proxy_count(self) -> int:
        """Reverse proxies in front that append to X-Forwarded-For."""
        return int(getattr(settings, "SECUREMSG_TRUSTED_PROXY_COUNT", 0))


chat_settings = ChatSettings()
