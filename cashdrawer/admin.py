"""Admin for reference data (locations, registers, denominations, memberships) and the audit log.

Reference data is edited here. Money records are not: their admins are read-only (see
`ReadOnlyAdmin`), because sessions and everything in them change only through
sessions_app/services.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from cashdrawer.bounds import CASH, canonical_method
from cashdrawer.models import (
    ApiToken,
    AuditEntry,
    Denomination,
    Location,
    Membership,
    PaymentMethod,
    Register,
)
from cashdrawer.money import format_amount

# --- helpers shared with sessions_app/admin.py -----------------------------------------


def money(amount: Decimal | None, currency: str) -> str:
    """An amount as a plain decimal string ("150.00"), whatever the admin's language.

    The admin would otherwise localise decimals ("150,00" in German); a dash for None
    keeps "not counted" apart from 0.00.
    """
    return format_amount(amount, currency) or "—"


def local_time(moment: dt.datetime | None, location: Location) -> str:
    """A time in the location's own time zone: what the store's staff saw on the clock."""
    if moment is None:
        return "—"
    return moment.astimezone(location.tzinfo).strftime("%Y-%m-%d %H:%M %Z")


class NoChangesMixin:
    """No add, change or delete permission: records of money change only through services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoChangesMixin, admin.ModelAdmin):
    """Visible and searchable, never added, changed or deleted through the admin.

    Without change permission Django renders the change page read-only and answers a
    POST to it with 403, so a session (closed or open) cannot be edited here.
    """

    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The change page needs the same related rows as the list. (The changelist
        # applies list_select_related only to a queryset without select_related.)
        queryset = super().get_queryset(request)
        if isinstance(self.list_select_related, (list, tuple)):
            queryset = queryset.select_related(*self.list_select_related)
        return queryset


class ReadOnlyTabularInline(NoChangesMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


# --- locations, registers, staff --------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user", "location")


class RegisterInline(admin.TabularInline):
    model = Register
    extra = 0
    fields = ["name", "code", "role", "main_register", "count_method", "default_float"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Registers are added on their own page, where their role rules are checked.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Register]:
        return super().get_queryset(request).select_related("location", "main_register__location")


class PaymentMethodForm(forms.ModelForm):
    class Meta:
        model = PaymentMethod
        fields = ["name"]

    def clean_name(self) -> str:
        # Canonical before the formset compares the rows: "Card" and "card" are one method.
        name = canonical_method(self.cleaned_data.get("name") or "")
        if not name:
            raise ValidationError(_("Enter a name such as card or voucher."))
        return name


class PaymentMethodFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if self.instance.pk is None:
            return  # a new location gets cash and card when it is saved
        kept = {
            form.cleaned_data.get("name")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        }
        if CASH not in kept:
            raise ValidationError(_("Keep cash: it is the method that moves cash in the drawer."))

    def save_new(self, form, commit: bool = True) -> PaymentMethod:
        # A new location already has cash and card (Location.save): add only what it lacks.
        existing = PaymentMethod.objects.filter(
            location=self.instance, name=form.cleaned_data["name"]
        ).first()
        return existing or super().save_new(form, commit=commit)


class PaymentMethodInline(admin.TabularInline):
    model = PaymentMethod
    form = PaymentMethodForm
    formset = PaymentMethodFormSet
    extra = 1
    verbose_name_plural = "payment methods taken here (only cash moves cash in the drawer)"


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "timezone", "max_amount_display", "register_count"]
    search_fields = ["name"]
    list_filter = ["currency"]
    inlines = [PaymentMethodInline, RegisterInline, MembershipInline]

    @admin.display(description="ceiling for one amount", ordering="max_amount")
    def max_amount_display(self, obj: Location) -> str:
        return money(obj.max_amount, obj.currency)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        return super().get_queryset(request).annotate(register_count=Count("registers"))

    @admin.display(description="registers", ordering="register_count")
    def register_count(self, obj: Location) -> int:
        return obj.register_count


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    """The role rules live in Register.clean(); the form shows each error beside its field."""

    list_display = [
        "name",
        "code",
        "location",
        "role",
        "main_register",
        "count_method",
        "default_float_display",
        "cash_tracking",
        "blind_close",
    ]
    list_filter = ["location", "role", "count_method", "cash_tracking"]
    search_fields = ["name", "code", "location__name"]
    list_select_related = ["location", "main_register__location"]
    fields = [
        "location",
        "name",
        "code",
        "role",
        "main_register",
        "count_method",
        "default_float",
        "cash_tracking",
        "blind_close",
    ]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "main_register":
            # Only a main register can be chosen; "same location" is checked by
            # Register.clean() and shown beside the field.
            kwargs["queryset"] = Register.objects.filter(role=Register.Role.MAIN).select_related(
                "location"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="default float", ordering="default_float")
    def default_float_display(self, obj: Register) -> str:
        return money(obj.default_float, obj.location.currency)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "location", "role"]
    list_filter = ["location", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "location__name"]
    list_select_related = ["user", "location"]
    autocomplete_fields = ["user"]


@admin.register(Denomination)
class DenominationAdmin(admin.ModelAdmin):
    list_display = ["currency", "value", "kind"]
    list_filter = ["currency", "kind"]
    search_fields = ["currency"]


# The stock user admin, plus the locations a user works at.
User = get_user_model()


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["location", "role"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("location")


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class CashdrawerUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserMembershipInline]


# --- audit log --------------------------------------------------------------------------


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["action", "object_type", "object_id", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "at"
    fields = ["at", "user", "action", "object_type", "object_id", "data"]


# --- API tokens -------------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(NoChangesMixin, admin.ModelAdmin):
    """API tokens: listed and revoked here, never created or edited (a manager issues a
    device token through the API, where its secret is shown once). Only the first
    characters of a secret are known; its hash is not shown."""

    list_display = [
        "prefix_display",
        "kind",
        "name",
        "register",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "register__location"]
    search_fields = ["name", "prefix", "user__username", "register__name"]
    list_select_related = ["user", "register__location"]
    fields = [
        "kind",
        "name",
        "prefix",
        "register",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="token")
    def prefix_display(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from cashdrawer.authentication import revoke_token

        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            revoke_token(token=token, by=request.user)
        self.message_user(request, f"{len(tokens)} token(s) revoked.")
