"""Settings of the reference app: what DRF needs and nothing more; the database as the
app's (DATABASE_URL, kept connections with health checks, connect timeout)."""

import os

import dj_database_url

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-reference")
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1").split(",")]
INSTALLED_APPS = ["rest_framework", "bench.reference"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.reference.urls"
WSGI_APPLICATION = "bench.reference.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
