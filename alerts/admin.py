"""Alerts in the admin: read-only, as they are records (nothing edits or deletes one)."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert
from cashdrawer.admin import ReadOnlyAdmin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "location", "kind", "session", "amount", "emailed_at"]
    list_filter = ["kind", "location"]
    list_select_related = ["location", "session__register"]
    date_hierarchy = "created_at"
    fields = ["location", "session", "kind", "amount", "created_at", "emailed_at"]
    readonly_fields = fields
