"""Alert endpoints of the API: a manager's alerts, and marking one seen.

Managers only (a cashier, an accountant or a device token: 403); the alerts of the
locations they manage, another location's answer 404. The same selectors and services as
the alerts page (alerts/selectors.py, alerts/services.py).
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from alerts import selectors, services
from alerts.filters import AlertFilter
from alerts.models import Alert
from cashdrawer.api.base import (
    ACTION_ERRORS,
    QUERY_ERRORS,
    InputSerializer,
    MoneyField,
    MoneySerializer,
    errors,
)
from cashdrawer.idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER, idempotent
from cashdrawer.models import Membership
from cashdrawer.permissions import MANAGE_MESSAGE
from cashdrawer.selectors import locations_for

MANAGER_ONLY = frozenset({Membership.Role.MANAGER})


class AlertSerializer(MoneySerializer):
    id = serializers.IntegerField(read_only=True)
    location = serializers.IntegerField(source="location_id", read_only=True)
    session = serializers.IntegerField(source="session_id", read_only=True)
    register = serializers.IntegerField(source="session.register_id", read_only=True)
    register_name = serializers.CharField(source="session.register.name", read_only=True)
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, read_only=True)
    amount = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="The discrepancy that raised a `discrepancy` alert, signed (negative: "
        "short); null for the other kinds.",
    )
    message = serializers.CharField(read_only=True, help_text="In the request's language.")
    created_at = serializers.DateTimeField(read_only=True)
    emailed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When it was e-mailed to the managers who want each alert at once; null "
        "when nobody did or the mail server failed.",
    )
    seen = serializers.BooleanField(
        source="is_seen", read_only=True, help_text="Whether you (the caller) have seen it."
    )

    def currency_of(self, alert: Alert) -> str:
        return alert.location.currency


class AlertSeenRequestSerializer(InputSerializer):
    """No fields: the path names the alert, the credentials the manager. An empty body or
    `{}`."""


def _alerts(request: Any):
    if not locations_for(request.user, roles=MANAGER_ONLY).exists():
        raise PermissionDenied(MANAGE_MESSAGE)
    return selectors.alerts_for(request.user).select_related("location", "session__register")


class AlertListView(generics.ListAPIView):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request
            return Alert.objects.none()
        return _alerts(self.request).order_by("-created_at", "-id")

    @extend_schema(
        summary="Alerts (managers)",
        description="The alerts of the locations you manage, newest first: `discrepancy` (a "
        "close whose end or total discrepancy is larger than the location's "
        "`discrepancy_threshold`), `not_counted` (closed without a count) and "
        "`open_too_long` (open longer than the server's ALERT_OPEN_HOURS). `seen` is "
        "yours: another manager's seeing does not change it.",
        responses={200: AlertSerializer, **errors(*QUERY_ERRORS)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertSeenView(generics.GenericAPIView):
    serializer_class = AlertSerializer
    queryset = Alert.objects.none()  # for the schema; post() does the lookup

    @extend_schema(
        summary="Mark an alert seen (managers)",
        description="For you only; marking it again is fine and changes nothing. No body "
        "(or `{}`). The answer is the alert.",
        request=AlertSeenRequestSerializer,
        responses={200: AlertSerializer, **errors(*ACTION_ERRORS)},
        parameters=[IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER],
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        alert = get_object_or_404(_alerts(request), pk=self.kwargs["pk"])
        AlertSeenRequestSerializer(data=request.data).is_valid(raise_exception=True)
        services.mark_seen(alerts=alert, user=request.user)
        fresh = _alerts(request).get(pk=alert.pk)
        return Response(AlertSerializer(fresh).data)
