"""Only the tables' owner may lift an immutability trigger.

django-pgtrigger lets a connection switch a trigger off for itself by setting
`pgtrigger.ignore` (its `pgtrigger.ignore()` context manager); any role can set that
variable. For our protection that would let a stolen application password rewrite
history without owning the tables. So after every migration, on PostgreSQL, the function
the triggers consult is replaced by one that honours the variable only for a role that has
the privileges of the function's owner: the role that ran the migrations, which owns the
tables and could drop the triggers anyway. The application role (docs/DEPLOYMENT.md, "A
database role that cannot drop the protection") gets the triggers with no way around them.

pgtrigger recreates its function whenever a migration installs a trigger, which is why
this runs after every `migrate` (post_migrate) rather than once in a migration.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

HARDENED_IGNORE = """
CREATE OR REPLACE FUNCTION "public"._pgtrigger_should_ignore(trigger_name NAME)
RETURNS BOOLEAN AS $$
    DECLARE
        _pgtrigger_ignore TEXT[];
    BEGIN
        BEGIN
            SELECT INTO _pgtrigger_ignore CURRENT_SETTING('pgtrigger.ignore');
            EXCEPTION WHEN OTHERS THEN
        END;
        IF _pgtrigger_ignore IS NULL OR NOT (trigger_name = ANY(_pgtrigger_ignore)) THEN
            RETURN FALSE;
        END IF;
        -- Cashdrawer: only the owner of this function (the tables' owner) may lift a trigger.
        RETURN pg_has_role(
            current_user,
            (SELECT proowner FROM pg_proc
              WHERE oid = '"public"._pgtrigger_should_ignore(name)'::regprocedure),
            'USAGE'
        );
    END;
$$ LANGUAGE plpgsql;
"""


def harden_trigger_ignore(*, using: str = "default", **_kwargs: Any) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('\"public\"._pgtrigger_should_ignore(name)')")
        if cursor.fetchone()[0] is None:  # no trigger installed yet
            return
        cursor.execute(HARDENED_IGNORE)
