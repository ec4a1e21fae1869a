"""Reference data (locations, registers, denominations) and credentials (tokens)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from cashdrawer import selectors
from cashdrawer.api.base import (
    ACTION_ERRORS,
    CREATE_ERRORS,
    QUERY_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    AwareDateTimeField,
    IdRelatedField,
    InputSerializer,
    MoneyField,
    MoneyModelSerializer,
    StaffSerializer,
    TextField,
    errors,
    save_cleaned,
)
from cashdrawer.audit import client_address, plain
from cashdrawer.authentication import (
    issue_device_token,
    issue_user_token,
    reissue_secret,
    revoke_token,
)
from cashdrawer.filters import DenominationFilter, RegisterFilter
from cashdrawer.idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER, idempotent
from cashdrawer.models import ApiToken, Denomination, Location, Register
from cashdrawer.permissions import (
    MANAGER_ONLY,
    check_manager,
    is_device,
)
from cashdrawer.services import record_login, record_logout, write_audit
from cashdrawer.throttling import LoginRateThrottle

POST_PARAMETERS = [IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER]


def _values(instance: Any, data: dict) -> dict:
    """The fields a request sets, as they are before the change."""
    return {name: plain(getattr(instance, name, None)) for name in data}


def _changes(before: dict, instance: Any) -> dict:
    """The audit entry's {"field": {"old", "new"}} of the fields that changed."""
    after = {name: plain(getattr(instance, name, None)) for name in before}
    return {
        name: {"old": before[name], "new": after[name]}
        for name in before
        if before[name] != after[name]
    }


# --- locations -------------------------------------------------------------------------


def _name_field(model) -> TextField:
    """A name as a ModelSerializer would make it (trimmed, not blank), stated exactly."""
    return TextField(
        max_length=model._meta.get_field("name").max_length,
        required_text=True,
        trim_whitespace=True,
        allow_blank=False,
    )


class LocationSerializer(MoneyModelSerializer):
    name = _name_field(Location)
    # Not an enum of the server's ~600 zone names: a client would carry them all and a
    # new tz release would change its types. The model's clean() checks the name.
    timezone = TextField(
        max_length=Location._meta.get_field("timezone").max_length,
        required_text=True,
        trim_whitespace=True,
        allow_blank=False,
        required=False,
        help_text="An IANA time zone name known to the server, e.g. Europe/Amsterdam (the "
        "default); another is 400.",
    )
    max_amount = MoneyField(
        read_only=True,
        help_text="The largest single amount accepted here (a sale, an adjustment, a float); "
        "set by an administrator.",
    )
    discrepancy_threshold = MoneyField(
        required=False,
        help_text="A close whose end or total discrepancy is larger than this (short or "
        'over) raises an alert and needs "confirm_discrepancy": true; default 10.00.',
    )
    payment_methods = serializers.SlugRelatedField(
        many=True,
        read_only=True,
        slug_field="name",
        help_text='The payment methods this location takes, e.g. ["card", "cash"]. Only '
        '"cash" moves cash in the drawer.',
    )

    class Meta:
        model = Location
        fields = [
            "id",
            "name",
            "currency",
            "timezone",
            "max_amount",
            "discrepancy_threshold",
            "payment_methods",
        ]
        # Uniqueness and every other rule: the model's full_clean(), in save_cleaned().
        extra_kwargs = {"name": {"validators": []}}

    def currency_of(self, location: Location) -> str:
        return location.currency

    def create(self, validated_data: dict) -> Location:
        location = Location(**validated_data)
        save_cleaned(location)
        return location

    def update(self, location: Location, validated_data: dict) -> Location:
        for name, value in validated_data.items():
            setattr(location, name, value)
        save_cleaned(location)
        return location


@extend_schema_view(
    list=extend_schema(
        summary="Locations the credentials belong to",
        responses={200: LocationSerializer, **errors(*QUERY_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One location", responses={200: LocationSerializer, **errors(*READ_ERRORS)}
    ),
    create=extend_schema(
        summary="Create a location (superusers only)",
        description="A new location has no members yet, so only a superuser, who sees every "
        "location, creates one; memberships are then given in the admin. Its name is unique "
        "(400 otherwise).",
        parameters=POST_PARAMETERS,
        responses={201: LocationSerializer, **errors(*CREATE_ERRORS)},
    ),
    partial_update=extend_schema(
        summary="Change a location (its managers)",
        description="Its name is unique; its currency and its time zone no longer change "
        "once it has sessions (400 otherwise).",
        responses={200: LocationSerializer, **errors(*UPDATE_ERRORS)},
    ),
)
class LocationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LocationSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            selectors.locations_for(self.request.user)
            .prefetch_related("payment_methods")
            .order_by("name", "id")
        )

    @idempotent
    def create(self, request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied(_("Only a superuser creates locations."))
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        location = serializer.save()
        write_audit(
            user=self.request.user,
            action="location.create",
            obj=location,
            data={"via": "api", "values": dict(serializer.data)},
        )

    def partial_update(self, request, *args, **kwargs):
        check_manager(request, self.get_object())
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer) -> None:
        before = _values(serializer.instance, serializer.validated_data)
        location = serializer.save()
        write_audit(
            user=self.request.user,
            action="location.update",
            obj=location,
            data={"via": "api", "changes": _changes(before, location)},
        )


# --- registers -------------------------------------------------------------------------


class RegisterSerializer(MoneyModelSerializer):
    name = _name_field(Register)
    location = IdRelatedField(queryset=Location.objects.none())
    main_register = IdRelatedField(
        queryset=Register.objects.none(), allow_null=True, required=False
    )
    default_float = MoneyField(allow_null=True, required=False)

    class Meta:
        model = Register
        fields = [
            "id",
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
        # The model's rules (a sub needs a main of the same location, ...) and the unique
        # code per location are checked by its full_clean(), in save_cleaned().
        validators: list = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        # Only what the user may see is choosable: anything else is "does not exist".
        self.fields["location"].queryset = selectors.locations_for(user, roles=MANAGER_ONLY)
        self.fields["main_register"].queryset = selectors.registers_for(user)

    def currency_of(self, register: Register) -> str:
        return register.location.currency

    def create(self, validated_data: dict) -> Register:
        register = Register(**validated_data)
        save_cleaned(register)
        return register

    def update(self, register: Register, validated_data: dict) -> Register:
        for name, value in validated_data.items():
            setattr(register, name, value)
        save_cleaned(register)
        return register


REGISTER_RULES = (
    "`location`: a location the user manages. The code is unique per location. A "
    "sub-register names a main register of the same location (`main_register`) and has no "
    "default float; no other register names one; a main register counts by denominations. "
    "`default_float` is at most the location's `max_amount`, in its currency's minor units. "
    "Any of these broken: 400 naming the field."
)


@extend_schema_view(
    list=extend_schema(
        summary="Registers", responses={200: RegisterSerializer, **errors(*QUERY_ERRORS)}
    ),
    retrieve=extend_schema(
        summary="One register (device tokens: their own)",
        responses={200: RegisterSerializer, **errors(*READ_ERRORS)},
    ),
    create=extend_schema(
        summary="Create a register (managers of its location)",
        description=REGISTER_RULES,
        parameters=POST_PARAMETERS,
        responses={201: RegisterSerializer, **errors(*CREATE_ERRORS)},
    ),
    partial_update=extend_schema(
        summary="Change a register (managers of its location)",
        description=f"{REGISTER_RULES} While a session is open its role, main register and "
        "cash tracking stay as they are; a register with sessions stays at its location.",
        responses={200: RegisterSerializer, **errors(*UPDATE_ERRORS)},
    ),
)
class RegisterViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RegisterSerializer
    filterset_class = RegisterFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    device_actions = {"retrieve"}

    def get_queryset(self):
        return selectors.registers_for(self.request.user).order_by("location__name", "name", "id")

    def get_object(self) -> Register:
        register = super().get_object()
        if is_device(self.request) and register.pk != self.request.auth.register_id:
            raise PermissionDenied(_("A device token may only act on its own register."))
        return register

    @idempotent
    def create(self, request, *args, **kwargs):
        if not selectors.locations_for(request.user, roles=MANAGER_ONLY).exists():
            raise PermissionDenied(_("Only a manager creates registers."))
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        register = serializer.save()
        write_audit(
            user=self.request.user,
            action="register.create",
            obj=register,
            data={"via": "api", "values": dict(serializer.data)},
        )

    def partial_update(self, request, *args, **kwargs):
        check_manager(request, self.get_object().location_id)
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer) -> None:
        before = _values(serializer.instance, serializer.validated_data)
        register = serializer.save()
        write_audit(
            user=self.request.user,
            action="register.update",
            obj=register,
            data={"via": "api", "changes": _changes(before, register)},
        )


# --- denominations ---------------------------------------------------------------------


class DenominationSerializer(MoneyModelSerializer):
    value = MoneyField(read_only=True)

    class Meta:
        model = Denomination
        fields = ["currency", "value", "kind"]

    def currency_of(self, denomination: Denomination) -> str:
        return denomination.currency


@extend_schema_view(
    list=extend_schema(
        summary="Coins and notes per currency, by value",
        responses={200: DenominationSerializer, **errors(*QUERY_ERRORS)},
    ),
)
class DenominationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Reference data every terminal needs for a count screen, devices included."""

    serializer_class = DenominationSerializer
    filterset_class = DenominationFilter
    device_allowed = True

    def get_queryset(self):
        return Denomination.objects.order_by("currency", "value", "id")


# --- tokens ----------------------------------------------------------------------------

USERNAME_MAX = get_user_model()._meta.get_field("username").max_length
TOKEN_NAME_MAX = ApiToken._meta.get_field("name").max_length


class TokenRequestSerializer(InputSerializer):
    username = TextField(max_length=USERNAME_MAX, required_text=True)
    password = TextField(
        max_length=None, required_text=False, allow_blank=False, style={"input_type": "password"}
    )
    name = TextField(
        max_length=TOKEN_NAME_MAX,
        required=False,
        trim_whitespace=True,
        help_text="A label, e.g. the script.",
    )


class TokenResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Revoke with DELETE /api/v1/auth/token/.")
    token = serializers.CharField(help_text="Shown only once; stored only as a hash.")


def _replay_token(view: Any, request: Any, data: dict) -> dict:
    """A repeat of a request that issued a token: the same token, a new secret.

    The repeat does not run `post`, so what `post` checks is checked here again: a
    device token is re-keyed only by someone still managing its register, and a token
    that was revoked (or deleted with its register or user) is not brought back."""
    if hasattr(view, "get_register"):
        view.get_register()
    token = ApiToken.objects.filter(pk=data["id"], revoked_at__isnull=True).first()
    if token is None:
        raise NotFound(_("This token was revoked; ask for a new one with a new key."))
    return {**data, "token": reissue_secret(token)}


def _without_secret(data: dict) -> dict:
    return {name: value for name, value in data.items() if name != "token"}


class AuthTokenView(GenericAPIView):
    """POST: a user token for a username and password. DELETE: revoke the token in use."""

    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    def get_throttles(self) -> list:
        # Password guessing: 10 attempts a minute from one address (API_LOGIN_RATE), then
        # 429; django-axes locks the username or address out after 10 failures as well.
        if self.request.method == "POST":
            return [LoginRateThrottle()]
        return super().get_throttles()

    # A token is never stored in an idempotency record; a repeat gets a new secret.
    idempotency_store = staticmethod(_without_secret)

    def idempotency_identity(self, request) -> str:
        return f"user:{self._user(request).pk}"

    def idempotency_payload(self, request) -> dict:
        # Not the password: the fingerprint must not be a hash of it.
        return {"username": request.data.get("username"), "name": request.data.get("name")}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            # The login is checked (and audited) before `post` opens its transaction, so
            # the audit entry of a failed login is not rolled back with the refusal.
            self._user(request)

    def _user(self, request):
        if not hasattr(request, "_token_user"):
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # A wrong password is audited by the user_login_failed signal (cashdrawer/audit.py).
            # Django's own request, so django-axes (settings AXES_*) counts the failure
            # and its middleware turns a lockout into 429 `locked_out`.
            user = authenticate(
                request._request,
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
            )
            if user is None or not user.is_active:
                raise ValidationError(
                    {"non_field_errors": [_("Unable to log in with this username and password.")]}
                )
            record_login(user=user, via="api", address=client_address(request))
            request._token_user = (user, serializer.validated_data.get("name", ""))
        return request._token_user[0]

    @extend_schema(
        summary="Get a user token",
        description="Answers a new token for the user; it acts with the user's permissions. "
        "Wrong username or password: 400 (as OAuth 2 token endpoints do). No credentials are "
        "needed, but an `Authorization` header that is sent must be valid (else 401), and a "
        "browser session needs its CSRF token (else 403). A repeat with the same "
        "Idempotency-Key answers the same token with a new secret, or 404 once it was revoked.",
        request=TokenRequestSerializer,
        responses={
            201: TokenResponseSerializer,
            **errors(
                *CREATE_ERRORS, 404, e404="A repeat of a request whose token was revoked since."
            ),
        },
        parameters=POST_PARAMETERS,
        auth=[],
    )
    @idempotent(replay=_replay_token)
    def post(self, request, *args, **kwargs):
        self._user(request)
        user, name = request._token_user
        issued = issue_user_token(user=user, name=name)
        return Response({"id": issued.token.pk, "token": issued.secret}, status=201)

    @extend_schema(
        summary="Revoke the token this request is made with",
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), **errors(401, 403)},
    )
    def delete(self, request, *args, **kwargs):
        if not isinstance(request.auth, ApiToken) or request.auth.is_device_token:
            raise PermissionDenied(_("Only a user token revokes itself here."))
        revoke_token(token=request.auth, by=request.user)
        record_logout(user=request.user, via="api", address=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return super().get_permissions()


class DeviceTokenSerializer(serializers.ModelSerializer):
    created_by = StaffSerializer(source="user", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "register",
            "name",
            "prefix",
            "created_at",
            "created_by",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields


class DeviceTokenRequestSerializer(InputSerializer):
    name = TextField(
        max_length=TOKEN_NAME_MAX,
        required=False,
        trim_whitespace=True,
        help_text='e.g. "Till 1 terminal"',
    )
    expires_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="With its UTC offset, in the future. From then on the token answers 401 "
        "`token_expired`. Default: the token does not expire (revoke it when the terminal "
        "goes).",
    )


class IssuedDeviceTokenSerializer(DeviceTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown only once; stored hashed.")

    class Meta(DeviceTokenSerializer.Meta):
        fields = [*DeviceTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class RegisterDeviceTokensView(GenericAPIView):
    """A register's device tokens: list them (without secrets) or issue one."""

    serializer_class = DeviceTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; get_register() does the lookup
    pagination_class = None

    def get_register(self) -> Register:
        register = get_object_or_404(
            selectors.registers_for(self.request.user), pk=self.kwargs["pk"]
        )
        check_manager(self.request, register.location_id)
        return register

    @extend_schema(
        summary="A register's device tokens (managers)",
        responses={200: DeviceTokenSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        register = self.get_register()
        tokens = register.device_tokens.select_related("user").order_by("-created_at", "-id")
        return Response(DeviceTokenSerializer(tokens, many=True).data)

    @extend_schema(
        summary="Issue a device token for the register (managers)",
        description="The token acts only on this register, as the manager who issued it. "
        "Its secret is in this answer only. A repeat with the same Idempotency-Key answers "
        "the same token with a new secret (the first one stops working).",
        request=DeviceTokenRequestSerializer,
        responses={201: IssuedDeviceTokenSerializer, **errors(*ACTION_ERRORS)},
        parameters=POST_PARAMETERS,
    )
    @idempotent(replay=_replay_token)
    def post(self, request, *args, **kwargs):
        register = self.get_register()
        body = DeviceTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = issue_device_token(
            register=register,
            by=request.user,
            name=body.validated_data.get("name", ""),
            expires_at=body.validated_data.get("expires_at"),
        )
        data = DeviceTokenSerializer(issued.token).data
        return Response({**data, "token": issued.secret}, status=status.HTTP_201_CREATED)

    idempotency_store = staticmethod(_without_secret)


class DeviceTokenView(GenericAPIView):
    serializer_class = DeviceTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; get_token() does the lookup

    def get_token(self) -> ApiToken:
        if is_device(self.request):
            raise PermissionDenied(_("A device token may only act on its own register."))
        visible = ApiToken.objects.filter(
            kind=ApiToken.Kind.DEVICE, register__in=selectors.registers_for(self.request.user)
        ).select_related("user", "register")
        token = get_object_or_404(visible, pk=self.kwargs["pk"])
        check_manager(self.request, token.register.location_id)
        return token

    @extend_schema(
        summary="One device token (managers)",
        responses={200: DeviceTokenSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return Response(DeviceTokenSerializer(self.get_token()).data)

    @extend_schema(
        summary="Revoke a device token (managers)",
        description="From now on the token answers 401. Revoking twice is fine.",
        responses={204: OpenApiResponse(description="Revoked."), **errors(401, 403, 404)},
    )
    def delete(self, request, *args, **kwargs):
        revoke_token(token=self.get_token(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
