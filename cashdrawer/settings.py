"""Cashdrawer settings, read from the environment.

DATABASE_URL  database (default: SQLite file var/cashdrawer.sqlite3 in the project folder)
SECRET_KEY    required unless DEBUG is on
DEBUG         1/0 (default 0)
ALLOWED_HOSTS comma-separated (default: localhost names when DEBUG is on, none otherwise)
CONN_MAX_AGE  seconds a database connection is kept (default 60; always 0 under runserver)
DATABASE_REPLICA_URL, REPLICA_PIN_SECONDS  a read replica for the reports
DATABASE_POOLING  transaction: behind a transaction-pooling PgBouncer
LOG_LEVEL     level of the log on stderr (default INFO)
LATE_SALES_LIMIT_DAYS  how many days back a sale's occurred_at may lie (default 90)
ALERT_OPEN_HOURS, SITE_URL, EMAIL_*, DEFAULT_FROM_EMAIL  alerts and their e-mail
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from django.utils.csp import CSP

from cashdrawer.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or set DEBUG=1 for development)."
        )
    # Development only: a key kept in var/ so logins survive a restart of `make run`.
    VAR_DIR.mkdir(exist_ok=True)
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The proxies whose X-Forwarded-For names the client in the audit trail: the same variable,
# and the same default, as gunicorn's trust of X-Forwarded-Proto (docs/DEPLOYMENT.md).
TRUSTED_PROXIES = env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "axes",
    "cashdrawer",
    "sessions_app",
    "reports",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Serves /static/ with DEBUG off too (no separate web server needed for a store).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside every middleware that may touch the database, so that they see the 500
    # Django makes of a failure inside: JSON under /api/, 503 for a database outage.
    "cashdrawer.error_reports.ApiErrorMiddleware",
    "cashdrawer.outage.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cashdrawer.outage.SessionRefreshMiddleware",
    # A user's reports read from the primary for a moment after a write (db_router.py).
    "cashdrawer.db_router.PrimaryAfterWriteMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its documentation asks: turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cashdrawer.urls"

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
                "cashdrawer.context_processors.navigation",
                "alerts.context_processors.unseen_alerts",
            ],
        },
    },
]

WSGI_APPLICATION = "cashdrawer.wsgi.application"
ASGI_APPLICATION = "cashdrawer.asgi.application"

# The development server runs every request in a thread of its own; a persistent
# connection per thread would pile up (16 terminals took PostgreSQL to its 100
# connections), so under runserver each request closes its connection.
RUNSERVER = sys.argv[1:2] == ["runserver"]


def _database(url: str) -> dict:
    """One connection's settings from a URL; the primary and the replica share them."""
    database = dj_database_url.parse(
        url,
        # Keep connections open between requests so POS calls do not pay for a reconnect;
        # gunicorn's fixed threads bound them (deploy/gunicorn.conf.py). A connection
        # broken by a database restart is noticed before reuse and replaced.
        conn_max_age=0 if RUNSERVER else env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
    if database["ENGINE"] == "django.db.backends.postgresql":
        # An unreachable server (packets dropped) fails in seconds, as a 503, instead of
        # holding a worker for minutes; `?connect_timeout=N` in the URL overrides it.
        database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
        if DATABASE_POOLING == "transaction":
            # Behind a transaction-pooling PgBouncer (1.18) a prepared statement may be
            # looked for on another server connection. Django leaves psycopg's prepared
            # statements off already; a `?prepare_threshold=` in the URL must not turn
            # them on. Server-side cursors stay on: every streamed download reads inside
            # one transaction (reports/exports.py), where a cursor is safe behind the
            # pooler, and DISABLE_SERVER_SIDE_CURSORS would read a year's journal into
            # memory (docs/DEPLOYMENT.md, "Behind PgBouncer").
            database["OPTIONS"]["prepare_threshold"] = None
    return database


# DATABASE_POOLING=transaction: the app connects through a pooler in transaction mode.
DATABASE_POOLING = (env_str("DATABASE_POOLING") or "session").strip().lower()
if DATABASE_POOLING not in {"session", "transaction"}:
    raise ImproperlyConfigured("DATABASE_POOLING must be session or transaction.")

DATABASES = {
    "default": _database(env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'cashdrawer.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # SQLite serialises writers; make them wait for each other instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

# A streaming replica of the primary (docs/DEPLOYMENT.md, "A read replica"): the
# overviews, reports, CSV downloads and charts read from it (cashdrawer/db_router.py);
# every write, and every read that must see a write just made, goes to the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL") or ""
if DATABASE_REPLICA_URL:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs a PostgreSQL DATABASE_URL.")
    DATABASES["replica"] = _database(DATABASE_REPLICA_URL)
    # The test runner creates no database of its own for it: there it is the primary.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["cashdrawer.db_router.ReplicaRouter"]
# After a user's successful write (any request but GET/HEAD/OPTIONS that did not fail),
# that user's reports read from the primary for this many seconds, so that the overview
# right after a close shows the close even while the replica is a moment behind.
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 5)
if not 0 <= REPLICA_PIN_SECONDS <= 3600:
    raise ImproperlyConfigured("REPLICA_PIN_SECONDS must lie between 0 and 3600 seconds.")
# How long a replica that did not answer is left alone before it is tried again; the
# reports read from the primary meanwhile.
REPLICA_RETRY_SECONDS = 30

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Bounds (cashdrawer/bounds.py): a terminal that was offline may send sales this many
# days old (they arrive as late sales); older ones are refused.
LATE_SALES_LIMIT_DAYS = env_int("LATE_SALES_LIMIT_DAYS", 90)
if not 1 <= LATE_SALES_LIMIT_DAYS <= 3660:
    raise ImproperlyConfigured("LATE_SALES_LIMIT_DAYS must lie between 1 and 3660 days.")

# Alerts (alerts/, docs/DOMAIN.md "Alerts"): a session still open this many hours after it
# opened raises an alert (`manage.py raise_alerts`, run every few minutes).
ALERT_OPEN_HOURS = env_int("ALERT_OPEN_HOURS", 16)
if not 1 <= ALERT_OPEN_HOURS <= 24 * 14:
    raise ImproperlyConfigured("ALERT_OPEN_HOURS must lie between 1 and 336 hours.")
# The address of the site as its users reach it, for the links in e-mails (a mail has no
# request to take it from). Without one, a mail names the page's path only.
SITE_URL = (env_str("SITE_URL") or ("http://127.0.0.1:8000" if DEBUG else "")).rstrip("/")

# E-mail (alerts): printed on the console under `make run` (DEBUG on), sent over SMTP
# otherwise (docs/DEPLOYMENT.md). Django 6.1's MAILERS, built from the EMAIL_* variables
# (the test runner swaps every mailer for its in-memory one). A mail goes out after the
# close that raised it has committed; a failure to send is logged and undoes nothing.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
_SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST") or "localhost",
    "port": env_int("EMAIL_PORT", 25),
    "username": env_str("EMAIL_HOST_USER") or "",
    "password": env_str("EMAIL_HOST_PASSWORD") or "",
    "use_tls": env_bool("EMAIL_USE_TLS", default=False),
    "use_ssl": env_bool("EMAIL_USE_SSL", default=False),
    # Seconds to wait for the mail server: a close's mail is sent in the request that
    # closed the session (after its commit), so a server that does not answer must not
    # hold it long.
    "timeout": env_int("EMAIL_TIMEOUT", 10),
}
if _SMTP_OPTIONS["use_tls"] and _SMTP_OPTIONS["use_ssl"]:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": _SMTP_OPTIONS if EMAIL_BACKEND_PATH.endswith(".smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "cashdrawer@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins (django-axes, on the login page, the admin's and POST /api/v1/auth/token/):
# after LOGIN_FAILURE_LIMIT failures for one username, or from one address, with no
# LOGIN_LOCKOUT_MINUTES pause between them, that username or address is refused for
# LOGIN_LOCKOUT_MINUTES, the right password included (cashdrawer/lockout.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout do not make it longer: it ends LOGIN_LOCKOUT_MINUTES after
# the failure that started it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "cashdrawer.audit.client_address"
AXES_LOCKOUT_CALLABLE = "cashdrawer.lockout.lockout_response"
# Successful logins are in our audit trail already; failures are kept by axes (to count
# them) and audited by us.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
if AXES_FAILURE_LIMIT < 1 or dt.timedelta(0) >= AXES_COOLOFF_TIME:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be positive.")

# API tokens (cashdrawer/authentication.py): a user token works for USER_TOKEN_DAYS after
# it was issued; a device token until the expiry its manager gave it, if any.
USER_TOKEN_DAYS = env_int("USER_TOKEN_DAYS", 30)
if not 1 <= USER_TOKEN_DAYS <= 3660:
    raise ImproperlyConfigured("USER_TOKEN_DAYS must lie between 1 and 3660 days.")

# Request rates of the API (cashdrawer/throttling.py), as DRF writes them ("10/min"):
# POST /api/v1/auth/token/ per client address, wrong or unknown tokens per client
# address, and every request of one token (counted in each server process).
API_LOGIN_RATE = env_str("API_LOGIN_RATE") or "10/min"
API_BAD_TOKEN_RATE = env_str("API_BAD_TOKEN_RATE") or "20/min"
API_TOKEN_RATE = env_str("API_TOKEN_RATE") or "3000/min"

# The default cache is each process's memory (the per-token rate); the login and
# bad-token rates are counted in a database table shared by every server process
# (created by `manage.py createcachetable`, which scripts/run and scripts/serve call).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cashdrawer_cache",
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["cashdrawer.formats"]
USE_I18N = True
# Times are stored in UTC; each location's own time zone is used for display and for
# deciding which day a session belongs to.
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves the files straight from static/, so no collectstatic step is needed
# to run the app with DEBUG off.
WHITENOISE_USE_FINDERS = True
# ...and so STATIC_ROOT need not exist; WhiteNoise would warn about it on every start.
warnings.filterwarnings("ignore", message="No directory at: ")

REST_FRAMEWORK = {
    "COERCE_DECIMAL_TO_STRING": True,
    # drf-spectacular's, with what it cannot infer (cashdrawer/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "cashdrawer.api.schema.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cashdrawer.authentication.TokenAuthentication",
        # The browser's session cookie, with CSRF checks on unsafe methods.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "cashdrawer.permissions.DevicesOnlyWhereAllowed",
    ],
    # JSON only, with numbers parsed as exact Decimals (never floats).
    "DEFAULT_PARSER_CLASSES": ["cashdrawer.api.base.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "cashdrawer.api.base.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["cashdrawer.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": API_TOKEN_RATE,
        "login": API_LOGIN_RATE,
        "bad_token": API_BAD_TOKEN_RATE,
    },
    "EXCEPTION_HANDLER": "cashdrawer.exception_handler.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cashdrawer API",
    "DESCRIPTION": (
        "The API for POS terminals, scripts and integrations. Authenticate with "
        "`Authorization: Token <key>` (a user token from POST /api/v1/auth/token/, or a "
        "device token a manager issues for one register). A user token expires after "
        f"{USER_TOKEN_DAYS} days (401 `token_expired`) and with its user's password. Money "
        "travels as decimal strings with the currency's minor units; times as ISO 8601 "
        "with an offset. Every POST takes an `Idempotency-Key` header, scoped to the user "
        "(or a device token's register). Errors: 400 `{field: [message]}`; "
        "401/403/404/409/415/422/429/503 `{detail, code}`; a 429 (too many requests) and a "
        "503 (the database is unavailable) have `Retry-After`."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response bodies as separate components: read-only fields stay out of
    # request bodies, required ones are marked in responses.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: the docs render offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RegisterRoleEnum": "cashdrawer.models.Register.Role",
        "SessionStatusEnum": "sessions_app.models.TrackingSession.Status",
        "DenominationKindEnum": "cashdrawer.models.Denomination.Kind",
        "TransactionKindEnum": "sessions_app.models.Transaction.Kind",
    },
}

# The debug page (DEBUG on) hides secrets: settings, environment variables and local
# variables named like one, and the password of every URL (cashdrawer/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "cashdrawer.error_reports.SecretsHidingFilter"
DEFAULT_EXCEPTION_REPORTER = "cashdrawer.error_reports.ExceptionReporter"

# Everything to stderr, DEBUG on or off (Django's default prints nothing with DEBUG off):
# under gunicorn that is its error log, next to the access log on stdout.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": env_str("LOG_LEVEL") or "INFO"},
    # Django's own loggers send through the root's handler, not their DEBUG-only one.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # django-axes says INFO about every login; failures are in the audit trail.
        "axes": {"level": "WARNING"},
    },
}

# --- security (docs/SECURITY.md) ---------------------------------------------------------

# HTTPS=1: the site is reached over TLS only, usually through a proxy that terminates it
# and says so in X-Forwarded-Proto (docs/DEPLOYMENT.md). Then plain-HTTP requests are
# redirected, browsers are told to come back over HTTPS only (HSTS) and cookies are
# never sent without TLS.
HTTPS = env_bool("HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # /healthz and /readyz answer load balancers that probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", default=False)
    # Both are the operator's choice, not a default: HSTS for every subdomain breaks any
    # of them still served over plain HTTP, and the preload list is a promise to browser
    # makers that is slow to take back. `check --deploy` warns about each left off; that
    # choice is made here, so the warnings are silenced (docs/SECURITY.md).
    SILENCED_SYSTEM_CHECKS = [
        *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
        *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    ]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Permissions-Policy (django-permissions-policy): no page uses any of these features.
PERMISSIONS_POLICY = {
    name: []
    for name in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# Content-Security-Policy (Django's own middleware): scripts, styles, images and fonts
# from this site only; no inline script or style, no plugins, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# The session cookie: gone when the browser closes (a shared store PC) and after
# SESSION_IDLE_HOURS without a request; each request moves the end along
# (cashdrawer.outage.SessionRefreshMiddleware: like SESSION_SAVE_EVERY_REQUEST, but not
# on an answer that failed, which may be a database outage, and only when the end moves by
# more than a minute, which the session store below knows).
SESSION_ENGINE = "cashdrawer.session_store"
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_HOURS", 12) * 60 * 60
if not 1 <= SESSION_COOKIE_AGE // 3600 <= 24 * 90:
    raise ImproperlyConfigured("SESSION_IDLE_HOURS must lie between 1 and 2160 hours.")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
