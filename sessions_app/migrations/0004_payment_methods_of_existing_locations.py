"""Give every existing location its list of payment methods: cash and card, and every
method its transactions already use, so no sale that was accepted before is refused when
a terminal sends it again (an external_id repeat) or a report names its method."""

from django.db import migrations

from cashdrawer.bounds import DEFAULT_PAYMENT_METHODS, canonical_method


def add_payment_methods(apps, schema_editor):
    Location = apps.get_model("cashdrawer", "Location")
    PaymentMethod = apps.get_model("cashdrawer", "PaymentMethod")
    Transaction = apps.get_model("sessions_app", "Transaction")
    for location in Location.objects.all():
        used = (
            Transaction.objects.filter(register__location=location)
            .values_list("payment_method", flat=True)
            .distinct()
        )
        names = {canonical_method(name)[:40] for name in used} | set(DEFAULT_PAYMENT_METHODS)
        PaymentMethod.objects.bulk_create(
            [PaymentMethod(location=location, name=name) for name in sorted(names) if name],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cashdrawer", "0004_bounds_ceiling_payment_methods"),
        ("sessions_app", "0003_size_figure_columns"),
    ]

    operations = [migrations.RunPython(add_payment_methods, migrations.RunPython.noop)]
