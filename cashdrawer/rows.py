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

from django.db import connections, models


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
