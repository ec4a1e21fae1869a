"""Stores, registers, denominations and who works where."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

import pgtrigger
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from cashdrawer.bounds import DEFAULT_PAYMENT_METHODS, canonical_method
from cashdrawer.money import (
    AMOUNT_MAX_DIGITS,
    CEILING_MAX,
    CURRENCY_CHOICES,
    DECIMAL_PLACES,
    DEFAULT_CEILING,
    FIGURE_MAX_DIGITS,
    has_more_decimals,
    minor_units,
)


def amount_field(**kwargs) -> models.DecimalField:
    """One amount as entered: a sale, an adjustment, a float, a face value, a ceiling."""
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs
    )


def figure_field(**kwargs) -> models.DecimalField:
    """A figure summed from many amounts: running totals, expected and counted cash."""
    return models.DecimalField(
        max_digits=FIGURE_MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs
    )


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Location(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Amsterdam", validators=[validate_timezone]
    )
    max_amount = amount_field(
        verbose_name=_("ceiling for one amount"),
        default=DEFAULT_CEILING,
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(CEILING_MAX)],
        help_text=_(
            "The largest single amount (a sale, a refund, an adjustment, a float) that may "
            "be entered here, in the location's currency. A typo such as 999999999999 is "
            "refused instead of booked."
        ),
    )
    discrepancy_threshold = amount_field(
        verbose_name=_("discrepancy threshold"),
        default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(CEILING_MAX)],
        help_text=_(
            "A close whose end or total discrepancy is larger than this (short or over) "
            "raises an alert and asks for a second look before it is booked."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_amount__gte=1) & Q(max_amount__lte=CEILING_MAX),
                name="location_max_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(discrepancy_threshold__gte=0)
                & Q(discrepancy_threshold__lte=CEILING_MAX),
                name="location_discrepancy_threshold_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        created = self._state.adding
        super().save(*args, **kwargs)
        if created:
            # Every new store takes cash and card; its managers add others in the admin.
            PaymentMethod.objects.bulk_create(
                [PaymentMethod(location=self, name=name) for name in DEFAULT_PAYMENT_METHODS],
                ignore_conflicts=True,
            )

    def clean(self) -> None:
        for name in ("max_amount", "discrepancy_threshold"):
            value = getattr(self, name)
            if value is not None and has_more_decimals(value, self.minor_units):
                raise ValidationError(
                    {
                        name: _("%(currency)s amounts have at most %(places)s decimals.")
                        % {"currency": self.currency, "places": self.minor_units}
                    }
                )
        if self.pk:
            before = Location.objects.filter(pk=self.pk).values("currency", "timezone").first()
            if before is None:
                return
            changed_currency = before["currency"] != self.currency
            # The time zone decides which day a session belongs to: moved, last year's
            # days and closes would move with it.
            changed_timezone = before["timezone"] != self.timezone
            if not (changed_currency or changed_timezone):
                return
            if not self.registers.filter(sessions__isnull=False).exists():
                return
            errors = {}
            if changed_currency:
                errors["currency"] = _(
                    "This location already has sessions in %(currency)s; "
                    "its currency can no longer change."
                ) % {"currency": before["currency"]}
            if changed_timezone:
                errors["timezone"] = _(
                    "This location already has sessions in the time zone %(timezone)s; "
                    "its time zone can no longer change."
                ) % {"timezone": before["timezone"]}
            raise ValidationError(errors)

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def minor_units(self) -> int:
        return minor_units(self.currency)


class Register(models.Model):
    class Role(models.TextChoices):
        STANDALONE = "standalone", _("standalone")
        MAIN = "main", _("main register")
        SUB = "sub", _("sub-register")

    class CountMethod(models.TextChoices):
        DENOMINATIONS = "denominations", _("by denominations")
        TOTAL = "total", _("as a total")

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="registers", verbose_name=_("location")
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=40)
    role = models.CharField(_("role"), max_length=10, choices=Role, default=Role.STANDALONE)
    main_register = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sub_registers",
        verbose_name=_("main register"),
        help_text=_("Only for sub-registers: the main register their cash is counted at."),
    )
    count_method = models.CharField(
        _("count method"), max_length=13, choices=CountMethod, default=CountMethod.DENOMINATIONS
    )
    default_float = amount_field(
        verbose_name=_("default float"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("The change fund a session normally opens with. Not for sub-registers."),
    )
    cash_tracking = models.BooleanField(_("cash tracking"), default=True)
    blind_close = models.BooleanField(
        _("blind close"),
        default=False,
        help_text=_("Whoever counts at close sees the expected cash only after submitting."),
    )

    class Meta:
        ordering = ["location__name", "name"]
        verbose_name = _("register")
        verbose_name_plural = _("registers")
        constraints = [
            models.UniqueConstraint(fields=["location", "code"], name="register_code_unique"),
            models.CheckConstraint(
                condition=(Q(role="sub") & Q(main_register__isnull=False))
                | (~Q(role="sub") & Q(main_register__isnull=True)),
                name="register_sub_has_main_others_none",
            ),
            models.CheckConstraint(
                condition=~Q(role="sub") | Q(default_float__isnull=True),
                name="register_sub_has_no_default_float",
            ),
            models.CheckConstraint(
                condition=~Q(role="main") | Q(count_method="denominations"),
                name="register_main_counts_by_denominations",
            ),
            models.CheckConstraint(
                condition=Q(default_float__isnull=True) | Q(default_float__gte=0),
                name="register_default_float_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(main_register=F("id")), name="register_not_its_own_main"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["standalone", "main", "sub"]), name="register_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(count_method__in=["denominations", "total"]),
                name="register_count_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.name})" if self.location_id else self.name

    @property
    def is_sub(self) -> bool:
        return self.role == self.Role.SUB

    @property
    def is_main(self) -> bool:
        return self.role == self.Role.MAIN

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.role == self.Role.SUB:
            main = self.main_register
            if main is None:
                errors.setdefault("main_register", []).append(
                    _("A sub-register needs a main register.")
                )
            else:
                if self.location_id and main.location_id != self.location_id:
                    errors.setdefault("main_register", []).append(
                        _("The main register must be at the same location.")
                    )
                if main.role != self.Role.MAIN:
                    errors.setdefault("main_register", []).append(
                        _("%(name)s is not a main register.") % {"name": main.name}
                    )
                if self.pk and main.pk == self.pk:
                    errors.setdefault("main_register", []).append(
                        _("A register cannot be its own main register.")
                    )
            if self.default_float is not None:
                errors.setdefault("default_float", []).append(
                    _("A sub-register has no default float: set it on the main register.")
                )
        elif self.main_register_id is not None:
            errors.setdefault("main_register", []).append(
                _("Only a sub-register has a main register.")
            )
        if self.role == self.Role.MAIN and self.count_method != self.CountMethod.DENOMINATIONS:
            errors.setdefault("count_method", []).append(
                _("A main register must count by denominations.")
            )
        if self.pk and self.role != self.Role.MAIN and self.sub_registers.exists():
            errors.setdefault("role", []).append(
                _("This register still has sub-registers; it must stay a main register.")
            )
        # The sub-side check above only runs when a sub is saved: moving the main itself
        # to another store would leave its subs counted at a main of a different location.
        if self.pk and self.sub_registers.exclude(location_id=self.location_id).exists():
            errors.setdefault("location", []).append(
                _("Its sub-registers are at another location; a main stays with its subs.")
            )
        if self.pk:
            self._clean_changes_while_open(errors)
        if self.default_float is not None and self.location_id:
            places = self.location.minor_units
            if has_more_decimals(self.default_float, places):
                errors.setdefault("default_float", []).append(
                    _("%(currency)s amounts have at most %(places)s decimals.")
                    % {"currency": self.location.currency, "places": places}
                )
            if self.default_float > self.location.max_amount:
                errors.setdefault("default_float", []).append(
                    _("At most the store's ceiling for one amount, %(ceiling)s.")
                    % {"ceiling": self.location.max_amount}
                )
        if errors:
            raise ValidationError(errors)

    def _clean_changes_while_open(self, errors: dict[str, list[str]]) -> None:
        """A session's rules follow its register's role; they must not change under it.

        A register's history also belongs to its store: its sessions copy the location but
        its transactions do not, so a register with sessions never moves to another store.
        """
        before = (
            Register.objects.filter(pk=self.pk)
            .values("role", "main_register_id", "cash_tracking", "location_id")
            .first()
        )
        if before is None:
            return
        if before["location_id"] != self.location_id and self.sessions.exists():
            errors.setdefault("location", []).append(
                _("This register has sessions at its store; create a new register instead.")
            )
        if not self.sessions.filter(status="open").exists():
            return
        message = _("Close the register's open session before changing this.")
        if before["role"] != self.role:
            errors.setdefault("role", []).append(message)
        if before["main_register_id"] != self.main_register_id:
            errors.setdefault("main_register", []).append(message)
        if before["cash_tracking"] and not self.cash_tracking:
            errors.setdefault("cash_tracking", []).append(message)


class Denomination(models.Model):
    class Kind(models.TextChoices):
        COIN = "coin", _("coin")
        NOTE = "note", _("note")

    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    value = amount_field(verbose_name=_("value"))
    kind = models.CharField(_("kind"), max_length=4, choices=Kind)

    class Meta:
        ordering = ["currency", "value"]
        verbose_name = _("denomination")
        verbose_name_plural = _("denominations")
        constraints = [
            models.UniqueConstraint(fields=["currency", "value"], name="denomination_unique"),
            models.CheckConstraint(condition=Q(value__gt=0), name="denomination_value_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=["coin", "note"]), name="denomination_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} {self.currency} ({self.kind})"


class PaymentMethod(models.Model):
    """A payment method a location takes. Only `cash` moves cash in the drawer; the others
    (card, voucher, ...) count for sales by method. Names are kept in their canonical form
    (see cashdrawer.bounds.canonical_method), so "Card", "CARD" and "ca\u200brd" are one."""

    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        related_name="payment_methods",
        verbose_name=_("location"),
    )
    name = models.CharField(_("name"), max_length=40)

    class Meta:
        ordering = ["location__name", "name"]
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="payment_method_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="payment_method_name_given"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = canonical_method(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.name = canonical_method(self.name or "")
        if not self.name:
            raise ValidationError({"name": _("Enter a name such as card or voucher.")})


class Membership(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", _("manager")
        CASHIER = "cashier", _("cashier")
        ACCOUNTANT = "accountant", _("accountant")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role)
    receives_alerts = models.BooleanField(
        _("receives alerts"),
        default=True,
        help_text=_(
            "Managers only: shortages, sessions closed without a count and sessions open "
            "too long at this location are e-mailed to them and shown on their Now page."
        ),
    )

    class AlertMail(models.TextChoices):
        IMMEDIATE = "immediate", _("each alert at once")
        DAILY = "daily", _("one digest a day")
        NONE = "none", _("no e-mail (on screen only)")

    alert_mail = models.CharField(
        _("alert e-mail"),
        max_length=10,
        choices=AlertMail,
        default=AlertMail.IMMEDIATE,
        help_text=_(
            "For a manager who receives alerts: an e-mail for each alert as it is raised, "
            "one e-mail a day listing the previous day's alerts, or none."
        ),
    )

    class Meta:
        ordering = ["location__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "location"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["manager", "cashier", "accountant"]),
                name="membership_role_valid",
            ),
            models.CheckConstraint(
                condition=Q(alert_mail__in=["immediate", "daily", "none"]),
                name="membership_alert_mail_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} at {self.location}"


class AuditEntry(models.Model):
    """One line per operation that changed something, and per login, failed login and
    logout: who, what, which object, when, where.

    Append-only: PostgreSQL refuses UPDATE and DELETE of these rows (the trigger below),
    so a user or location that has entries is kept (PROTECT), never deleted.
    """

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    # Who did it: the person, or for a terminal the manager who issued its device token
    # (the device itself is named in `data`). Empty for the system and for failed logins.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("user"),
    )
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    # The store the entry is about, where there is one (not for a login or a currency's
    # denominations).
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("location"),
    )
    # The client's IP address, for entries made by a request (logins, admin changes).
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]
        triggers = [
            pgtrigger.Protect(
                name="audit_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} #{self.object_id}"

    @property
    def object_label(self) -> str:
        """The object's kind in the reader's language and its id: "Transaction #12"."""
        try:
            model = apps.get_model(self.object_type)
        except (LookupError, ValueError):
            return f"{self.object_type} #{self.object_id}"
        return f"{capfirst(model._meta.verbose_name)} #{self.object_id}"

    @property
    def device_name(self) -> str | None:
        """The terminal that acted, when a device token did (its manager is `user`)."""
        device = self.data.get("device") if isinstance(self.data, dict) else None
        return device.get("name") if isinstance(device, dict) else None

    @property
    def details(self) -> list[tuple[str, str]]:
        """The entry's data as (name, value) lines, the device left out (see device_name)."""
        if not isinstance(self.data, dict):
            return [("data", str(self.data))]
        return [(name, _plain_text(value)) for name, value in self.data.items() if name != "device"]


def _plain_text(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return f"{_plain_text(value['old'])} → {_plain_text(value['new'])}"
    if isinstance(value, dict):
        return ", ".join(f"{name}: {_plain_text(inner)}" for name, inner in value.items())
    if isinstance(value, list):
        return ", ".join(_plain_text(inner) for inner in value)
    if value is None:
        return "—"
    return str(value)


class ApiToken(models.Model):
    """An API credential: a user token, or a device token bound to one register.

    Only a SHA-256 digest of the secret is stored; the secret itself is shown once, when
    the token is issued. The secrets are 256-bit random strings, so a fast hash is enough:
    a slow password hash (PBKDF2) protects guessable passwords from brute force, which a
    random 256-bit secret does not need, and it would cost every API request its work.
    """

    class Kind(models.TextChoices):
        USER = "user", _("user token")
        DEVICE = "device", _("device token")

    kind = models.CharField(_("kind"), max_length=6, choices=Kind)
    # The staff member the token acts as: its owner, or for a device token the manager
    # who created it (so every action of a terminal names a real staff member).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    register = models.ForeignKey(
        Register,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="device_tokens",
        verbose_name=_("register"),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    # The first characters of the secret, to recognise a token in lists; not a secret.
    prefix = models.CharField(_("prefix"), max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # A device token's expiry, if its manager gave one; a user token's is set when it is
    # issued (settings.USER_TOKEN_DAYS, see `expires`).
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class RevokeReason(models.TextChoices):
        REVOKED = "revoked", _("revoked")
        PASSWORD_CHANGED = "password_changed", _("password changed")
        DEACTIVATED = "deactivated", _("user deactivated")

    revoke_reason = models.CharField(
        _("why revoked"), max_length=20, choices=RevokeReason, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="device") & Q(register__isnull=False))
                | (Q(kind="user") & Q(register__isnull=True)),
                name="api_token_device_has_register",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["user", "device"]), name="api_token_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.prefix}… ({self.name or self.user})"

    @property
    def is_device_token(self) -> bool:
        return self.kind == self.Kind.DEVICE

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expires(self) -> dt.datetime | None:
        """When the token stops working: a user token USER_TOKEN_DAYS after it was issued
        (a shorter setting shortens the tokens already out), a device token at the expiry
        its manager gave it, or never."""
        if self.kind == self.Kind.USER and self.created_at is not None:
            limit = self.created_at + dt.timedelta(days=settings.USER_TOKEN_DAYS)
            return min(limit, self.expires_at) if self.expires_at else limit
        return self.expires_at

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        expires = self.expires
        return expires is not None and (now or timezone.now()) >= expires


class IdempotencyRecord(models.Model):
    """The response to a POST that carried an Idempotency-Key, kept to answer its repeats.

    Written in the same database transaction as the request's effect: the row is
    inserted first (the unique index makes a concurrent twin wait for this transaction),
    and it is committed together with the effect, or rolled back with it.
    """

    # Whose key it is: "register:<id>" for a device token (every terminal of the
    # register), "user:<id>" for a user token or the browser's session (every credential
    # of the user); keys of different registers or users never meet.
    identity = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the canonical JSON body.
    fingerprint = models.CharField(max_length=64)
    # Filled in before the transaction commits; a committed record always has them.
    status_code = models.PositiveSmallIntegerField(default=0)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["identity", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} {self.key}"
