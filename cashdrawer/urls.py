"""Root URLs: the back-office pages, the API under /api/v1/, its schema and docs, the admin,
and the health endpoints /healthz and /readyz."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from cashdrawer import health, token_views, views

admin.site.site_header = "Cashdrawer"
admin.site.site_title = "Cashdrawer"
admin.site.index_title = "Back-office administration"

# DEBUG off: a database outage in a middleware is a 503, an API error is JSON.
handler500 = "cashdrawer.error_reports.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("cashdrawer.api_urls")),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("tokens/", token_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", token_views.revoke, name="token-revoke"),
    path("", include("sessions_app.urls")),
    path("", include("reports.urls")),
    path("", include("alerts.urls")),
]
