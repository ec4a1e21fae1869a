"""Alerts: what a store manager should look at, raised from sessions (docs/DOMAIN.md,
"Alerts").

An alert is a record, not a notification queue: it is never edited or deleted (PostgreSQL
refuses both; only the time its e-mail went out is filled in once), and a session gets at
most one alert of each kind, so raising it again is a no-op.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cashdrawer.models import Location, figure_field
from cashdrawer.templatetags.cashdrawer import format_money


class Alert(models.Model):
    class Kind(models.TextChoices):
        DISCREPANCY = "discrepancy", _("discrepancy")
        NOT_COUNTED = "not_counted", _("closed without a count")
        OPEN_TOO_LONG = "open_too_long", _("open too long")

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="alerts")
    session = models.ForeignKey(
        "sessions_app.TrackingSession", on_delete=models.PROTECT, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    # The discrepancy that raised a discrepancy alert (signed: negative is short); for an
    # open-too-long alert, nothing.
    amount = figure_field(verbose_name=_("amount"), null=True, blank=True)
    created_at = models.DateTimeField(_("raised at"), default=timezone.now, db_index=True)
    # When its immediate e-mail went out; empty when nobody wanted one or sending failed.
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["location", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["session", "kind"], name="alert_once_per_session"),
            models.CheckConstraint(
                condition=Q(kind__in=["discrepancy", "not_counted", "open_too_long"]),
                name="alert_kind_valid",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="alert_never_deleted", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="alert_unchanged_but_its_mail",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange(exclude=["emailed_at"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · session {self.session_id}"

    @property
    def currency(self) -> str:
        return self.location.currency

    def message(self) -> str:
        """One sentence for a list, a mail's subject line or the Now page. Reads
        self.session.register and self.location (select them with the alert)."""
        register = self.session.register.name
        if self.kind == self.Kind.DISCREPANCY:
            # As every amount on the pages: €45.50, € 45,50, 45,50 €.
            amount = format_money(abs(self.amount), self.currency)
            if self.amount < 0:
                return gettext("%(register)s closed %(amount)s short") % {
                    "register": register,
                    "amount": amount,
                }
            return gettext("%(register)s closed %(amount)s over") % {
                "register": register,
                "amount": amount,
            }
        if self.kind == self.Kind.NOT_COUNTED:
            return gettext("%(register)s was closed without a count") % {"register": register}
        return gettext("%(register)s has been open for more than %(hours)s hours") % {
            "register": register,
            "hours": settings.ALERT_OPEN_HOURS,
        }


class AlertSeen(models.Model):
    """A manager has seen an alert. Per manager: one seeing it does not mark it for the
    others."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="seen_by")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts_seen"
    )
    seen_at = models.DateTimeField(_("seen at"), default=timezone.now)

    class Meta:
        verbose_name = _("alert seen")
        verbose_name_plural = _("alerts seen")
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="alert_seen_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} saw alert {self.alert_id}"
