"""API URLs: /api/v1/ (resources and reports), /api/schema/ and /api/docs/."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("v1/reports/", include("reports.api_urls")),
]
