"""Back-office pages: register operations."""

from __future__ import annotations

from django.urls import path

from sessions_app import views

app_name = "operations"

urlpatterns = [
    path("registers/", views.registers, name="registers"),
]
