"""The alerts pages."""

from __future__ import annotations

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alert_list, name="list"),
    path("alerts/seen/", views.mark_all_seen, name="mark_all_seen"),
    path("alerts/<int:pk>/seen/", views.mark_seen, name="mark_seen"),
]
