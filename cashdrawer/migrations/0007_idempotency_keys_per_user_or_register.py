"""Idempotency keys were scoped per token ("token:<id>"); now per user ("user:<id>") or,
for a device token, per register ("register:<id>"). The records kept for the last 30 days
move to their new scope, so a terminal's retry across the upgrade still replays. Where
two tokens of one user used the same key, the older record keeps it and the other is
left under its old name (it can no longer be matched; it is pruned with the rest)."""

from django.db import migrations


def rescope(apps, schema_editor):
    ApiToken = apps.get_model("cashdrawer", "ApiToken")
    IdempotencyRecord = apps.get_model("cashdrawer", "IdempotencyRecord")
    for token in ApiToken.objects.order_by("created_at", "pk").iterator():
        old = f"token:{token.pk}"
        new = (
            f"register:{token.register_id}" if token.kind == "device" else f"user:{token.user_id}"
        )
        taken = IdempotencyRecord.objects.filter(identity=new).values("key")
        IdempotencyRecord.objects.filter(identity=old).exclude(key__in=taken).update(
            identity=new
        )


class Migration(migrations.Migration):
    dependencies = [("cashdrawer", "0006_api_token_expiry_and_revoke_reason")]

    operations = [migrations.RunPython(rescope, migrations.RunPython.noop)]
