"""Bring the sessions closed before issue 9 under its rules, before its constraints and
triggers are installed (0007):

- every session records whether it is blind: its register's setting now, the best we know;
- a closed sub session's cash went to its main register: transferred_to_main holds it and
  its cash_removed becomes 0.00 (the main session's cash removed already includes it);
  every other closed session transferred 0.00;
- corrections copy their session's register;
- closes and corrections are numbered per register in the order they happened and
  chained with sessions_app/journal.py, as the services do from now on.
"""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def forwards(apps, schema_editor):
    from sessions_app import journal

    TrackingSession = apps.get_model("sessions_app", "TrackingSession")
    Transaction = apps.get_model("sessions_app", "Transaction")
    Adjustment = apps.get_model("sessions_app", "Adjustment")
    CountLine = apps.get_model("sessions_app", "CountLine")
    ClosingTransfer = apps.get_model("sessions_app", "ClosingTransfer")
    Correction = apps.get_model("sessions_app", "Correction")
    Register = apps.get_model("cashdrawer", "Register")

    TrackingSession.objects.update(
        blind_close=Subquery(
            Register.objects.filter(pk=OuterRef("register_id")).values("blind_close")[:1]
        )
    )
    closed = TrackingSession.objects.filter(status="closed")
    closed.filter(main_session__isnull=False).update(
        transferred_to_main=F("cash_removed"), cash_removed=0
    )
    closed.filter(main_session__isnull=True).update(transferred_to_main=0)
    Correction.objects.update(
        register_id=Subquery(
            TrackingSession.objects.filter(pk=OuterRef("session_id")).values("register_id")[:1]
        )
    )
    journal.seal_existing(
        (TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction)
    )


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0005_journal_fields")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
