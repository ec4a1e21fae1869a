"""Hand-written SQL for the few statements of a terminal's sale, and its rows made into
model instances.

Building a statement with the ORM costs more CPU than PostgreSQL takes to run it: on a
sale (POST /api/v1/transactions/) the ORM's query building was a third of the request.
The statements here are written once, at import, with their column lists taken from the
models (a new field is read without a change here); each request only executes them.
They are plain SQL that SQLite (`make run`) runs too, locking clauses aside, which are
added only where the database has them.

Instances are made with `Model.from_db`, as the ORM makes them: their signals (post_init)
run, and a related instance read in the same row is cached on the field, as
`select_related` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.models import signals


def table(model: type[models.Model]) -> str:
    return f'"{model._meta.db_table}"'


def columns(model: type[models.Model], alias: str) -> list[str]:
    """The model's concrete columns as `"alias"."column"`, in the order of its fields."""
    return [f'"{alias}"."{field.column}"' for field in model._meta.concrete_fields]


def width(model: type[models.Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(
    model: type[models.Model], using: str, row: Sequence[Any], start: int = 0
) -> models.Model | None:
    """The instance whose columns (as `columns(model)` lists them) start at `start` in the
    row; None when its primary key is NULL (an outer join that found nothing).

    A value is converted as the ORM's query would convert it (e.g. SQLite's decimals).
    """
    fields = model._meta.concrete_fields
    values = list(row[start : start + len(fields)])
    if values[0] is None and fields[0].primary_key:
        return None
    connection = connections[using]
    for position, column, convert in _converters(model, connection):
        values[position] = convert(values[position], column, connection)
    return model.from_db(using, [field.attname for field in fields], values)


_CONVERTERS: dict[tuple[type[models.Model], str], list] = {}


def _converters(model: type[models.Model], connection: Any) -> list:
    """(position, column, converter) for each field whose value needs one, as the ORM
    finds them; computed once per model and database."""
    key = (model, connection.alias)
    found = _CONVERTERS.get(key)
    if found is None:
        found = []
        for position, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            for convert in connection.ops.get_db_converters(column) + field.get_db_converters(
                connection
            ):
                found.append((position, column, convert))
        _CONVERTERS[key] = found
    return found


def cache_related(obj: models.Model, name: str, related: models.Model | None) -> None:
    """Set `obj.<name>` to an instance already read, as select_related does (no query)."""
    obj._meta.get_field(name).set_cached_value(obj, related)


_INSERTS: dict[tuple[type[models.Model], str], tuple[str, list, bool]] = {}


def insert(obj: models.Model, *, before: tuple[str, list[Any]] | None = None) -> models.Model:
    """Save a new instance as `obj.save()` would (each field's pre_save, e.g. auto_now_add,
    and its database value) with an INSERT written once per model; its primary key is set.

    `before`: a statement (sql, params) to run first, in the same message where the
    database takes two (one_round_trip), else on its own.
    A model with save signals connected is saved by save(), which sends them.
    """
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    connection = connections[using]
    if before is not None and not one_round_trip(connection):
        with connection.cursor() as cursor:
            cursor.execute(*before)
        before = None
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        if before is not None:
            with connection.cursor() as cursor:
                cursor.execute(*before)
        obj.save(force_insert=True, using=using)
        return obj
    sql, fields, returning = _insert_statement(model, connection)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    pk = model._meta.pk
    with connection.cursor() as cursor:
        if before is not None:
            cursor.execute(f"{before[0]}; {sql}", [*before[1], *params])
            cursor.nextset()
        else:
            cursor.execute(sql, params)
        if returning:
            value = cursor.fetchone()[0]
        else:
            value = connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column)
    setattr(obj, pk.attname, value)
    obj._state.adding = False
    obj._state.db = using
    return obj


def _insert_statement(model: type[models.Model], connection: Any) -> tuple[str, list, bool]:
    key = (model, connection.alias)
    found = _INSERTS.get(key)
    if found is None:
        meta = model._meta
        # The columns Django's own INSERT lists: all but a generated primary key. A field
        # with a database default or a generated value is not written here.
        fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
        if any(field.generated or field.has_db_default() for field in fields):
            raise ValueError(f"rows.insert() does not write {meta.label}'s database defaults")
        returning = connection.features.can_return_columns_from_insert
        sql = (
            f"INSERT INTO {table(model)} ({', '.join(f'"{field.column}"' for field in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))})"
            + (f' RETURNING "{meta.pk.column}"' if returning else "")
        )
        found = _INSERTS[key] = (sql, fields, returning)
    return found


def one_round_trip(connection: Any) -> bool:
    """Whether several statements may go in one execute: on PostgreSQL with psycopg 3's
    client-side binding (Django's default) they do; with `server_side_binding` each is
    prepared alone; SQLite takes one statement at a time."""
    return (
        connection.vendor == "postgresql"
        and is_psycopg3
        and not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    )
