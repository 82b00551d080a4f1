"""Harbor's one settings module. Every value comes from the environment, read once, here.

Embedded mode (the default): SQLite file + in-memory channel layer + local-memory cache.
Scale-out mode: DATABASE_URL=postgres://... and REDIS_URL=redis://... ; nothing else changes.
"""

import os
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set unless DEBUG=true.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-true"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves HTTP and WebSockets
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "project.accounts",
    "project.realtime",
    "project.health",
    "project.resilience",
    "project.workers",
    "workflows",
    "notifications",
    "queue_app",
    "subscriptions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

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
                "project.accounts.context_processors.tenants",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if sqlite3.sqlite_version_info < (3, 35):
        # Bulk inserts must return ids (RETURNING): every published event needs its cursor.
        raise ImproperlyConfigured(f"Harbor needs SQLite 3.35 or newer, this Python has {sqlite3.sqlite_version}")
    #: IMMEDIATE + timeout: concurrent writers wait for the lock instead of failing with
    #: "database is locked"; WAL lets readers run beside the writer.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
    # Tests use a file database too (the in-memory one behaves differently under concurrency),
    # one per test run so that two runs never share it.
    _db["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"harbor-test-{os.getpid()}.sqlite3")}
    #: A SQLite connection is a file handle, not a server slot: keep it. Opening one per request
    #: and per socket query (CONN_MAX_AGE=0, the PostgreSQL rule) was a quarter of the server's
    #: time in bench/fanout.py, the WAL pragma run on every open included.
    _db["CONN_MAX_AGE"] = env.int("SQLITE_CONN_MAX_AGE", default=600)
elif _db["ENGINE"] == "django.db.backends.postgresql":
    #: Under ASGI persistent connections ran PostgreSQL out of connections at 16 concurrent
    #: requests; psycopg's pool with CONN_MAX_AGE=0 keeps a bounded set per process.
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")


def _redis_url_with_db(url: str, offset: int) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{db + offset}"))


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env.str("CHANNELS_PREFIX", default="harbor"),
                "capacity": 1000,
                #: Never shorter than daphne's websocket timeout (24 h), or idle sockets
                #: silently drop out of their groups.
                "group_expiry": 86400,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            #: The cache sits one Redis database above the channel layer's.
            "LOCATION": env.str("REDIS_CACHE_URL", default=_redis_url_with_db(REDIS_URL, 1)),
            "KEY_PREFIX": "harbor",
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            #: Channels' in-memory layer minus its per-message scans of every channel (O(M²)
            #: for a group of M sockets); same capacity per socket as the Redis layer.
            "BACKEND": "project.realtime.layers.EmbeddedChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

#: Failed logins (browser or token endpoint) per email and client address before 429.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
#: Seconds a single-use WebSocket ticket stays valid.
WS_TICKET_TTL = env.int("WS_TICKET_TTL", default=30)

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
#: Usually the reverse proxy redirects to HTTPS; set true when Harbor must do it itself.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# --- I18N, static, media --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    #: Hashed, compressed names served forever by WhiteNoise; needs `collectstatic`, so
    #: development (DEBUG) serves files straight from static/.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

#: Uploads to a workflow: the largest file accepted, and the content types accepted.
MEDIA_MAX_UPLOAD_BYTES = env.int("MEDIA_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
MEDIA_ALLOWED_TYPES = env.list(
    "MEDIA_ALLOWED_TYPES",
    default=["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv"],
)
#: Longest workflow message, in characters (a socket frame is capped at 1 MiB by daphne).
WORKFLOW_MESSAGE_MAX_LENGTH = env.int("WORKFLOW_MESSAGE_MAX_LENGTH", default=10_000)
#: Typing indicators a socket may send per 10 seconds; the rest are dropped.
WORKFLOW_TYPING_LIMIT = env.int("WORKFLOW_TYPING_LIMIT", default=5)
#: How many of the newest notifications `GET /notifications/{email}/check` returns.
NOTIFICATIONS_CHECK_LATEST = env.int("NOTIFICATIONS_CHECK_LATEST", default=10)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "project.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "project.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="3000/min"),
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
    },
    "EXCEPTION_HANDLER": "project.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Harbor API",
    "DESCRIPTION": "Real-time collaboration. Authenticate with `Authorization: Bearer <token>` "
    "from POST /api/auth/token, or with a browser session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    #: Swagger UI from our own static files rather than a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    #: Choice sets that share a field name ("role", "status") need names of their own.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "project.accounts.models.Membership.Role",
        "ParticipantRoleEnum": "workflows.models.Participant.Role",
        "WorkflowStatusEnum": "workflows.models.Workflow.Status",
    },
}

# --- Real time ------------------------------------------------------------------------------
#: How often the in-process dispatcher (embedded mode) looks for events other processes wrote.
REALTIME_DISPATCH_INTERVAL = env.float("REALTIME_DISPATCH_INTERVAL", default=0.25)
#: Most events replayed to a reconnecting socket; beyond it the client refetches over REST.
REALTIME_REPLAY_LIMIT = env.int("REALTIME_REPLAY_LIMIT", default=1000)
#: Presence frames per group and server process: at most one per this many seconds, joins and
#: leaves in between folded into the next one (a crowd joining costs O(M) frames, not O(M²)).
REALTIME_PRESENCE_INTERVAL = env.float("REALTIME_PRESENCE_INTERVAL", default=0.5)
if REALTIME_PRESENCE_INTERVAL < 0 or REALTIME_DISPATCH_INTERVAL <= 0:
    raise ImproperlyConfigured("REALTIME_PRESENCE_INTERVAL must be >= 0 and REALTIME_DISPATCH_INTERVAL > 0.")

# --- Outgoing calls (project/resilience) ----------------------------------------------------
#: Consecutive failures of one dependency before its circuit breaker opens.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
#: Seconds an open breaker rejects calls before letting one trial call through.
BREAKER_OPEN_SECONDS = env.float("BREAKER_OPEN_SECONDS", default=60.0)
#: (connect, read) timeouts for every outgoing HTTP call; connect slightly above 3 s, a TCP
#: retransmission window.
HTTP_TIMEOUT_SECONDS = (
    env.float("HTTP_CONNECT_TIMEOUT_SECONDS", default=3.05),
    env.float("HTTP_READ_TIMEOUT_SECONDS", default=10.0),
)
#: Retry backoff: full jitter, delay n is uniform in [0, min(cap, base * 2**n)].
RETRY_BASE_SECONDS = env.float("RETRY_BASE_SECONDS", default=0.5)
RETRY_CAP_SECONDS = env.float("RETRY_CAP_SECONDS", default=10.0)
#: Total time one outgoing call may take, retries and waits included.
RETRY_DEADLINE_SECONDS = env.float("RETRY_DEADLINE_SECONDS", default=30.0)
#: Attempts per outgoing call, the first one included.
RETRY_MAX_ATTEMPTS = env.int("RETRY_MAX_ATTEMPTS", default=4)
if BREAKER_FAILURE_THRESHOLD < 1 or RETRY_MAX_ATTEMPTS < 1 or min(HTTP_TIMEOUT_SECONDS) <= 0:
    raise ImproperlyConfigured(
        "BREAKER_FAILURE_THRESHOLD and RETRY_MAX_ATTEMPTS must be >= 1 and HTTP timeouts > 0."
    )

# --- Health and workers (project/health, project/workers) -----------------------------------
#: Lets monitors see /health details with ?token=...; empty means only staff see them.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
#: How long /health waits for its checks (run concurrently) before calling the slow ones down.
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=2.0)
#: A long-running command writes its heartbeat at most this often.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=5.0)
#: A worker silent for longer than this is shown as down.
WORKER_STALE_SECONDS = env.float("WORKER_STALE_SECONDS", default=30.0)
if HEALTH_CHECK_TIMEOUT_SECONDS <= 0 or WORKER_HEARTBEAT_SECONDS <= 0 or WORKER_STALE_SECONDS <= WORKER_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "HEALTH_CHECK_TIMEOUT_SECONDS and WORKER_HEARTBEAT_SECONDS must be > 0, and WORKER_STALE_SECONDS "
        "longer than WORKER_HEARTBEAT_SECONDS."
    )

HARBOR_VERSION = "0.1.0"

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "project.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": LOG_LEVEL},
        "daphne": {"level": env.str("DAPHNE_LOG_LEVEL", default="WARNING").upper()},
    },
}
