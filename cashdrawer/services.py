"""Operations shared by every app: the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models

from cashdrawer.models import AuditEntry


def write_audit(*, user: Any, action: str, obj: models.Model, data: dict | None = None) -> None:
    """Record who did what to which object. Called inside the operation's transaction."""
    AuditEntry.objects.create(
        user=user if getattr(user, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )
