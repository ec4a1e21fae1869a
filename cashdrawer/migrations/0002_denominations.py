"""Ship the coins and notes of the currencies a location may use (editable in the admin)."""

from decimal import Decimal

from django.db import migrations

DENOMINATIONS = {
    "EUR": ("0.01 0.02 0.05 0.10 0.20 0.50 1 2", "5 10 20 50 100 200 500"),
    "USD": ("0.01 0.05 0.10 0.25 0.50", "1 2 5 10 20 50 100"),
    "GBP": ("0.01 0.02 0.05 0.10 0.20 0.50 1 2", "5 10 20 50"),
    "CHF": ("0.05 0.10 0.20 0.50 1 2 5", "10 20 50 100 200 1000"),
    "JPY": ("1 5 10 50 100 500", "1000 2000 5000 10000"),
    "SEK": ("1 2 5 10", "20 50 100 200 500 1000"),
    "DKK": ("0.50 1 2 5 10 20", "50 100 200 500 1000"),
    "NOK": ("1 5 10 20", "50 100 200 500 1000"),
    "PLN": ("0.01 0.02 0.05 0.10 0.20 0.50 1 2 5", "10 20 50 100 200 500"),
    "CZK": ("1 2 5 10 20 50", "100 200 500 1000 2000 5000"),
    "HUF": ("5 10 20 50 100 200", "500 1000 2000 5000 10000 20000"),
    "CAD": ("0.05 0.10 0.25 1 2", "5 10 20 50 100"),
    "AUD": ("0.05 0.10 0.20 0.50 1 2", "5 10 20 50 100"),
}


def add_denominations(apps, schema_editor):
    Denomination = apps.get_model("cashdrawer", "Denomination")
    for currency, (coins, notes) in DENOMINATIONS.items():
        for kind, values in (("coin", coins), ("note", notes)):
            for value in values.split():
                Denomination.objects.get_or_create(
                    currency=currency, value=Decimal(value), defaults={"kind": kind}
                )


def remove_denominations(apps, schema_editor):
    Denomination = apps.get_model("cashdrawer", "Denomination")
    Denomination.objects.filter(currency__in=DENOMINATIONS).delete()


class Migration(migrations.Migration):
    dependencies = [("cashdrawer", "0001_initial")]

    operations = [migrations.RunPython(add_denominations, remove_denominations)]
