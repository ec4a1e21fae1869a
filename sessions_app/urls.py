"""Back-office pages: register operations."""

from __future__ import annotations

from django.urls import path

from sessions_app import views

app_name = "operations"

urlpatterns = [
    path("now/", views.now, name="now"),
    path("registers/", views.registers, name="registers"),
    path("registers/<int:pk>/open/", views.open_session, name="open"),
    path("sessions/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("sessions/<int:pk>/close/", views.close, name="close"),
    path("sessions/<int:pk>/explain/", views.explain, name="explain"),
]
