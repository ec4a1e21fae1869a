"""Back-office pages: overviews and session pages."""

from __future__ import annotations

from django.urls import path

from reports import slip, views

app_name = "reports"

urlpatterns = [
    path("overview/", views.overview, name="overview"),
    path("sessions/<int:pk>/", views.session_detail, name="session"),
    path("sessions/<int:pk>/slip/", slip.closing_slip_view, name="slip"),
    path("sessions/<int:pk>/corrections/", views.add_correction_view, name="add_correction"),
]
