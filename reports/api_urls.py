"""Report endpoints under /api/v1/reports/."""

from __future__ import annotations

urlpatterns: list = []
