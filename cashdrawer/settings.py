"""Cashdrawer settings, read from the environment.

DATABASE_URL  database (default: SQLite file var/cashdrawer.sqlite3 in the project folder)
SECRET_KEY    required unless DEBUG is on
DEBUG         1/0 (default 0)
ALLOWED_HOSTS comma-separated (default: localhost names when DEBUG is on, none otherwise)
CONN_MAX_AGE  seconds a database connection is kept (default 60; always 0 under runserver)
LOG_LEVEL     level of the log on stderr (default INFO)
LATE_SALES_LIMIT_DAYS  how many days back a sale's occurred_at may lie (default 90)
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

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
    "cashdrawer",
    "sessions_app",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ with DEBUG off too (no separate web server needed for a store).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside every middleware that may touch the database, so that they see the 500
    # Django makes of a failure inside: JSON under /api/, 503 for a database outage.
    "cashdrawer.error_reports.ApiErrorMiddleware",
    "cashdrawer.outage.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'cashdrawer.sqlite3'}",
        # Keep connections open between requests so POS calls do not pay for a reconnect;
        # gunicorn's fixed threads bound them (deploy/gunicorn.conf.py). A connection
        # broken by a database restart is noticed before reuse and replaced.
        conn_max_age=0 if RUNSERVER else env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server (packets dropped) fails in seconds, as a 503, instead of
    # holding a worker for minutes; `?connect_timeout=N` in DATABASE_URL overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # SQLite serialises writers; make them wait for each other instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Bounds (cashdrawer/bounds.py): a terminal that was offline may send sales this many
# days old (they arrive as late sales); older ones are refused.
LATE_SALES_LIMIT_DAYS = env_int("LATE_SALES_LIMIT_DAYS", 90)
if not 1 <= LATE_SALES_LIMIT_DAYS <= 3660:
    raise ImproperlyConfigured("LATE_SALES_LIMIT_DAYS must lie between 1 and 3660 days.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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
    "EXCEPTION_HANDLER": "cashdrawer.exception_handler.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cashdrawer API",
    "DESCRIPTION": (
        "The API for POS terminals, scripts and integrations. Authenticate with "
        "`Authorization: Token <key>` (a user token from POST /api/v1/auth/token/, or a "
        "device token a manager issues for one register). Money travels as decimal "
        "strings with the currency's minor units; times as ISO 8601 with an offset. Every "
        "POST takes an `Idempotency-Key` header. Errors: 400 `{field: [message]}`; "
        "401/403/404/409/415/422/503 `{detail, code}`; a 503 (the database is unavailable) "
        "has `Retry-After`."
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
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    SECURE_CONTENT_TYPE_NOSNIFF = True
