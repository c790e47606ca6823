"""Django settings for securemsg, driven by environment variables.

`SECUREMSG_ENV` chooses the profile: ``dev`` (default) runs on a laptop with
no configuration at all; ``production`` requires every secret to be given
and turns on the transport protections (HSTS, SSL redirect, secure cookies).
The Content-Security-Policy, frame denial and referrer policy apply in both
profiles, so the browser tests see the real policy. Every variable is listed
in the README's configuration table.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from securemsg._env import env_bool, env_int, env_list, env_str, load_or_create_secret_key

# Lets classes such as FormView[Form] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

SECUREMSG_ENV = env_str("SECUREMSG_ENV", "dev")
if SECUREMSG_ENV not in ("dev", "production"):
    raise ImproperlyConfigured(
        f"SECUREMSG_ENV must be 'dev' or 'production', got {SECUREMSG_ENV!r}"
    )
PRODUCTION = SECUREMSG_ENV == "production"

DATA_DIR = Path(env_str("SECUREMSG_DATA_DIR", str(BASE_DIR / "data"))).resolve()

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when SECUREMSG_ENV=production "
            "(50+ random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
else:
    SECRET_KEY = env_str("SECRET_KEY") or load_or_create_secret_key(DATA_DIR / "secret_key")

DEBUG = False if PRODUCTION else env_bool("DEBUG", False)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is required when SECUREMSG_ENV=production "
        "(e.g. ALLOWED_HOSTS=chat.example.org)"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "csp",
    "securemsg",
    "securemsg.audit",
    "securemsg.chat",
    "accounts",
    "keyvault",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # django-axes must come last: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "securemsg.urls"
ASGI_APPLICATION = "securemsg.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "securemsg.context_processors.site",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------

_DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
try:
    _database: dict[str, Any] = dict(dj_database_url.parse(_DATABASE_URL, conn_max_age=0))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue
    # instead of failing with "database is locked" half-way through a
    # transaction; WAL lets readers run while one writer commits.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # Tests use a file, not ":memory:", so that a live Daphne server or a
    # second process started by a test sees the same test database.
    # One file per test process, so parallel test runs never share it.
    _database["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"securemsg-test-{os.getpid()}.sqlite3")
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CHANNEL_LAYERS: dict[str, Any]
# channels-redis waits for messages with BZPOPMIN blocking up to 5 s; redis-py 8
# gives every read a 5 s socket timeout by default, so an idle WebSocket's
# receive failed with a TimeoutError (close 1011). The read may take longer
# than the blocking pop; a dead Redis is still noticed.
_CHANNEL_LAYER_SOCKET_TIMEOUT = 15
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": _CHANNEL_LAYER_SOCKET_TIMEOUT}]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Rate limits and session counts must hold across processes: with Redis
# configured they live there, otherwise in this process's memory.
CACHES: dict[str, Any]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Encrypted channel (protocol.md, "Limits" and "Close codes") ----------

SECUREMSG_ALLOWED_ORIGINS = env_list("SECUREMSG_ALLOWED_ORIGINS", [])
SECUREMSG_IDLE_TIMEOUT = env_int("SECUREMSG_IDLE_TIMEOUT", 300)
SECUREMSG_HANDSHAKES_PER_MINUTE = env_int("SECUREMSG_HANDSHAKES_PER_MINUTE", 30)
SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP = env_int("SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP", 120)
SECUREMSG_MESSAGES_PER_MINUTE = env_int("SECUREMSG_MESSAGES_PER_MINUTE", 600)
SECUREMSG_MAX_SESSIONS_PER_USER = env_int("SECUREMSG_MAX_SESSIONS_PER_USER", 20)
SECUREMSG_TRUSTED_PROXY_COUNT = env_int("SECUREMSG_TRUSTED_PROXY_COUNT", 0)

# --- Accounts and sign-in ---------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "accounts.hashers.SecuremsgArgon2Hasher",
    # Older hashes stay verifiable and are upgraded to Argon2id at the next sign-in.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

SECUREMSG_ALLOW_SIGNUP = env_bool("SECUREMSG_ALLOW_SIGNUP", False)

# django-axes: lock the pair (username, client address), so that one
# attacker cannot lock a user out for everybody else.
AXES_FAILURE_LIMIT = env_int("SECUREMSG_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SECUREMSG_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Plus a short, growing delay per username for failures from many addresses
# (accounts/throttle.py): after N failures within the cool-off time, each
# further attempt waits 1 s, 2 s, 4 s ... up to the maximum; never a lock.
SECUREMSG_USERNAME_DELAY_AFTER = env_int("SECUREMSG_USERNAME_DELAY_AFTER", 10, minimum=1)
SECUREMSG_USERNAME_DELAY_MAX_SECONDS = env_int(
    "SECUREMSG_USERNAME_DELAY_MAX_SECONDS", 60, minimum=1
)
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# The client address by the same rule as the WebSocket (the
# SECUREMSG_TRUSTED_PROXY_COUNT-th entry from the right of X-Forwarded-For), not
# django-ipware, which reads a proxy count differently (securemsg/chat/netaddr.py).
AXES_CLIENT_IP_CALLABLE = "securemsg.chat.netaddr.request_client_address"

# --- Key vault --------------------------------------------------------------
# Read by keyvault/conf.py (one typed property per setting, read lazily);
# docs/keyvault.md explains each. Secrets are wrapped in Secret so that no
# repr (debug page, shell) shows them.

from keyvault._secret import Secret  # noqa: E402

KEYVAULT_BACKEND = env_str("SECUREMSG_KMS_BACKEND", "local")
KEYVAULT_MASTER_KEY_FILE = env_str(
    "SECUREMSG_MASTER_KEY_FILE", str(DATA_DIR / "master-keyring.json")
)
KEYVAULT_MASTER_KEY = Secret(env_str("SECUREMSG_MASTER_KEY"))
KEYVAULT_MASTER_PASSPHRASE = Secret(env_str("SECUREMSG_MASTER_PASSPHRASE"))
KEYVAULT_MASTER_PASSPHRASE_FILE = env_str("SECUREMSG_MASTER_PASSPHRASE_FILE")
KEYVAULT_PASSPHRASE_PARAMS_FILE = env_str(
    "SECUREMSG_MASTER_PASSPHRASE_PARAMS_FILE", str(DATA_DIR / "master-passphrase.json")
)
KEYVAULT_PKCS11_MODULE = env_str("SECUREMSG_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
KEYVAULT_PKCS11_TOKEN_LABEL = env_str("SECUREMSG_PKCS11_TOKEN_LABEL", "securemsg")
KEYVAULT_PKCS11_PIN = Secret(env_str("SECUREMSG_PKCS11_PIN"))
KEYVAULT_PKCS11_PIN_FILE = env_str("SECUREMSG_PKCS11_PIN_FILE")
KEYVAULT_PKCS11_KEY_LABEL = env_str("SECUREMSG_PKCS11_KEY_LABEL", "securemsg-master")
KEYVAULT_KEY_ALGORITHM = env_str("SECUREMSG_KEY_ALGORITHM", "RSA-3072")
KEYVAULT_MAX_AGE_SIGNING_DAYS = env_int("SECUREMSG_KEY_MAX_AGE_SIGNING_DAYS", 90, minimum=1)
KEYVAULT_MAX_AGE_ENCRYPTION_DAYS = env_int("SECUREMSG_KEY_MAX_AGE_ENCRYPTION_DAYS", 30, minimum=1)
KEYVAULT_MAX_USES = env_int("SECUREMSG_KEY_MAX_USES", 0)
KEYVAULT_GRACE_DAYS = env_int("SECUREMSG_KEY_GRACE_DAYS", 7)
KEYVAULT_DELETION_WAIT_DAYS = env_int("SECUREMSG_KEY_DELETION_WAIT_DAYS", 30, minimum=7)

# --- Audit log --------------------------------------------------------------

# A signed checkpoint of the audit chain after every N events (0: on demand only).
SECUREMSG_AUDIT_CHECKPOINT_EVERY = env_int("SECUREMSG_AUDIT_CHECKPOINT_EVERY", 1000, minimum=0)
# The second sink: every event is also appended (and fsync'd) to this JSON
# Lines file before its action goes ahead; rotated past the size, never deleted.
SECUREMSG_AUDIT_FILE = env_str("SECUREMSG_AUDIT_FILE") or str(DATA_DIR / "audit.jsonl")
SECUREMSG_AUDIT_FILE_MAX_BYTES = env_int(
    "SECUREMSG_AUDIT_FILE_MAX_BYTES", 64 * 1024 * 1024, minimum=0
)
# Attributes model changes to the administrator making them, and turns an
# audit write failure into a 503 page (fail closed) instead of a traceback.
MIDDLEWARE.append("securemsg.audit.middleware.AuditMiddleware")

# --- Transport and browser protections --------------------------------------

# Django's database sessions, but the table holds only a hash of each key
# (accounts/session_store.py; docs/security.md, "Database thief").
SESSION_ENGINE = "accounts.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SECUREMSG_SESSION_SECONDS", 12 * 3600, minimum=60)
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if env_bool("SECUREMSG_BEHIND_TLS_PROXY", False):
    # Only when a proxy we run terminates TLS and overwrites this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECUREMSG_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECUREMSG_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECUREMSG_HSTS_PRELOAD", True)
    if not SECURE_HSTS_PRELOAD:
        # The operator opted out of the preload list on purpose.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# All JavaScript and CSS are static files, so neither inline code nor eval
# is ever needed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Static files, i18n -----------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console"}},
    "root": {"handlers": ["console"], "level": env_str("SECUREMSG_LOG_LEVEL", "INFO")},
    "loggers": {
        # Request bodies never reach a log line; django.request logs paths only.
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Operations (docs/operations.md) -----------------------------------------
# Health checks, Prometheus metrics, structured logs and the staff status page
# (securemsg.ops). Metrics are off (404) until a token or an allow-list is set.

from securemsg.ops import logs as _ops_logs  # noqa: E402

INSTALLED_APPS += ["django_prometheus", "securemsg.ops"]
# First and last, so that django-prometheus times the whole middleware chain;
# the request id is bound before anything else can log.
MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
MIDDLEWARE.insert(1, "securemsg.ops.middleware.RequestIdMiddleware")
MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")

SECUREMSG_METRICS_TOKEN = Secret(env_str("SECUREMSG_METRICS_TOKEN"))
SECUREMSG_METRICS_ALLOW = env_list("SECUREMSG_METRICS_ALLOW", [])
SECUREMSG_LOG_FORMAT = env_str("SECUREMSG_LOG_FORMAT", "json" if PRODUCTION else "console")
try:
    LOGGING = _ops_logs.logging_config(LOGGING, fmt=SECUREMSG_LOG_FORMAT)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# --- Staff two-factor (docs/security.md) --------------------------------------
# Staff and superusers verify a TOTP code (or a one-time recovery code) once per
# sign-in session before any admin page; securemsg.staffauth enforces it.
INSTALLED_APPS += [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "securemsg.staffauth",
]
_AUTH_MIDDLEWARE = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_AUTH_MIDDLEWARE + 1 : _AUTH_MIDDLEWARE + 1] = [
    "django_otp.middleware.OTPMiddleware",
    "securemsg.staffauth.middleware.StaffOTPMiddleware",
]
SECUREMSG_STAFF_OTP_REQUIRED = env_bool("SECUREMSG_STAFF_OTP_REQUIRED", True)
OTP_TOTP_ISSUER = "securemsg"
