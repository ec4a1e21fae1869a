"""The table of the shared cache (settings.CACHES["shared"]: the login and bad-token
rates, counted across every server process), created by migrate so no deployment step
can forget it. Django's `createcachetable` makes it (and does nothing when it exists)."""

from django.conf import settings
from django.core.management import call_command
from django.db import migrations


def create(apps, schema_editor):
    call_command("createcachetable", "shared", database=schema_editor.connection.alias, verbosity=0)


def drop(apps, schema_editor):
    table = schema_editor.quote_name(settings.CACHES["shared"]["LOCATION"])
    schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


class Migration(migrations.Migration):
    dependencies = [("cashdrawer", "0007_idempotency_keys_per_user_or_register")]

    operations = [migrations.RunPython(create, drop)]
