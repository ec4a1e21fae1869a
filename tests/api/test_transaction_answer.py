"""TransactionSerializer writes its answer out by hand (it answers every POS sale): it must
equal what its declared fields give, blind or not, for a sale, a refund and a late one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from cashdrawer.authentication import issue_device_token
from sessions_app import services
from sessions_app.api import TransactionSerializer
from sessions_app.models import Transaction

pytestmark = pytest.mark.django_db


def _request(token_secret: str):
    from rest_framework.request import Request

    from cashdrawer.authentication import TokenAuthentication

    request = Request(
        APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {token_secret}"),
        authenticators=[TokenAuthentication()],
    )
    request.user  # noqa: B018 (authenticates)
    return request


@pytest.mark.parametrize("blind", [False, True])
def test_the_written_out_answer_equals_the_declared_fields(
    blind, location, make_register, manager, cashier
):
    register = make_register(location, count_method="total", blind_close=blind)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="12.50", by=cashier,
        external_id="pos-1",
    )  # fmt: skip
    services.record_transaction(
        register=register, kind="refund", payment_method="card", amount="3", by=cashier
    )
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="1.05", by=cashier,
        occurred_at=timezone.now() - dt.timedelta(minutes=1),
    )  # fmt: skip
    device = _request(issue_device_token(register=register, by=manager).secret)
    for context in ({}, {"request": device}):
        for transaction in Transaction.objects.select_related("register__location", "session"):
            serializer = TransactionSerializer(context=context)
            assert serializer.to_representation(transaction) == (
                serializer.to_representation_by_fields(transaction)
            )
    assert TransactionSerializer(
        Transaction.objects.get(external_id="pos-1"), context={"request": device}
    ).data["amount"] == (None if blind else "12.50")
