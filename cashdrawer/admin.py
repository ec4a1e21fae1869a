"""Admin for reference data (locations, registers, denominations, memberships) and the audit log.

Reference data is edited here, and every add, change and delete of it writes an audit entry
with the old and new values (`AuditedAdminMixin`). Money records are not: their admins are
read-only (see `ReadOnlyAdmin`), because sessions and everything in them change only
through sessions_app/services.py. The audit trail is read-only too, and downloads as CSV.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ERROR_FLAG
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cashdrawer.audit import (
    PASSWORD_CHANGED,
    PASSWORD_SET,
    client_address,
    field_values,
    form_changes,
    is_password,
)
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
from cashdrawer.services import record_login_failed, write_audit

User = get_user_model()

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


# --- the audit trail of configuration ----------------------------------------------------


def _action_prefix(model: type[models.Model]) -> str:
    """ "payment_method" for PaymentMethod: the first part of its audit actions."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def _audit_admin(
    request: HttpRequest, obj: models.Model, verb: str, data: dict, **location: Any
) -> None:
    write_audit(
        user=request.user,
        action=f"{_action_prefix(type(obj))}.{verb}",
        obj=obj,
        data={"via": "admin", **data},
        address=client_address(request),
        **location,
    )


def _audit_created(request: HttpRequest, obj: models.Model, form: Any) -> None:
    values = field_values(obj)
    if any(is_password(name) for name in form.changed_data):
        values["password"] = PASSWORD_SET
    _audit_admin(request, obj, "create", {"values": values})


def _audit_changed(request: HttpRequest, obj: models.Model, form: Any, before: Any) -> None:
    changes = form_changes(form, obj, before)
    if changes:  # a form saved as it was changed nothing
        _audit_admin(request, obj, "update", {"changes": changes})


def _audit_deleted(request: HttpRequest, obj: models.Model) -> None:
    """Written before the deletion, in its transaction: what the object held, and the rows
    that go with it."""
    values = field_values(obj)
    location: dict[str, Any] = {}
    if isinstance(obj, Location):
        values["payment_methods"] = sorted(obj.payment_methods.values_list("name", flat=True))
        values["memberships"] = sorted(str(m) for m in obj.memberships.select_related("user"))
        location["location"] = None  # it is about to go: the entry cannot point at it
    elif isinstance(obj, User):
        values["memberships"] = sorted(
            str(m) for m in obj.memberships.select_related("user", "location")
        )
    _audit_admin(request, obj, "delete", {"values": values}, **location)


class AuditedAdminMixin:
    """Every add, change and delete made through this admin writes an audit entry: the
    values a new object got, the old and new value of each field that changed, what a
    deleted object held. Django's own admin log keeps only the names of the fields, and
    it can be edited; the audit trail cannot. Inline rows (payment methods, memberships)
    get entries of their own."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = type(obj)._default_manager.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            _audit_created(request, obj, form)
        else:
            _audit_changed(request, obj, form, before)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # The parent's rows before the save. A new location's cash and card are among them
        # already, and the payment-method formset hands them back instead of adding them.
        rows = formset.model._default_manager.filter(**{formset.fk.name: formset.instance})
        before = {row.pk: row for row in rows}
        forms_by_pk = {f.instance.pk: f for f in formset.initial_forms if f.instance.pk}
        for deleted in formset.deleted_forms:
            if deleted.instance.pk in before:
                _audit_deleted(request, before[deleted.instance.pk])
        super().save_formset(request, form, formset, change)
        for obj, _changed in formset.changed_objects:
            _audit_changed(request, obj, forms_by_pk[obj.pk], before[obj.pk])
        for obj, new_form in zip(formset.new_objects, _saved_new_forms(formset), strict=True):
            if obj.pk not in before:
                _audit_created(request, obj, new_form)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit_deleted(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        # The bulk "Delete selected" action runs outside the admin's transaction.
        with transaction.atomic():
            for obj in queryset:
                _audit_deleted(request, obj)
            super().delete_queryset(request, queryset)


def _saved_new_forms(formset: Any) -> list:
    """The extra forms that became new objects, in the order formset.new_objects has them."""
    return [
        form
        for form in formset.extra_forms
        if form.has_changed() and not (formset.can_delete and formset._should_delete_form(form))
    ]


class KeepsAuditTrailMixin:
    """A user or a location that an audit entry names is kept: the entries are never
    deleted (the database refuses), so neither is what they point at. The delete page
    says so in one line instead of listing every entry, and deletes nothing."""

    audit_trail_field: str

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        counts = dict(
            AuditEntry.objects.filter(**{f"{self.audit_trail_field}__in": list(objs)})
            .values_list(self.audit_trail_field)
            .annotate(entries=Count("id"))
        )
        kept = [obj for obj in objs if counts.get(obj.pk)]
        if not kept:
            return super().get_deleted_objects(objs, request)
        return [], {}, set(), [self.kept_message(obj, counts[obj.pk]) for obj in kept]

    def kept_message(self, obj: Any, entries: int) -> str:
        raise NotImplementedError


# --- locations, registers, staff --------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "receives_alerts", "alert_mail"]
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
class LocationAdmin(KeepsAuditTrailMixin, AuditedAdminMixin, admin.ModelAdmin):
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

    audit_trail_field = "location"

    def kept_message(self, obj: Location, entries: int) -> str:
        return ngettext(
            "%(location)s has an audit trail (%(count)s entry), which is never deleted; "
            "a location with a history stays.",
            "%(location)s has an audit trail (%(count)s entries), which is never deleted; "
            "a location with a history stays.",
            entries,
        ) % {"location": obj, "count": entries}


@admin.register(Register)
class RegisterAdmin(AuditedAdminMixin, admin.ModelAdmin):
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
class MembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "location", "role", "receives_alerts", "alert_mail"]
    list_filter = ["location", "role", "receives_alerts", "alert_mail"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "location__name"]
    list_select_related = ["user", "location"]
    autocomplete_fields = ["user"]


@admin.register(Denomination)
class DenominationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["currency", "value", "kind"]
    list_filter = ["currency", "kind"]
    search_fields = ["currency"]


# The stock user admin, plus the locations a user works at.


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["location", "role", "receives_alerts", "alert_mail"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row's title names its user and location.
        return super().get_queryset(request).select_related("location", "user")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """The locations offered, read once for every row: each row's select read them
        again, a query per location the user works at."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "location":
            field.choices = list(field.choices)
        return field


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class CashdrawerUserAdmin(KeepsAuditTrailMixin, AuditedAdminMixin, UserAdmin):
    inlines = [*UserAdmin.inlines, UserMembershipInline]
    audit_trail_field = "user"

    def kept_message(self, obj: Any, entries: int) -> str:
        return ngettext(
            "%(user)s has an audit trail (%(count)s entry), which is never deleted. "
            "Deactivate the user instead: untick “Active” on their page.",
            "%(user)s has an audit trail (%(count)s entries), which is never deleted. "
            "Deactivate the user instead: untick “Active” on their page.",
            entries,
        ) % {"user": obj, "count": entries}

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = ""):
        """The password form saves outside save_model: audited here, never the hash."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    _audit_admin(
                        request,
                        user,
                        "update",
                        {"changes": {"password": PASSWORD_CHANGED}},
                    )
        return response


if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class CashdrawerGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """No group is used, but a group grants admin permissions: its changes are audited."""


class AuditedAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form. A right password of an account that may not use the admin
    (not staff) passes `authenticate()`, so Django's signal does not call it a failed
    login; it is one, and is recorded here."""

    def confirm_login_allowed(self, user: Any) -> None:
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            record_login_failed(
                username=user.get_username(),
                via="admin",
                address=client_address(self.request),
                reason="not staff" if user.is_active else "inactive",
            )
            raise


admin.site.login_form = AuditedAdminLoginForm


# --- audit log --------------------------------------------------------------------------


# The columns of the audit trail's CSV file: stable English names, like every other file.
AUDIT_COLUMNS = [
    "id",
    "at",
    "user",
    "user_name",
    "action",
    "object_type",
    "object_id",
    "location",
    "address",
    "data",
]
EXPORT_PARAMETER = "_export"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The whole trail, read-only, filtered by location, user, action and date; the
    filtered list downloads as CSV (the links above the list)."""

    list_display = ["at", "user", "action", "object_link", "location", "address"]
    list_filter = [
        "location",
        ("user", admin.RelatedOnlyFieldListFilter),
        "action",
        ("at", admin.DateFieldListFilter),
    ]
    search_fields = ["action", "object_type", "object_id", "user__username", "address"]
    list_select_related = ["user", "location"]
    date_hierarchy = "at"
    fields = [
        "at",
        "user",
        "action",
        "object_type",
        "object_id",
        "location",
        "address",
        "data_display",
    ]
    readonly_fields = ["data_display"]
    change_list_template = "admin/cashdrawer/auditentry/change_list.html"

    @admin.display(description=gettext_lazy("object"), ordering="object_type")
    def object_link(self, obj: AuditEntry) -> str:
        return obj.object_label

    @admin.display(description=gettext_lazy("data"))
    def data_display(self, obj: AuditEntry) -> str:
        return json.dumps(obj.data, ensure_ascii=False, indent=2, sort_keys=True)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        export = request.GET.get(EXPORT_PARAMETER)
        if export in ("excel", "excel-eu"):
            return self._export(request, export)
        return super().changelist_view(request, extra_context)

    def _export(self, request: HttpRequest, dialect: str) -> HttpResponse:
        """The list as filtered, searched and sorted on the page, every page of it."""
        # Imported here: CSV is written by one module for the whole project (the reports
        # app's), and the admin is where the apps are wired together.
        from reports import exports

        if not self.has_view_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        del request.GET[EXPORT_PARAMETER]
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        entries = changelist.get_queryset(request).select_related("user", "location")
        return exports.csv_response(
            filename=f"audit_trail_{timezone.now():%Y-%m-%d_%H%M}.csv",
            header=AUDIT_COLUMNS,
            rows=(_audit_row(entry) for entry in entries.iterator(chunk_size=2000)),
            dialect=exports.DIALECTS[dialect],
        )


def _audit_row(entry: AuditEntry) -> list[Any]:
    user = entry.user
    return [
        entry.pk,
        entry.at.astimezone(dt.UTC),
        user.get_username() if user else None,
        (user.get_full_name() or None) if user else None,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.location.name if entry.location else None,
        entry.address,
        json.dumps(entry.data, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    ]


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
        "expires_display",
        "revoked_at",
        "revoke_reason",
    ]
    list_filter = [
        "kind",
        ("revoked_at", admin.EmptyFieldListFilter),
        "revoke_reason",
        "register__location",
    ]
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
        "expires_display",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="token")
    def prefix_display(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    @admin.display(description="expires")
    def expires_display(self, obj: ApiToken) -> str:
        expires = obj.expires
        return expires.strftime("%Y-%m-%d %H:%M %Z") if expires else "never"

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from cashdrawer.authentication import revoke_token

        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            revoke_token(token=token, by=request.user)
        self.message_user(request, f"{len(tokens)} token(s) revoked.")
