"""Harbor's one settings module. Every value comes from the environment, read once, here.

Embedded mode (the default): SQLite file + in-memory channel layer + local-memory cache.
Scale-out mode: DATABASE_URL=postgres://... and REDIS_URL=redis://... ; nothing else changes.
"""

import os
import sqlite3
import sys
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
    "project.mail",
    "workflows",
    "notifications",
    "queue_app",
    "subscriptions",
    "project.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "project.csp.CSPMiddleware",  # django-csp's, each header built once (project/csp.py)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "project.api.reject_nul_characters",
    "project.polls.UnchangedPolls",  # unchanged polls' 304s before the rest (project/polls.py)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

#: Behind a reverse proxy that is the only way in (docs/deploy.md): the client's address from
#: X-Forwarded-For instead of the proxy's. Never without such a proxy: clients could pick theirs.
if env.bool("TRUST_X_FORWARDED_FOR", default=False):
    MIDDLEWARE.insert(0, "project.proxy.forwarded_for")

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


def _process_name() -> str:
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "manage.py" and len(sys.argv) > 1:
        program = sys.argv[1]
    elif program == "__main__.py":  # python -m daphne / gunicorn / pytest
        program = Path(sys.argv[0]).parent.name
    return f"harbor {program}"[:63]


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
    #: Django's backend with psycopg's C parser for timestamps and a cursor that prepares
    #: the statements written once (project/postgresql/base.py).
    _db["ENGINE"] = "project.postgresql"
    #: Under ASGI persistent connections ran PostgreSQL out of connections at 16 concurrent
    #: requests; psycopg's pool with CONN_MAX_AGE=0 keeps a bounded set per process.
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=1),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
    #: The statements written once (project.sql.prepared_cursor) are prepared per connection;
    #: Django's own cursors never are. Off behind a pooler that cannot keep them (PgBouncer
    #: before 1.21 in transaction mode).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        _db["OPTIONS"].setdefault("prepare_threshold", 5)
    #: Which process holds a connection, in pg_stat_activity: "harbor run_bot", "harbor daphne"…
    _db["OPTIONS"].setdefault("application_name", env.str("DATABASE_APPLICATION_NAME", default=_process_name()))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")


def _redis_url_with_db(url: str, offset: int) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{db + offset}"))


REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=5.0)
if REDIS_SOCKET_TIMEOUT <= 3:
    raise ImproperlyConfigured("REDIS_SOCKET_TIMEOUT must be above the channel layer's 2 s blocking pop (and some slack).")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            #: channels-redis with a 2 s blocking pop, shorter than the read timeout below.
            "BACKEND": "project.realtime.layers.RedisChannelLayer",
            "CONFIG": {
                #: Longer than the layer's blocking pop (idle sockets died when it was not:
                #: channels_redis#422), short enough that a dead Redis fails commands fast.
                "hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}],
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
            "BACKEND": "project.cache.FailOpenRedisCache",
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
#: Django's model backend behind the failed-login lockout (LOGIN_FAILURE_*): every password
#: check — login page, admin login, token endpoint — counts and refuses in one place.
AUTHENTICATION_BACKENDS = ["project.accounts.backends.LockoutModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

#: Failed password logins (any page, the admin, the token endpoint) per email and client address before 429.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
#: Seconds a single-use WebSocket ticket stays valid.
WS_TICKET_TTL = env.int("WS_TICKET_TTL", default=30)

#: Days an invitation to a tenant stays valid (resending starts again).
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
if INVITATION_TTL_DAYS < 1:
    raise ImproperlyConfigured("INVITATION_TTL_DAYS must be at least 1.")

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
#: Content-Security-Policy (django-csp) on every response: everything from Harbor's own origin,
#: nothing inline (static/js and static/css hold it all), images also as data: URIs (previews,
#: Swagger UI's icons), never framed. connect-src 'self' also covers ws:/wss: to the same host
#: (CSP Level 3: Chrome 71+, Firefox, Safari 16+). docs/deploy.md explains each directive.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

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
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "project.negotiation.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["project.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "project.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        #: DRF's rates and keys, counted per window in one round trip (project/throttling.py).
        "project.throttling.AnonRateThrottle",
        "project.throttling.UserRateThrottle",
        "project.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="3000/min"),
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
        #: POST /api/subscriptions/poll-now per user.
        "poll_now": env.str("THROTTLE_POLL_NOW", default="6/hour"),
    },
    "EXCEPTION_HANDLER": "project.api.exception_handler",
    #: Throttles count per REMOTE_ADDR (the server or project.proxy sets it from the proxy's
    #: header); DRF's default would key anonymous clients by an X-Forwarded-For they can forge.
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "project.openapi.HarborAutoSchema",
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
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.openapi.document_public_ids",
        "project.openapi.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "project.accounts.models.Membership.Role",
        "ParticipantRoleEnum": "workflows.models.Participant.Role",
        #: editor or viewer: a participant added to a workflow or named by a template.
        "AddedParticipantRoleEnum": "workflows.models.TemplateParticipant.ROLES",
        "WorkflowStatusEnum": "workflows.models.Workflow.Status",
        "WorkflowMessageTypeEnum": "workflows.models.Message.Type",
        "NotificationKindEnum": "notifications.models.Kind",
        "SubscriptionKindEnum": "subscriptions.models.Subscription.Kind",
        "ProviderAccountStatusEnum": "subscriptions.models.ProviderAccount.Status",
        "QueueMessageStatusEnum": "queue_app.models.QueueMessage.Status",
        "QueueMessageTypeEnum": "queue_app.models.QueueMessage.Type",
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
#: Each socket checks its credential and rights again this often, besides at once when one of
#: them ends: the safety net for a dropped channel-layer message and for expiring tokens and sessions.
REALTIME_ACCESS_RECHECK_SECONDS = env.float("REALTIME_ACCESS_RECHECK_SECONDS", default=60.0)
#: Scale-out: how often each server process holding sockets asks Redis whether it restarted
#: (project/realtime/layer_watch.py); its sockets are closed to rejoin their groups if it did.
REALTIME_LAYER_CHECK_SECONDS = env.float("REALTIME_LAYER_CHECK_SECONDS", default=2.0)
if REALTIME_PRESENCE_INTERVAL < 0 or min(REALTIME_DISPATCH_INTERVAL, REALTIME_ACCESS_RECHECK_SECONDS, REALTIME_LAYER_CHECK_SECONDS) <= 0:
    raise ImproperlyConfigured(
        "REALTIME_PRESENCE_INTERVAL must be >= 0, REALTIME_DISPATCH_INTERVAL, REALTIME_ACCESS_RECHECK_SECONDS and "
        "REALTIME_LAYER_CHECK_SECONDS > 0."
    )

# --- Outgoing calls (project/resilience) ----------------------------------------------------
#: Consecutive failures of one dependency before its circuit breaker opens.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
#: Seconds an open breaker rejects calls before letting one trial call through.
BREAKER_OPEN_SECONDS = env.float("BREAKER_OPEN_SECONDS", default=60.0)
#: How long a process trusts a healthy breaker it read and buffers its success counts (0: read
#: and write the shared row on every call). See project/resilience/breaker.py.
BREAKER_CACHE_SECONDS = env.float("BREAKER_CACHE_SECONDS", default=1.0)
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

#: URLs a tenant chooses (webhook endpoints, a tenant's model base URL) must resolve to public
#: addresses, checked when saved and again on connecting (project/resilience/outbound.py).
#: True for a deployment whose targets are on its private network, and for tests.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env.bool("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", default=False)
#: Plain http:// for such URLs (https:// only otherwise).
OUTBOUND_ALLOW_HTTP = env.bool("OUTBOUND_ALLOW_HTTP", default=DEBUG)

# --- Email (project/mail, docs/email.md) ----------------------------------------------------
#: Where mail goes, as a URL: smtp+tls://user:password@host:587 (STARTTLS), smtp+ssl://…:465,
#: smtp://host:25; consolemail:// (the default with DEBUG) prints each mail on the worker's stdout.
_email_url = env.str("EMAIL_URL", default="") or ("consolemail://" if DEBUG else "smtp://localhost:25")
try:
    _email = environ.Env.email_url_config(_email_url)
except ImproperlyConfigured as error:
    raise ImproperlyConfigured(
        f"EMAIL_URL: {error}; use smtp://, smtp+tls://, smtp+ssl://, consolemail:// or dummymail://"
    ) from None
#: Django's mail API writes to the outbox; `manage.py send_email` delivers through this backend.
EMAIL_BACKEND = "project.mail.backends.OutboxBackend"
EMAIL_DELIVERY_BACKEND = _email.pop("EMAIL_BACKEND")
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
#: Seconds an SMTP connection may take to answer (Django's default waits forever).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Harbor <harbor@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
#: The right-hand side of every Message-ID (default: the domain of DEFAULT_FROM_EMAIL).
EMAIL_MESSAGE_ID_DOMAIN = env.str(
    "EMAIL_MESSAGE_ID_DOMAIN", default=DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
)
#: Emails one worker takes per connection, and how long it holds them.
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=50)
EMAIL_LEASE_SECONDS = env.float("EMAIL_LEASE_SECONDS", default=120.0)
#: Backoff after a failed attempt: doubling from the base up to the cap (with jitter) ...
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=30.0)
EMAIL_RETRY_CAP_SECONDS = env.float("EMAIL_RETRY_CAP_SECONDS", default=3600.0)
#: ... until the email is this old; then it is marked failed.
EMAIL_GIVE_UP_SECONDS = env.float("EMAIL_GIVE_UP_SECONDS", default=3 * 24 * 3600.0)
#: Seconds `send_email --loop` sleeps when nothing is due.
EMAIL_LOOP_SLEEP_SECONDS = env.float("EMAIL_LOOP_SLEEP_SECONDS", default=1.0)
#: /health says mail is degraded when a due email has waited longer than this.
EMAIL_PENDING_AGE_WARNING_SECONDS = env.float("EMAIL_PENDING_AGE_WARNING_SECONDS", default=300.0)
if (
    EMAIL_TIMEOUT <= 0
    or EMAIL_BATCH_SIZE < 1
    or EMAIL_LEASE_SECONDS <= EMAIL_TIMEOUT
    or not 0 < EMAIL_RETRY_BASE_SECONDS <= EMAIL_RETRY_CAP_SECONDS
    or EMAIL_GIVE_UP_SECONDS <= 0
    or EMAIL_LOOP_SLEEP_SECONDS <= 0
):
    raise ImproperlyConfigured(
        "Email settings: EMAIL_TIMEOUT > 0, EMAIL_BATCH_SIZE >= 1, EMAIL_LEASE_SECONDS > EMAIL_TIMEOUT, "
        "0 < EMAIL_RETRY_BASE_SECONDS <= EMAIL_RETRY_CAP_SECONDS, EMAIL_GIVE_UP_SECONDS and "
        "EMAIL_LOOP_SLEEP_SECONDS > 0."
    )

# --- Email digests of what a person missed (notifications/digests.py, docs/email.md) ---------
def _duration(name: str, default: str):
    from project.durations import parse_duration

    try:
        return parse_duration(env.str(name, default=default))
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


#: How long a mention, an addition to a workflow, a reply to one's queue message or an account to
#: reconnect stays unseen in the app before it is emailed ("15m", "1h", "2d"...).
EMAIL_DIGEST_DELAY = _duration("EMAIL_DIGEST_DELAY", "15m")
#: At most one digest per person per period; what comes meanwhile waits for the next one.
EMAIL_DIGEST_PERIOD = _duration("EMAIL_DIGEST_PERIOD", "1h")
#: Seconds `send_digests --loop` sleeps when nobody has anything due.
EMAIL_DIGEST_LOOP_SLEEP_SECONDS = env.float("EMAIL_DIGEST_LOOP_SLEEP_SECONDS", default=30.0)
#: Harbor's public address, for links in mail that no request starts (digests, unsubscribe
#: links); by default the first CSRF_TRUSTED_ORIGINS entry, the address a proxy serves.
SITE_URL = env.str("SITE_URL", default=CSRF_TRUSTED_ORIGINS[0] if CSRF_TRUSTED_ORIGINS else "http://localhost:8000")
SITE_URL = SITE_URL.rstrip("/")
if not SITE_URL.startswith(("https://", "http://")) or not urlsplit(SITE_URL).netloc:
    raise ImproperlyConfigured(f"SITE_URL must be an http(s) address like https://harbor.example.com, not {SITE_URL!r}.")
if EMAIL_DIGEST_DELAY.total_seconds() <= 0 or EMAIL_DIGEST_PERIOD.total_seconds() <= 0 or EMAIL_DIGEST_LOOP_SLEEP_SECONDS <= 0:
    raise ImproperlyConfigured("EMAIL_DIGEST_DELAY, EMAIL_DIGEST_PERIOD and EMAIL_DIGEST_LOOP_SLEEP_SECONDS must be > 0.")

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

# --- Subscriptions (subscriptions/) ---------------------------------------------------------
#: Fernet keys (urlsafe base64 of 32 bytes) for OAuth tokens at rest, comma-separated: the first
#: encrypts, all decrypt. To rotate, put a new key first, run `manage.py rotate_token_keys`, then
#: drop the old one. Dedicated keys, never derived from SECRET_KEY. Make one with
#: `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set unless DEBUG=true (see docs/subscriptions.md).")
    # DEBUG only: a published key, so anything encrypted with it is readable by anyone.
    FIELD_ENCRYPTION_KEYS = ["ZGV2ZWxvcG1lbnQtb25seS1rZXktbm90LXNlY3JldCE="]


def _check_fernet_keys(keys):
    from cryptography.fernet import Fernet  # noqa: PLC0415  (settings import nothing heavy at top)

    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (urlsafe base64 of 32 bytes)."
            ) from None


_check_fernet_keys(FIELD_ENCRYPTION_KEYS)

#: Per provider: OAuth client, endpoints and API base URL. Tests point them at a local server.
SUBSCRIPTION_PROVIDERS = {
    "spotify": {
        "client_id": env.str("SPOTIFY_CLIENT_ID", default=""),
        "client_secret": env.str("SPOTIFY_CLIENT_SECRET", default=""),
        "authorize_url": env.str("SPOTIFY_AUTHORIZE_URL", default="https://accounts.spotify.com/authorize"),
        "token_url": env.str("SPOTIFY_TOKEN_URL", default="https://accounts.spotify.com/api/token"),
        "api_base_url": env.str("SPOTIFY_API_BASE_URL", default="https://api.spotify.com"),
        "scopes": env.list("SPOTIFY_SCOPES", default=["user-read-email", "user-follow-read", "playlist-read-private"]),
    },
    "youtube": {
        "client_id": env.str("YOUTUBE_CLIENT_ID", default=""),
        "client_secret": env.str("YOUTUBE_CLIENT_SECRET", default=""),
        "authorize_url": env.str("YOUTUBE_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"),
        "token_url": env.str("YOUTUBE_TOKEN_URL", default="https://oauth2.googleapis.com/token"),
        "api_base_url": env.str("YOUTUBE_API_BASE_URL", default="https://www.googleapis.com"),
        "scopes": env.list("YOUTUBE_SCOPES", default=["https://www.googleapis.com/auth/youtube.readonly"]),
    },
}
#: Default time between two polls of one user (PollSchedule.interval_seconds).
SUBSCRIPTIONS_POLL_INTERVAL_SECONDS = env.int("SUBSCRIPTIONS_POLL_INTERVAL_SECONDS", default=1800)
#: How long a poll_subscriptions run owns a claimed user; a run that died is taken over after it.
SUBSCRIPTIONS_POLL_LEASE_SECONDS = env.int("SUBSCRIPTIONS_POLL_LEASE_SECONDS", default=300)
#: After n consecutive failures a user waits min(MAX, BASE * 2**(n-1)) instead of the interval.
SUBSCRIPTIONS_BACKOFF_BASE_SECONDS = env.int("SUBSCRIPTIONS_BACKOFF_BASE_SECONDS", default=60)
SUBSCRIPTIONS_BACKOFF_MAX_SECONDS = env.int("SUBSCRIPTIONS_BACKOFF_MAX_SECONDS", default=6 * 3600)
#: A token expiring within this many seconds is refreshed before use (and by refresh_tokens).
SUBSCRIPTIONS_REFRESH_MARGIN_SECONDS = env.int("SUBSCRIPTIONS_REFRESH_MARGIN_SECONDS", default=300)
#: Provider API calls one user may cause per minute, across every run; the rest waits.
SUBSCRIPTIONS_USER_CALLS_PER_MINUTE = env.int("SUBSCRIPTIONS_USER_CALLS_PER_MINUTE", default=60)
#: Items fetched per subscription per poll (one page).
SUBSCRIPTIONS_PAGE_SIZE = env.int("SUBSCRIPTIONS_PAGE_SIZE", default=50)
#: Seconds `poll_subscriptions --loop` sleeps when nobody is due.
SUBSCRIPTIONS_LOOP_SLEEP_SECONDS = env.float("SUBSCRIPTIONS_LOOP_SLEEP_SECONDS", default=10.0)
if min(SUBSCRIPTIONS_POLL_INTERVAL_SECONDS, SUBSCRIPTIONS_POLL_LEASE_SECONDS, SUBSCRIPTIONS_BACKOFF_BASE_SECONDS,
       SUBSCRIPTIONS_USER_CALLS_PER_MINUTE, SUBSCRIPTIONS_PAGE_SIZE) < 1 or SUBSCRIPTIONS_LOOP_SLEEP_SECONDS <= 0:
    raise ImproperlyConfigured("SUBSCRIPTIONS_* intervals, lease, backoff, rate limit and page size must be >= 1.")
# --- Queue (queue_app) ----------------------------------------------------------------------
#: Longest queue message (human or bot reply), in characters.
QUEUE_MESSAGE_MAX_LENGTH = env.int("QUEUE_MESSAGE_MAX_LENGTH", default=2000)
#: Complete messages kept per stream by `manage.py prune_queue`; pending, processing and failed
#: ones are never pruned.
QUEUE_RETENTION = env.int("QUEUE_RETENTION", default=200)
#: Failed or expired attempts before a message becomes a dead letter (status "failed").
QUEUE_MAX_ATTEMPTS = env.int("QUEUE_MAX_ATTEMPTS", default=5)
#: A claim's lease when the worker asks for none, and the longest one it may ask for.
QUEUE_LEASE_SECONDS = env.float("QUEUE_LEASE_SECONDS", default=60.0)
QUEUE_MAX_LEASE_SECONDS = env.float("QUEUE_MAX_LEASE_SECONDS", default=600.0)
#: Backoff after a failed attempt n (1-based): min(cap, base * 2**(n-1)) seconds.
QUEUE_RETRY_BASE_SECONDS = env.float("QUEUE_RETRY_BASE_SECONDS", default=5.0)
QUEUE_RETRY_CAP_SECONDS = env.float("QUEUE_RETRY_CAP_SECONDS", default=300.0)
#: The health check calls the queue degraded when the oldest pending message waited longer.
QUEUE_PENDING_AGE_WARNING_SECONDS = env.float("QUEUE_PENDING_AGE_WARNING_SECONDS", default=300.0)
#: Ancestors of a reply that the bot sees as conversation (the claim response's `thread`).
QUEUE_THREAD_DEPTH = env.int("QUEUE_THREAD_DEPTH", default=10)
#: The provider `manage.py run_bot` uses unless --provider says otherwise (echo needs no key).
QUEUE_PROVIDER = env.str("QUEUE_PROVIDER", default="echo")
#: Entity → persona (system prompt), e.g. '{"fear-and-loathing": "You are Raoul Duke..."}'.
QUEUE_PERSONAS = env.json("QUEUE_PERSONAS", default={})
QUEUE_DEFAULT_PERSONA = env.str(
    "QUEUE_DEFAULT_PERSONA", default="You answer messages in a public chat stream briefly and kindly."
)
#: Seconds the echo provider waits before answering (tests and demos of slow providers).
#: The name a bot reply shows when neither the bot nor the message's entity names it.
QUEUE_BOT_NAME = env.str("QUEUE_BOT_NAME", default="Harbor bot")
QUEUE_ECHO_DELAY_SECONDS = env.float("QUEUE_ECHO_DELAY_SECONDS", default=0.0)
#: Language-model providers for the bot (the official SDKs, queue_app/providers.py); keys stay
#: empty unless that provider is used. A base URL is the SDK's `base_url`: it includes `/v1`.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="https://api.anthropic.com")
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
#: A current model of the anthropic SDK's model list (2.16); the SDK sets `anthropic-version`.
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-haiku-4-5")
#: Ollama through its OpenAI-compatible endpoint (a preset of the openai provider).
OLLAMA_BASE_URL = env.str("OLLAMA_BASE_URL", default="http://127.0.0.1:11434/v1")
OLLAMA_MODEL = env.str("OLLAMA_MODEL", default="llama3.2")
#: A model call: connecting takes seconds; an answer minutes (CPU-bound or loading models).
#: The read timeout is the longest silence between two bytes (or streamed chunks); the
#: deadline bounds one message's whole call, resends included. The bot's lease covers it.
QUEUE_PROVIDER_CONNECT_TIMEOUT_SECONDS = env.float("QUEUE_PROVIDER_CONNECT_TIMEOUT_SECONDS", default=10.0)
QUEUE_PROVIDER_READ_TIMEOUT_MINUTES = env.float("QUEUE_PROVIDER_READ_TIMEOUT_MINUTES", default=5.0)
QUEUE_PROVIDER_DEADLINE_MINUTES = env.float("QUEUE_PROVIDER_DEADLINE_MINUTES", default=9.0)
#: A streamed answer's partial text reaches the stream page at most this often.
QUEUE_STREAM_INTERVAL_SECONDS = env.float("QUEUE_STREAM_INTERVAL_SECONDS", default=0.25)
#: Longest reply asked of a language model, in tokens.
QUEUE_REPLY_MAX_TOKENS = env.int("QUEUE_REPLY_MAX_TOKENS", default=512)
if (
    QUEUE_MESSAGE_MAX_LENGTH < 1
    or QUEUE_RETENTION < 0
    or QUEUE_MAX_ATTEMPTS < 1
    or not 0 < QUEUE_LEASE_SECONDS <= QUEUE_MAX_LEASE_SECONDS
    or QUEUE_RETRY_BASE_SECONDS < 0
    or QUEUE_RETRY_CAP_SECONDS < QUEUE_RETRY_BASE_SECONDS
    or QUEUE_THREAD_DEPTH < 0
    or QUEUE_PROVIDER_CONNECT_TIMEOUT_SECONDS <= 0
    or not 0 < QUEUE_PROVIDER_READ_TIMEOUT_MINUTES <= QUEUE_PROVIDER_DEADLINE_MINUTES
    or QUEUE_PROVIDER_DEADLINE_MINUTES * 60 + 30 > QUEUE_MAX_LEASE_SECONDS
    or QUEUE_STREAM_INTERVAL_SECONDS <= 0
    or not isinstance(QUEUE_PERSONAS, dict)
):
    raise ImproperlyConfigured(
        "Queue settings: QUEUE_MESSAGE_MAX_LENGTH and QUEUE_MAX_ATTEMPTS >= 1, QUEUE_RETENTION and "
        "QUEUE_THREAD_DEPTH >= 0, 0 < QUEUE_LEASE_SECONDS <= QUEUE_MAX_LEASE_SECONDS, "
        "0 <= QUEUE_RETRY_BASE_SECONDS <= QUEUE_RETRY_CAP_SECONDS, QUEUE_PERSONAS a JSON object, "
        "0 < QUEUE_PROVIDER_READ_TIMEOUT_MINUTES <= QUEUE_PROVIDER_DEADLINE_MINUTES, the deadline plus "
        "30 s within QUEUE_MAX_LEASE_SECONDS, positive connect timeout and stream interval."
    )

# --- Webhooks (project/webhooks, docs/webhooks.md) ------------------------------------------
#: Seconds for one delivery attempt (connect and read); the receiver should answer at once and
#: work later.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
#: Backoff after failed attempt n (from 1): uniform in [base, min(cap, base * 2**(n-1))] (jitter).
#: A Retry-After header (429, 503) replaces it, up to WEBHOOK_RETRY_AFTER_MAX_SECONDS.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=5.0)
WEBHOOK_RETRY_CAP_SECONDS = env.float("WEBHOOK_RETRY_CAP_SECONDS", default=3600.0)
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env.float("WEBHOOK_RETRY_AFTER_MAX_SECONDS", default=3600.0)
#: An endpoint failing the same event this long is disabled and its tenant's owners notified.
WEBHOOK_GIVE_UP_SECONDS = env.float("WEBHOOK_GIVE_UP_SECONDS", default=3 * 24 * 3600.0)
#: How long a deliver_webhooks process owns an endpoint it took (renewed after each attempt).
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
#: Endpoints one deliver_webhooks process sends to at once (one thread each).
WEBHOOK_CONCURRENCY = env.int("WEBHOOK_CONCURRENCY", default=8)
#: Events sent to one endpoint before it is given back for others to be served.
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)
#: How long `deliver_webhooks --loop` sleeps when nothing is due.
WEBHOOK_LOOP_SLEEP_SECONDS = env.float("WEBHOOK_LOOP_SLEEP_SECONDS", default=0.5)
#: After a rotation the previous secret still signs this long (two signatures per request).
WEBHOOK_SECRET_ROTATION_SECONDS = env.float("WEBHOOK_SECRET_ROTATION_SECONDS", default=24 * 3600.0)
#: A hole in the event log's ids younger than this may be a transaction not yet committed
#: (PostgreSQL): deliveries wait for it, so an endpoint's cursor never passes an event.
WEBHOOK_GAP_GRACE_SECONDS = env.float("WEBHOOK_GAP_GRACE_SECONDS", default=5.0)
#: Endpoints a tenant may register.
WEBHOOK_MAX_ENDPOINTS_PER_TENANT = env.int("WEBHOOK_MAX_ENDPOINTS_PER_TENANT", default=20)
if (
    min(WEBHOOK_TIMEOUT_SECONDS, WEBHOOK_LEASE_SECONDS, WEBHOOK_LOOP_SLEEP_SECONDS, WEBHOOK_GIVE_UP_SECONDS) <= 0
    or WEBHOOK_LEASE_SECONDS <= WEBHOOK_TIMEOUT_SECONDS
    or not 0 <= WEBHOOK_RETRY_BASE_SECONDS <= WEBHOOK_RETRY_CAP_SECONDS
    or min(WEBHOOK_CONCURRENCY, WEBHOOK_BATCH_SIZE, WEBHOOK_MAX_ENDPOINTS_PER_TENANT) < 1
    or WEBHOOK_SECRET_ROTATION_SECONDS < 0
    or WEBHOOK_GAP_GRACE_SECONDS < 0
):
    raise ImproperlyConfigured(
        "Webhook settings: timeouts, lease, sleep and give-up window > 0 with the lease longer than "
        "the timeout, 0 <= WEBHOOK_RETRY_BASE_SECONDS <= WEBHOOK_RETRY_CAP_SECONDS, concurrency, "
        "batch size and endpoints per tenant >= 1."
    )

HARBOR_VERSION = "0.1.0"

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "project.logging.JsonFormatter"}},
    #: stderr: a command's own output on stdout (`health --json`, summaries) stays parseable.
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": LOG_LEVEL},
        "daphne": {"level": env.str("DAPHNE_LOG_LEVEL", default="WARNING").upper()},
    },
}
