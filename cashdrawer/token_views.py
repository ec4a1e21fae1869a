"""The API tokens page: a store manager sees every API token of their stores, revokes
them, and issues device tokens for their registers.

Who sees what: a manager sees, per store they manage, the device tokens of its registers
and the user tokens of everyone with a membership there (any role), since a user token
acts wherever its owner works, this store included. A token outside that set is never
fetched (404). Cashiers and accountants get 403. Issuing and revoking are the services
of cashdrawer/authentication.py, which also write the audit trail.

A new token's secret is shown once: the issuing POST keeps it in the server-side session
and redirects; the next page load takes it out of the session and shows it, so a reload
neither shows it again nor issues a second token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cashdrawer.authentication import issue_device_token, revoke_token
from cashdrawer.models import ApiToken, Location, Membership, Register
from cashdrawer.scope import scope_from_request
from cashdrawer.selectors import locations_for

MANAGER_ONLY = frozenset({Membership.Role.MANAGER})
NAME_MAX = ApiToken._meta.get_field("name").max_length
# The secret of the token just issued, for the one page load after the redirect.
ISSUED_SESSION_KEY = "cashdrawer.issued_token"


# --- forms -------------------------------------------------------------------------------


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock date and time as typed, left naive: which time zone it is in depends
    on the register chosen in the same form (its location's), so the form decides."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value
        try:
            moment = parse_datetime(str(value).strip())  # 2026-12-31T18:00 (datetime-local)
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return moment


class RegisterChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, name_only: bool = False, **kwargs) -> None:
        self.name_only = name_only
        super().__init__(*args, **kwargs)

    def label_from_instance(self, register: Register) -> str:
        return register.name if self.name_only else f"{register.location.name} · {register.name}"


class IssueDeviceTokenForm(forms.Form):
    register = RegisterChoiceField(
        queryset=Register.objects.none(),
        label=gettext_lazy("Register"),
        empty_label=gettext_lazy("Choose a register"),
        error_messages={"required": gettext_lazy("Choose the register of the terminal.")},
    )
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=NAME_MAX,
        help_text=gettext_lazy("The terminal it is for, e.g. “Till 1 tablet”."),
        error_messages={"required": gettext_lazy("Give the token a name.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Till 1 tablet"}),
    )
    expires_at = LocalDateTimeField(
        label=gettext_lazy("Expires"),
        required=False,
        help_text=gettext_lazy("Optional. In the store's local time; empty: until revoked."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, registers: QuerySet[Register], name_only: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["register"]
        field.queryset = registers
        field.name_only = name_only

    def clean(self) -> dict:
        cleaned = super().clean()
        register, expires_at = cleaned.get("register"), cleaned.get("expires_at")
        if register is not None and expires_at is not None and timezone.is_naive(expires_at):
            # The manager types the store's wall-clock time; at a DST gap or overlap
            # zoneinfo picks the earlier reading (fold=0), which is the one they mean.
            cleaned["expires_at"] = expires_at.replace(tzinfo=register.location.tzinfo)
        return cleaned


# --- which tokens a manager sees ---------------------------------------------------------


def visible_tokens(user) -> QuerySet[ApiToken]:
    """Every token `user` may see and revoke: device tokens of the registers, and user
    tokens of the staff, of the locations they manage."""
    managed = locations_for(user, roles=MANAGER_ONLY)
    staff = Membership.objects.filter(location__in=managed).values("user_id")
    return ApiToken.objects.filter(
        Q(kind=ApiToken.Kind.DEVICE, register__location__in=managed)
        | Q(kind=ApiToken.Kind.USER, user_id__in=staff)
    )


ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


@dataclass
class TokenRow:
    token: ApiToken
    state: str  # active, expired or revoked
    role: str = ""  # for a user token: its owner's role at this location

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE


@dataclass
class LocationTokens:
    location: Location
    rows: list[TokenRow] = field(default_factory=list)  # the ones shown
    active: int = 0
    hidden: int = 0  # revoked or expired, left out


def _state(token: ApiToken, now: dt.datetime) -> str:
    if token.is_revoked:
        return REVOKED
    return EXPIRED if token.is_expired(now) else ACTIVE


def _order(row: TokenRow) -> tuple:
    # Active first, newest first; then the ended ones, most recently ended first.
    token = row.token
    if row.is_active:
        return (0, -token.created_at.timestamp(), -token.pk)
    ended = token.revoked_at or token.expires or token.created_at
    return (1, -ended.timestamp(), -token.pk)


def tokens_by_location(
    locations: list[Location], *, now: dt.datetime, show_ended: bool
) -> list[LocationTokens]:
    """The tokens of each location, in two queries however many tokens there are.

    Every token is read and classified by the model's own `is_expired`, so the rule of
    when a user token ends lives in one place; a store has tens of tokens, not millions.
    """
    groups = {location.pk: LocationTokens(location) for location in locations}
    roles: dict[int, dict[int, str]] = {}  # user id -> {location id: role}
    for user_id, location_id, role in Membership.objects.filter(
        location_id__in=list(groups)
    ).values_list("user_id", "location_id", "role"):
        roles.setdefault(user_id, {})[location_id] = role
    tokens = ApiToken.objects.filter(
        Q(kind=ApiToken.Kind.DEVICE, register__location_id__in=list(groups))
        | Q(kind=ApiToken.Kind.USER, user_id__in=list(roles))
    ).select_related("user", "register", "revoked_by")
    labels = dict(Membership.Role.choices)
    for token in tokens:
        state = _state(token, now)
        if token.is_device_token:
            places = {token.register.location_id: ""}
        else:
            places = {pk: str(labels.get(role, role)) for pk, role in roles[token.user_id].items()}
        for location_id, role in places.items():
            group = groups[location_id]
            if state == ACTIVE:
                group.active += 1
            elif not show_ended:
                group.hidden += 1
                continue
            group.rows.append(TokenRow(token, state, role))
    for group in groups.values():
        group.rows.sort(key=_order)
    return list(groups.values())


# --- pages -------------------------------------------------------------------------------


def _list_params(params) -> dict[str, str]:
    """The list's own query parameters (location, show), nothing else: redirects built
    from them can only lead back to this page."""
    kept = {}
    location = params.get("location", "")
    if location.isascii() and (location.isdigit() or location == "all"):
        kept["location"] = location
    if params.get("show") == "all":
        kept["show"] = "all"
    return kept


def _toggled(params: dict[str, str]) -> dict[str, str]:
    """The same list with the revoked and expired tokens shown, or hidden again."""
    if params.get("show") == "all":
        return {name: value for name, value in params.items() if name != "show"}
    return {**params, "show": "all"}


def _list_url(params: dict[str, str]) -> str:
    return reverse("tokens") + (f"?{urlencode(params)}" if params else "")


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """403 for anyone who manages no location."""
    if not locations_for(request.user).exists():
        return render(request, "no_locations.html", status=403)
    if not locations_for(request.user, roles=MANAGER_ONLY).exists():
        return render(request, "cashdrawer/tokens_no_access.html", status=403)
    return None


def _take_issued(request: HttpRequest) -> dict | None:
    """The token issued by the previous request and its secret, once: removed from the
    session before the page is drawn."""
    issued = request.session.pop(ISSUED_SESSION_KEY, None)
    if not isinstance(issued, dict):
        return None
    token = (
        visible_tokens(request.user)
        .select_related("register__location")
        .filter(pk=issued.get("token"), kind=ApiToken.Kind.DEVICE)
        .first()
    )
    if token is None:
        return None
    return {"token": token, "secret": issued.get("secret", "")}


@login_required
@never_cache  # the page may carry a new secret: no browser or proxy keeps a copy
@require_http_methods(["GET", "HEAD", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    scope = scope_from_request(request, roles=MANAGER_ONLY)
    show_ended = request.GET.get("show") == "all"
    registers = (
        Register.objects.filter(location__in=scope.selected)
        .select_related("location")
        .order_by("location__name", "name", "pk")
    )
    form_kwargs = {"registers": registers, "name_only": scope.location is not None}
    status = 200
    if request.method == "POST":
        form = IssueDeviceTokenForm(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                issued = issue_device_token(
                    register=form.cleaned_data["register"],
                    by=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except ValidationError as error:
                form.add_error(None, error)
                status = 400
            else:
                request.session[ISSUED_SESSION_KEY] = {
                    "token": issued.token.pk,
                    "secret": issued.secret,
                }
                return redirect(_list_url(_list_params(request.GET)))
        else:
            status = 400
    else:
        form = IssueDeviceTokenForm(**form_kwargs)
    groups = tokens_by_location(scope.selected, now=timezone.now(), show_ended=show_ended)
    params = _list_params(request.GET)
    # Only a GET takes the secret: a HEAD (a link checker) must not use up its one showing.
    issued = _take_issued(request) if request.method == "GET" else None
    context = {
        "section": "tokens",
        "scope": scope,
        "groups": groups,
        "show_ended": show_ended,
        "hidden_count": sum(group.hidden for group in groups),
        "active_count": sum(group.active for group in groups),
        "list_query": urlencode(params),
        "toggle_query": urlencode(_toggled(params)),
        "form": form,
        "has_registers": registers.exists(),
        "issued": issued,
        "transactions_url": request.build_absolute_uri(reverse("transaction-list")),
    }
    return render(request, "cashdrawer/tokens.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what revoking this token means, and the button. POST: revoke it."""
    token = get_object_or_404(
        visible_tokens(request.user).select_related("user", "register__location", "revoked_by"),
        pk=pk,
    )
    back = _list_url(_list_params(request.GET))
    label = _token_label(token)
    if request.method == "POST":
        if revoke_token(token=token, by=request.user):
            messages.success(
                request, _("Revoked %(token)s. It no longer works.") % {"token": label}
            )
        else:
            messages.info(request, _("%(token)s was already revoked.") % {"token": label})
        return redirect(back)
    if token.is_revoked:
        messages.info(request, _("%(token)s was already revoked.") % {"token": label})
        return redirect(back)
    if token.is_device_token:
        location = token.register.location
    else:  # times in the zone of a store where the owner works and this user manages
        managed = locations_for(request.user, roles=MANAGER_ONLY)
        location = managed.filter(memberships__user=token.user_id).order_by("name").first()
    context = {"section": "tokens", "token": token, "back_url": back, "location": location}
    return render(request, "cashdrawer/token_revoke.html", context)


def _token_label(token: ApiToken) -> str:
    """`cdd_AbCd… “Till 1 tablet” of Till 1`, as a message names it."""
    text = f"{token.prefix}…"
    if token.name:
        text += f" “{token.name}”"
    if token.is_device_token:
        return _("%(token)s of %(register)s") % {"token": text, "register": token.register.name}
    owner = token.user.get_full_name() or token.user.get_username()
    return _("%(token)s of %(user)s") % {"token": text, "user": owner}
