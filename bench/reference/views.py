"""The one endpoint of the reference app: a terminal's sale, locked and inserted."""

from django.db import transaction
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.reference.models import Register, Sale


class SaleSerializer(serializers.Serializer):
    register = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["sale", "refund"])
    payment_method = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class SaleView(APIView):
    """POST: the token's register row locked, one sale row inserted, in one transaction."""

    def post(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Token ")
        body = SaleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            register = Register.objects.select_for_update().filter(token=token).first()
            if register is None:
                return Response({"detail": "Invalid token.", "code": "authentication_failed"}, 401)
            sale = Sale.objects.create(
                register=register,
                kind=body.validated_data["kind"],
                payment_method=body.validated_data["payment_method"],
                amount=body.validated_data["amount"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
        return Response(
            {
                "id": sale.pk,
                "register": register.pk,
                "kind": sale.kind,
                "payment_method": sale.payment_method,
                "amount": sale.amount,
                "created_at": sale.created_at,
            },
            status=201,
        )


def healthz(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
