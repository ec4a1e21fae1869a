"""API URLs: /api/v1/ (resources and reports), /api/schema/ and /api/docs/."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from alerts import api as alerts_api
from cashdrawer.api import views
from cashdrawer.api.base import not_found
from sessions_app import api as sessions_api

router = SimpleRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("registers", views.RegisterViewSet, basename="register")
router.register("denominations", views.DenominationViewSet, basename="denomination")

v1 = [
    path("auth/token/", views.AuthTokenView.as_view(), name="auth-token"),
    path(
        "registers/<int:pk>/device-tokens/",
        views.RegisterDeviceTokensView.as_view(),
        name="register-device-tokens",
    ),
    path("device-tokens/<int:pk>/", views.DeviceTokenView.as_view(), name="device-token"),
    path("sessions/", sessions_api.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:pk>/", sessions_api.SessionDetailView.as_view(), name="session-detail"),
    path(
        "sessions/<int:pk>/adjustments/",
        sessions_api.AdjustmentCreateView.as_view(),
        name="session-adjustments",
    ),
    path("sessions/<int:pk>/close/", sessions_api.SessionCloseView.as_view(), name="session-close"),
    path(
        "sessions/<int:pk>/discrepancy-note/",
        sessions_api.DiscrepancyNoteView.as_view(),
        name="session-discrepancy-note",
    ),
    path(
        "sessions/<int:pk>/corrections/",
        sessions_api.SessionCorrectionsView.as_view(),
        name="session-corrections",
    ),
    path("transactions/", sessions_api.TransactionListView.as_view(), name="transaction-list"),
    path(
        "transactions/<int:pk>/",
        sessions_api.TransactionDetailView.as_view(),
        name="transaction-detail",
    ),
    path("alerts/", alerts_api.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/seen/", alerts_api.AlertSeenView.as_view(), name="alert-seen"),
    *router.urls,
]

urlpatterns = [
    path("v1/", include(v1)),
    path("v1/reports/", include("reports.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI with its script served by the same view (?script) instead of inline, and
    # its inline style in static/css/swagger.css: for the Content-Security-Policy.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    # Anything else under /api/ answers a JSON 404 like the API's own, not an HTML page;
    # [\s\S], not ".", so a path with an encoded newline (%0A) is caught too.
    re_path(r"^[\s\S]*$", not_found),
]
