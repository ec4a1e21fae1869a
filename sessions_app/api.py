"""Session endpoints of the API: open, read, adjust, close, and transactions.

Each view fetches its objects scoped to the credentials (cashdrawer/selectors.py: another
location's answer 404), checks the role and a device token's register (403), checks the
shape of the body (400), calls one service of sessions_app/services.py, and answers. The
services hold every rule; their errors become 400/409 in cashdrawer/exception_handler.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cashdrawer import selectors
from cashdrawer.actors import actor, actor_of_request
from cashdrawer.api.base import (
    ACTION_ERRORS,
    AMOUNT_TEXT_MAX,
    QUERY_ERRORS,
    READ_ERRORS,
    ActorSerializer,
    AmountInput,
    AwareDateTimeField,
    CountInput,
    CountLineSerializer,
    IdField,
    InputSerializer,
    MoneyField,
    MoneyModelSerializer,
    MoneySerializer,
    TextField,
    check_amount,
    errors,
)
from cashdrawer.idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER, idempotent
from cashdrawer.models import Register
from cashdrawer.money import FIGURE_LIMIT, format_amount
from cashdrawer.permissions import (
    check_manager,
    check_operator,
    check_register,
    device_register_id,
    role_for,
    sees_blind_figures,
)
from sessions_app import services
from sessions_app.filters import SessionFilter, TransactionFilter
from sessions_app.models import (
    Adjustment,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import (
    is_blind,
    passes_threshold,
    sales_by_method,
    totals_by_method,
    with_corrections,
)

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY
POST_PARAMETERS = [IDEMPOTENCY_KEY_PARAMETER, REPLAYED_PARAMETER]
BLIND_NULL = "Null for cashiers and devices while the session is blind (blind close)."

# A sealed blind close (DOMAIN.md rule 7): while a session is blind
# (sessions_app.selectors.is_blind), whoever counts it, a cashier or a device token, reads
# no figure of its cash: not the expected cash, nor any part or sum of it. Each money
# figure of the session is null (the opening float and start discrepancy too: with the
# previous closing float they are parts of the sum), its sales by method and its counts
# are null, its adjustments list their amounts as null, and the transaction list gives
# the amounts of its cash transactions as null (other payment methods stay shown: a
# terminal still needs its list). BLIND_FIELDS, after SessionSerializer, names them.


def hides_cash(context: dict[str, Any], session: TrackingSession | None) -> bool:
    """Whether an answer hides the cash figures of `session` from its reader."""
    if session is None or not is_blind(session):
        return False
    request = context.get("request")
    return request is None or not sees_blind_figures(request, session.location_id)


# --- serializers: out ------------------------------------------------------------------


class AdjustmentSerializer(MoneyModelSerializer):
    amount = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Null for cashiers and devices under blind close.",
    )
    created_by = ActorSerializer(source="created_by_actor", read_only=True, allow_null=True)

    class Meta:
        model = Adjustment
        fields = ["id", "session", "direction", "amount", "reason", "created_at", "created_by"]
        read_only_fields = fields

    def currency_of(self, adjustment: Adjustment) -> str | None:
        return None if self.parent is not None else adjustment.session.location.currency

    def to_representation(self, adjustment: Adjustment) -> dict[str, Any]:
        data = super().to_representation(adjustment)
        # Within a session, SessionSerializer hides them all at once.
        if self.parent is None and hides_cash(self.context, adjustment.session):
            data["amount"] = None
        return data


class DiscrepancyNoteSerializer(serializers.Serializer):
    session = serializers.IntegerField(source="session_id", read_only=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = ActorSerializer(source="created_by_actor", read_only=True, allow_null=True)


class CountsSerializer(serializers.Serializer):
    opening = CountLineSerializer(many=True)
    closing = CountLineSerializer(many=True)


class SessionSerializer(MoneySerializer):
    """What a session shows (DOMAIN.md rule 7). Figures hidden by blind close are null:
    every money field therefore allows null (tests/test_blind_sealed.py checks it)."""

    id = serializers.IntegerField(read_only=True)
    register = serializers.IntegerField(source="register_id", read_only=True)
    location = serializers.IntegerField(source="location_id", read_only=True)
    status = serializers.ChoiceField(choices=TrackingSession.Status.choices, read_only=True)
    opened_at = serializers.DateTimeField(read_only=True)
    opened_by = ActorSerializer(source="opened_by_actor", read_only=True, allow_null=True)
    opened_automatically = serializers.BooleanField(read_only=True)
    opening_float = MoneyField(read_only=True, allow_null=True, help_text=BLIND_NULL)
    opening_note = serializers.CharField(read_only=True)
    previous_closing_float = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Null for the register's first session, and while the session is blind for "
        "cashiers and devices.",
    )
    start_discrepancy = MoneyField(read_only=True, allow_null=True, help_text=BLIND_NULL)
    cash_sales = MoneyField(read_only=True, allow_null=True)
    cash_refunds = MoneyField(read_only=True, allow_null=True)
    net_cash = MoneyField(read_only=True, allow_null=True)
    adjustments_in = MoneyField(read_only=True, allow_null=True, help_text=BLIND_NULL)
    adjustments_out = MoneyField(read_only=True, allow_null=True, help_text=BLIND_NULL)
    sub_register_cash = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Main register: cash transferred from its closed sub sessions; else 0.",
    )
    own_expected_cash = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Expected cash of this register alone (expected_cash - sub_register_cash).",
    )
    expected_cash = MoneyField(
        source="current_expected_cash",
        read_only=True,
        allow_null=True,
        help_text="So far while open; at close when closed. Null under blind close.",
    )
    total_sales = MoneyField(read_only=True, allow_null=True)
    total_refunds = MoneyField(read_only=True, allow_null=True)
    sales_by_method = serializers.SerializerMethodField()
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_by = ActorSerializer(source="closed_by_actor", read_only=True, allow_null=True)
    closing_note = serializers.CharField(read_only=True)
    counted_cash = MoneyField(read_only=True, allow_null=True, help_text="Null: not counted.")
    end_discrepancy = MoneyField(read_only=True, allow_null=True, help_text="Null: not counted.")
    retained_float = MoneyField(read_only=True, allow_null=True)
    cash_removed = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Cash that left the store's drawers at the close; 0.00 for a sub session, "
        "whose cash went to its main session (transferred_to_main).",
    )
    transferred_to_main = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="A closed sub session: the cash it handed to its main session. 0.00 for "
        "every other closed session; null while open.",
    )
    total_discrepancy = MoneyField(read_only=True, allow_null=True, help_text=BLIND_NULL)
    corrections_total = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="The sum of the session's corrections; 0.00 without any. " + BLIND_NULL,
    )
    total_discrepancy_after_corrections = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="total_discrepancy + corrections_total. " + BLIND_NULL,
    )
    main_session = serializers.IntegerField(
        source="main_session_id", read_only=True, allow_null=True, help_text="Sub sessions only."
    )
    closing_number = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="1, 2, 3 … per register, without gaps; null while open.",
    )
    closing_hash = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="SHA-256 (64 hex characters) over this close and the register's previous "
        "closing hash (docs/DOMAIN.md, rule 6); null while open.",
    )
    adjustments = AdjustmentSerializer(many=True, read_only=True)
    counts = serializers.SerializerMethodField()
    discrepancy_note = DiscrepancyNoteSerializer(
        read_only=True,
        allow_null=True,
        help_text="The explanation of a discrepancy past the location's threshold, added "
        "after a blind close (POST .../discrepancy-note/); null without one.",
    )

    def currency_of(self, session: TrackingSession) -> str:
        return session.location.currency

    @extend_schema_field(serializers.DictField(child=serializers.CharField(), allow_null=True))
    def get_sales_by_method(self, session: TrackingSession) -> dict[str, str]:
        known = self.context.get("sales_by_method")
        by_method = known.get(session.pk, {}) if known is not None else sales_by_method(session)
        return {
            method: format_amount(amount, self._currency) for method, amount in by_method.items()
        }

    @extend_schema_field(CountsSerializer(allow_null=True))
    def get_counts(self, session: TrackingSession) -> dict[str, list]:
        lines = {stage: [] for stage in CountLine.Stage.values}
        for line in session.counts.all():
            lines[line.stage].append(
                {"value": format_amount(line.value, self._currency), "quantity": line.quantity}
            )
        return lines

    def to_representation(self, session: TrackingSession) -> dict[str, Any]:
        data = super().to_representation(session)
        data["closing_hash"] = data["closing_hash"] or None  # stored "" while open
        if hides_cash(self.context, session):
            data.update(dict.fromkeys(blind_fields(self)))
            data["adjustments"] = [{**row, "amount": None} for row in data["adjustments"]]
        return data


def blind_fields(serializer: SessionSerializer) -> list[str]:
    """The session's fields that are null under blind close: every money figure, its
    sales by method and its counts."""
    return [
        name
        for name, field in serializer.fields.items()
        if isinstance(field, MoneyField) or name in ("sales_by_method", "counts")
    ]


BLIND_FIELDS = tuple(blind_fields(SessionSerializer()))


class TransactionSerializer(MoneySerializer):
    # Declared field by field, not a ModelSerializer: it answers every POS sale, and
    # building the fields from the model again on each request is a noticeable cost.
    id = serializers.IntegerField(read_only=True)
    session = serializers.IntegerField(source="session_id", read_only=True, allow_null=True)
    register = serializers.IntegerField(source="register_id", read_only=True)
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices, read_only=True)
    payment_method = serializers.CharField(read_only=True)
    amount = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="Null for a cash transaction of a blind session, read by a cashier or a device.",
    )
    occurred_at = serializers.DateTimeField(read_only=True)
    received_at = serializers.DateTimeField(read_only=True)
    external_id = serializers.CharField(read_only=True, allow_null=True)
    late = serializers.BooleanField(read_only=True)

    def currency_of(self, transaction: Transaction) -> str:
        return transaction.register.location.currency

    def to_representation(self, transaction: Transaction) -> dict[str, Any]:
        # Written out rather than run through the fields declared above (which describe it
        # for the schema): it answers every POS sale and every line of a list, and copying
        # the declared fields for each answer cost more than the rest of it. Each value is
        # what its field gives (tests/api/test_transaction_answer.py compares the two).
        hidden = (
            transaction.is_cash
            and transaction.session_id is not None
            and hides_cash(self.context, transaction.session)
        )
        amount, external_id = transaction.amount, transaction.external_id
        return {
            "id": transaction.pk,
            "session": transaction.session_id,
            "register": transaction.register_id,
            "kind": str(transaction.kind),
            "payment_method": str(transaction.payment_method),
            "amount": None
            if hidden or amount is None
            else format_amount(Decimal(amount), self.currency_of(transaction)),
            "occurred_at": _TIME.to_representation(transaction.occurred_at),
            "received_at": _TIME.to_representation(transaction.received_at),
            "external_id": None if external_id is None else str(external_id),
            "late": bool(transaction.late),
        }

    def to_representation_by_fields(self, transaction: Transaction) -> dict[str, Any]:
        """The answer as the declared fields give it: what to_representation must equal."""
        data = super().to_representation(transaction)
        if (
            transaction.is_cash
            and transaction.session_id is not None
            and hides_cash(self.context, transaction.session)
        ):
            data["amount"] = None
        return data


# A time as the declared DateTimeFields write it (ISO 8601, in the current time zone).
_TIME = serializers.DateTimeField(read_only=True)


class CorrectionSerializer(MoneySerializer):
    """A correction of a closed session's discrepancy (DOMAIN.md section 6): a record of
    its own, numbered and chained per register; the session itself never changes."""

    id = serializers.IntegerField(read_only=True)
    session = serializers.IntegerField(source="session_id", read_only=True)
    register = serializers.IntegerField(source="register_id", read_only=True)
    amount = MoneyField(read_only=True, help_text="Signed: added to the total discrepancy.")
    reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.SerializerMethodField()
    correction_number = serializers.IntegerField(
        read_only=True, help_text="1, 2, 3 … per register, without gaps."
    )
    correction_hash = serializers.CharField(
        read_only=True, help_text="SHA-256 chained to the register's previous correction."
    )

    def currency_of(self, correction: Correction) -> str:
        return correction.session.location.currency

    @extend_schema_field(ActorSerializer)
    def get_created_by(self, correction: Correction) -> dict[str, Any]:
        # A correction is always a person's (managers only; never a device).
        return ActorSerializer(actor(correction.created_by, None)).data


# --- serializers: in (shape only; the services check the rest) -------------------------


# The schema states each field's shape and widest bounds (cashdrawer/api/schema.py); what
# depends on the register's location (its currency, ceiling, payment methods and
# denominations) is said in the help texts and checked by the services.

NOTE_MAX = 2000
REASON_MAX = Adjustment._meta.get_field("reason").max_length


class RegisterRefSerializer(InputSerializer):
    register = IdField(help_text="A register the credentials operate (else 404 or 403).")


class CountLineRequestSerializer(InputSerializer):
    """One line of a count: a denomination of the location's currency and how many."""

    value = AmountInput(
        limit=FIGURE_LIMIT,
        help_text="A coin or note of the location's currency (GET /denominations/), each "
        "at most once in a count.",
    )
    quantity = serializers.IntegerField(min_value=0, max_value=services.MAX_QUANTITY)


def _count(help_text: str) -> CountInput:
    return CountInput(
        line_serializer=CountLineRequestSerializer,
        required=False,
        allow_null=True,
        help_text=help_text,
    )


class OpenSessionRequestSerializer(RegisterRefSerializer):
    either = ("opening_float", "opening_counts")
    either_required = True

    opening_float = AmountInput(
        required=False,
        allow_null=True,
        help_text="The float as a total. Give this or `opening_counts`, not both.",
    )
    opening_counts = _count(
        "The float counted by denominations; its total is at most the location's "
        "`max_amount`. Give this or `opening_float`, not both."
    )
    note = TextField(max_length=NOTE_MAX, required=False)


class AdjustmentRequestSerializer(InputSerializer):
    direction = serializers.ChoiceField(choices=Adjustment.Direction.choices)
    amount = AmountInput(
        positive=True,
        help_text="A cash out is at most the cash in the drawer (else 409 `insufficient_cash`).",
    )
    reason = TextField(max_length=REASON_MAX, required_text=True)


class CloseRequestSerializer(InputSerializer):
    either = ("counted_cash", "counts")

    counted_cash = AmountInput(
        limit=FIGURE_LIMIT,
        required=False,
        allow_null=True,
        help_text="The count as a total, on a register that counts as a total. Give this or "
        "`counts` (or neither: not counted); a sub-register is never counted.",
    )
    counts = _count(
        "The count by denominations. Give this or `counted_cash` (or neither: not counted)."
    )
    retained_float = AmountInput(
        required=False,
        allow_null=True,
        help_text="Cash kept in the drawer for the next session: at most the counted cash, or "
        "the cash in the drawer when not counted; 0 on a sub-register. Default: the "
        "register's default float, as far as the cash goes.",
    )
    note = TextField(max_length=NOTE_MAX, required=False)
    confirm_discrepancy = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true to book a count whose end or total discrepancy is larger than the "
        "location's threshold (else 409 `discrepancy_needs_confirmation`); `note` is then "
        "required and becomes the closing note.",
    )


class ClosedSessionSerializer(SessionSerializer):
    note_requested = serializers.SerializerMethodField(
        help_text="true after a blind close whose discrepancy passed the location's "
        "threshold: explain it with POST /sessions/{id}/discrepancy-note/."
    )

    def get_note_requested(self, session: TrackingSession) -> bool:
        return bool(self.context.get("note_requested"))


class DiscrepancyNoteRequestSerializer(InputSerializer):
    note = TextField(max_length=NOTE_MAX, required_text=True)


class TransactionRequestSerializer(RegisterRefSerializer):
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices)
    payment_method = TextField(
        max_length=services.PAYMENT_METHOD_MAX,
        required_text=True,
        help_text='One of the location\'s `payment_methods` (GET /locations/), e.g. "cash" or '
        '"card"; compared without case, invisible characters or compatibility forms.',
    )
    amount = AmountInput()
    occurred_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="With its UTC offset; at most 5 minutes after the server's clock and at "
        f"most {settings.LATE_SALES_LIMIT_DAYS} days before it. Default: now.",
    )
    external_id = TextField(
        max_length=services.EXTERNAL_ID_MAX,
        required=False,
        allow_null=True,
        help_text="The terminal's id of the sale: a repeat on the same register answers the "
        "first transaction with 200.",
    )


class CorrectionAmountInput(AmountInput):
    """A correction's amount: signed ("-2.00", 5, -0.5), the only amount that may be
    negative. Its size is checked like any amount's; 0 is the service's to refuse."""

    signed = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and data.startswith("-"):
            size = data[1:]
            # The service reads at most AMOUNT_TEXT_MAX characters, the sign included.
            if size.startswith("-") or len(data) > AMOUNT_TEXT_MAX:
                self.fail("not_a_number", value=data)
            check_amount(self, size)
            return data
        if isinstance(data, (int, Decimal)) and not isinstance(data, bool) and data < 0:
            return data
        return check_amount(self, data)


class CorrectionRequestSerializer(InputSerializer):
    amount = CorrectionAmountInput(
        help_text="Signed, not 0: e.g. -2.00 when the drawer turned out 2.00 shorter than "
        "closed; at most the location's `max_amount` either way, with the currency's decimals."
    )
    reason = TextField(
        max_length=Correction._meta.get_field("reason").max_length, required_text=True
    )


def _valid(serializer_class: type[serializers.Serializer], request: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _register_in_body(request: Any) -> Register:
    """The register a POST acts on: visible (else 404), and the device's own (else 403)."""
    return _visible_register(request, _valid(RegisterRefSerializer, request)["register"])


def _checked_body(request: Any, serializer_class: type[RegisterRefSerializer]):
    """The register a POST acts on (as _register_in_body), and a serializer of the whole
    body, checked once: an error of the register (or a body that is no object) answers
    400 first, as _register_in_body would; the rest of the body's errors wait for
    `_valid_rest`, after the register's 404 and the role's 403."""
    serializer = serializer_class(data=request.data)
    if serializer.is_valid():
        return _visible_register(request, serializer.validated_data["register"]), serializer
    errors = serializer.errors
    first = {key: errors[key] for key in ("register", NON_FIELD_ERRORS) if key in errors}
    if first:
        raise ValidationError(first)
    return _visible_register(request, request.data["register"]), serializer


def _valid_rest(serializer: serializers.Serializer) -> dict[str, Any]:
    if serializer.errors:
        raise ValidationError(serializer.errors)
    return serializer.validated_data


def _visible_register(request: Any, register_id: int) -> Register:
    if device_register_id(request) == register_id:
        # A terminal posting to its own register, the hot path: the authentication loaded
        # the register; it is visible while the token's user has a role at its location.
        register = request.auth.register
        if role_for(request, register.location_id) is None:
            raise NotFound(_("No such register."))
        return register
    register = selectors.registers_for(request.user).filter(pk=register_id).first()
    if register is None:
        raise NotFound(_("No such register."))
    return register


# --- views -----------------------------------------------------------------------------


def _session_queryset(request: Any):
    return (
        with_corrections(selectors.sessions_for(request.user))
        .select_related(
            "register__location",
            "register__main_register",
            "location",
            "opened_by",
            "opened_by_device",
            "closed_by",
            "closed_by_device",
            "main_session__register",
            "discrepancy_note__created_by",
            "discrepancy_note__created_by_device",
        )
        .prefetch_related(
            Prefetch(
                "adjustments",
                Adjustment.objects.select_related("created_by", "created_by_device"),
            ),
            Prefetch("counts", CountLine.objects.order_by("stage", "-value")),
        )
    )


def _session_data(request: Any, session: TrackingSession) -> dict[str, Any]:
    fresh = _session_queryset(request).get(pk=session.pk)
    return SessionSerializer(fresh, context={"request": request}).data


class SessionListView(generics.ListAPIView):
    serializer_class = SessionSerializer
    filterset_class = SessionFilter
    device_allowed = True

    def get_queryset(self):
        sessions = _session_queryset(self.request).order_by("-opened_at", "-id")
        register_id = device_register_id(self.request)
        if register_id is not None:  # a terminal reads its own register's sessions
            sessions = sessions.filter(register_id=register_id)
        return sessions

    @extend_schema(
        summary="Sessions",
        description="Device tokens see their own register's sessions only. `opened_from` and "
        "`opened_to` are local dates of each session's location, both inclusive. While a "
        "session is blind (blind close), a cashier or a device token reads every money figure "
        "of it as null.",
        responses={200: SessionSerializer, **errors(*QUERY_ERRORS)},
    )
    def get(self, request, *args, **kwargs):
        sessions = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        sales = totals_by_method(sessions, Transaction.Kind.SALE)
        context = {**self.get_serializer_context(), "sales_by_method": sales}
        data = SessionSerializer(sessions, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Open a session by hand",
        description='Give the opening float as a total (`"opening_float": "150.00"`) or as a '
        'count (`"opening_counts": [{"value": "50.00", "quantity": 3}]`), not both and not '
        "neither (400). 409 codes: `session_already_open`, `main_session_not_open`, "
        "`cash_tracking_off`, `limit_exceeded`.",
        request=OpenSessionRequestSerializer,
        responses={201: SessionSerializer, **errors(*ACTION_ERRORS)},
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        register = _register_in_body(request)
        check_operator(request, register.location_id, register.pk)
        body = _valid(OpenSessionRequestSerializer, request)
        session = services.open_session(
            register=register,
            opening_float=body.get("opening_float"),
            opening_counts=body.get("opening_counts"),
            note=body.get("note", ""),
            by=actor_of_request(request),
        )
        return Response(_session_data(request, session), status=status.HTTP_201_CREATED)


class SessionDetailView(generics.RetrieveAPIView):
    serializer_class = SessionSerializer
    device_allowed = True

    def get_queryset(self):
        return _session_queryset(self.request)

    def get_object(self) -> TrackingSession:
        session = super().get_object()
        check_register(self.request, session.register_id)
        return session

    @extend_schema(
        summary="One session", responses={200: SessionSerializer, **errors(*READ_ERRORS)}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SessionActionView(generics.GenericAPIView):
    """An action on one session by someone who operates its register."""

    device_allowed = True

    def get_queryset(self):
        return selectors.sessions_for(self.request.user).select_related(
            "register__main_register", "location"
        )

    def get_object(self) -> TrackingSession:
        session = super().get_object()
        check_operator(self.request, session.location_id, session.register_id)
        return session


class AdjustmentCreateView(SessionActionView):
    serializer_class = AdjustmentRequestSerializer

    @extend_schema(
        summary="Put cash into or take it out of the drawer",
        description="409 codes: `session_closed`, `insufficient_cash` (a cash out larger than "
        "the drawer; on a blind-close session a cashier's or terminal's cash out is booked "
        "instead and shows at the close), `limit_exceeded` (a total would pass what it holds).",
        request=AdjustmentRequestSerializer,
        responses={201: AdjustmentSerializer, **errors(*ACTION_ERRORS)},
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        session = self.get_object()
        body = _valid(AdjustmentRequestSerializer, request)
        adjustment = services.adjust_float(
            session=session,
            direction=body["direction"],
            amount=body["amount"],
            reason=body["reason"],
            by=actor_of_request(request),
            sees_expected=sees_blind_figures(request, session.location_id),
        )
        data = AdjustmentSerializer(adjustment, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class SessionCloseView(SessionActionView):
    serializer_class = CloseRequestSerializer

    @extend_schema(
        summary="Close a session, with or without a count",
        description='Count as a total (`"counted_cash": "200.00"`, registers that count as a '
        'total) or by denominations (`"counts": [{"value": "50.00", "quantity": 4}]`), or '
        "give neither (not counted). `retained_float` defaults to the register's default "
        "float, at most the counted (or expected) cash. A sub-register is never counted: its "
        "expected cash goes to its main register's session. 409 codes: `session_closed`, "
        "`sub_sessions_open` (the detail names the open sub-registers), `limit_exceeded`, "
        "`discrepancy_needs_confirmation` (the count's end or total discrepancy is larger "
        "than the location's threshold: the answer adds `expected_cash`, `counted_cash`, "
        '`end_discrepancy`, `total_discrepancy` and `threshold`; send again with `"confirm_'
        'discrepancy": true` and a `note`). A cashier or a device closing a blind session '
        "is never asked (the figures would tell them the difference before the count is "
        'final): the close is booked and answers `"note_requested": true`; explain it with '
        "POST /sessions/{id}/discrepancy-note/. The answer shows every figure, also under "
        "blind close: the count is final once submitted.",
        request=CloseRequestSerializer,
        responses={
            200: ClosedSessionSerializer,
            **errors(
                *ACTION_ERRORS,
                e409="A rule forbids the close now; see the codes above. With the code "
                "`discrepancy_needs_confirmation` the body also has `expected_cash`, "
                "`counted_cash`, `end_discrepancy`, `total_discrepancy` and `threshold` "
                "(amounts as strings).",
            ),
        },
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        session = self.get_object()
        body = _valid(CloseRequestSerializer, request)
        sees_expected = sees_blind_figures(request, session.location_id)
        blind_for_closer = not sees_expected and is_blind(session)
        closed = services.close_session(
            session=session,
            counted=body.get("counted_cash"),
            counts=body.get("counts"),
            retained_float=body.get("retained_float"),
            note=body.get("note", ""),
            confirm_discrepancy=body.get("confirm_discrepancy", False),
            sees_expected=sees_expected,
            by=actor_of_request(request),
        )
        fresh = _session_queryset(request).get(pk=closed.pk)
        context = {
            "request": request,
            "note_requested": blind_for_closer and passes_threshold(fresh),
        }
        return Response(ClosedSessionSerializer(fresh, context=context).data)


class DiscrepancyNoteView(SessionActionView):
    serializer_class = DiscrepancyNoteRequestSerializer

    @extend_schema(
        summary="Explain a closed session's large discrepancy",
        description="After a blind close whose end or total discrepancy passed the "
        'location\'s threshold (the close answered `"note_requested": true`). Once per '
        "session, by whoever closed it (the same user or device token) or a manager of the "
        "location (anyone else: 403). The note is a record of its own, shown as the session's "
        "`discrepancy_note`; the session itself never changes. 400: a blank note. 409 codes: "
        "`session_not_closed`, `discrepancy_note_not_needed` (within the threshold, or not "
        "counted), `discrepancy_already_explained`.",
        request=DiscrepancyNoteRequestSerializer,
        responses={201: DiscrepancyNoteSerializer, **errors(*ACTION_ERRORS)},
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        session = self.get_object()
        body = _valid(DiscrepancyNoteRequestSerializer, request)
        explanation = services.explain_discrepancy(
            session=session, note=body["note"], by=actor_of_request(request)
        )
        data = DiscrepancyNoteSerializer(explanation, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class SessionCorrectionsView(generics.ListAPIView):
    """A session's corrections: read by whoever reads the session, added by its managers."""

    serializer_class = CorrectionSerializer
    device_allowed = True

    def session(self) -> TrackingSession:
        sessions = selectors.sessions_for(self.request.user).select_related("location")
        session = get_object_or_404(sessions, pk=self.kwargs["pk"])
        check_register(self.request, session.register_id)
        return session

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request
            return Correction.objects.none()
        return (
            Correction.objects.filter(session=self.session())
            .select_related("created_by", "session__location")
            .order_by("correction_number", "id")
        )

    @extend_schema(
        summary="A session's corrections",
        description="In the order they were made. Any role that reads the session; a device "
        "token its own register's.",
        responses={200: CorrectionSerializer, **errors(*QUERY_ERRORS)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Correct a closed session's discrepancy",
        description="Managers of the location only (cashiers, accountants and device tokens: "
        "403). A new record with a signed amount and a reason; the session's own figures stay "
        "as they were, and its `corrections_total` and "
        "`total_discrepancy_after_corrections` include it. 400: an amount of 0, above the "
        "ceiling, or with more decimals than the currency has; a blank reason. 409 "
        "`session_not_closed`: only a closed session can be corrected.",
        request=CorrectionRequestSerializer,
        responses={201: CorrectionSerializer, **errors(*ACTION_ERRORS)},
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        session = self.session()
        check_manager(request, session.location_id)
        body = _valid(CorrectionRequestSerializer, request)
        correction = services.add_correction(
            session=session, amount=body["amount"], reason=body["reason"], by=request.user
        )
        data = CorrectionSerializer(correction, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


def _transaction_queryset(request: Any):
    visible = selectors.transactions_for(request.user).select_related(
        "register__location", "session__main_session"
    )
    register_id = device_register_id(request)
    if register_id is not None:
        visible = visible.filter(register_id=register_id)
    return visible


class TransactionListView(generics.ListAPIView):
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    device_allowed = True

    def get_queryset(self):
        return _transaction_queryset(self.request).order_by("occurred_at", "id")

    @extend_schema(
        summary="Transactions",
        description="Device tokens see their own register's transactions only. While a "
        "session is blind (blind close), a cashier or a device token reads the `amount` of its "
        "cash transactions as null.",
        responses={200: TransactionSerializer, **errors(*QUERY_ERRORS)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Post a sale or a refund",
        description="With no open session on the register one is opened automatically first "
        "(its float: the previous closing float). A repeat of an `external_id` already "
        "recorded on the register answers the first transaction with 200 and changes "
        "nothing. A transaction that occurred during an already closed session is kept on "
        'the current one with `"late": true`. 409 codes: `main_session_not_open` (a '
        "sub-register whose main register has no open session: keep it, send it again), "
        "`limit_exceeded` (a session's total would pass what it holds).",
        request=TransactionRequestSerializer,
        responses={
            201: TransactionSerializer,
            200: OpenApiResponse(
                TransactionSerializer, description="The external_id was already recorded."
            ),
            **errors(*ACTION_ERRORS),
        },
        parameters=POST_PARAMETERS,
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        register, serializer = _checked_body(request, TransactionRequestSerializer)
        check_operator(request, register.location_id, register.pk)
        body = _valid_rest(serializer)
        recorded = services.record_transaction(
            register=register,
            kind=body["kind"],
            payment_method=body["payment_method"],
            amount=body["amount"],
            occurred_at=body.get("occurred_at"),
            external_id=body.get("external_id"),
            by=actor_of_request(request),
            # Inside @idempotent's transaction, which rolls back whole on any error.
            savepoint=False,
        )
        data = TransactionSerializer(recorded.transaction, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED if recorded.created else 200)


class TransactionDetailView(generics.RetrieveAPIView):
    serializer_class = TransactionSerializer
    device_allowed = True

    def get_queryset(self):
        return selectors.transactions_for(self.request.user).select_related(
            "register__location", "session__main_session"
        )

    def get_object(self) -> Transaction:
        transaction = super().get_object()
        check_register(self.request, transaction.register_id)
        return transaction

    @extend_schema(
        summary="One transaction", responses={200: TransactionSerializer, **errors(*READ_ERRORS)}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
