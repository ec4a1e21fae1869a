"""WSGI entry point for Cashdrawer."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cashdrawer.settings")

application = get_wsgi_application()

# Import the URLconf, and with it every view, before the first request: Django does it
# on the first request each process serves, which took about 320 ms here, so the first
# request on each gunicorn worker after a start was that much slower (a journal's first
# byte 400-450 ms on a fresh worker, 110 ms on a warm one). A worker now takes no
# request until it is done, and a broken import stops the start instead of a request.
get_resolver().url_patterns  # noqa: B018
