"""A queryset compiled to SQL once and run many times with new parameter values.

Building and compiling a queryset (filters, annotations, joins, the SELECT list) costs the ORM about a millisecond
of Python; the database answers a keyset page in a third of that. A read that repeats one shape (the queue: the
same filters, a new cursor and a new "now" on every page) compiles that shape once with `QueryParameter`s where
the changing values go, keeps the SQL, and fills the values in at each run. The SQL is the ORM's own, for the
connection's vendor, and the rows pass through the same converters as `QuerySet.values()`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql.compiler import SQLCompiler


class QueryParameter(Expression):
    """A named value left open in a compiled query (compare a column with it as with any value)."""

    def __init__(self, name: str, output_field: "Field[Any, Any]") -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [self]  # the parameter stands in its own place until `CompiledQuery.rows` fills it

    def __repr__(self) -> str:
        return f"QueryParameter({self.name!r})"


# (position in the row, the backend's and the field's converters, the selected expression they are given)
Converters = tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]


@dataclass(frozen=True)
class CompiledQuery:
    """SQL and parameters of a `.values()` queryset; `QueryParameter`s stand where values go in at each run."""

    using: str
    sql: str | None  # None: the filters can match nothing (Django's EmptyResultSet)
    params: tuple[Any, ...]
    names: tuple[str, ...]
    converters: Converters
    open_params: tuple[tuple[int, QueryParameter], ...]  # (index in params, the parameter)

    def rows(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows as `QuerySet.values()` gives them, with each parameter filled from `values` by name."""
        if self.sql is None:
            return []
        connection = connections[self.using]
        params = list(self.params)
        for index, parameter in self.open_params:
            # as the ORM prepares a value it compares with (SQLite, say, stores datetimes as text)
            params[index] = parameter.output_field.get_db_prep_value(values[parameter.name], connection)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched: Sequence[Sequence[Any]] = cursor.fetchall()
        names = self.names
        if not self.converters:
            return [dict(zip(names, row, strict=True)) for row in fetched]
        converted = []
        for row in fetched:
            values_ = list(row)
            for position, functions, expression in self.converters:
                value = values_[position]
                for function in functions:
                    value = function(value, expression, connection)
                values_[position] = value
            converted.append(dict(zip(names, values_, strict=True)))
        return converted


def query_compile(queryset: QuerySet[Any, Any]) -> CompiledQuery:
    """Compile a `.values(...)` queryset (sliced or not) whose filters may compare with `QueryParameter`s."""
    query = queryset.query
    compiler = query.get_compiler(using=queryset.db)
    names = tuple(query.selected or (*query.extra_select, *query.values_select, *query.annotation_select))
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return CompiledQuery(queryset.db, None, (), names, (), ())
    selected = [column[0] for column in compiler.select[: compiler.col_count]]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(selected).items()
    )
    open_params = tuple((index, param) for index, param in enumerate(params) if isinstance(param, QueryParameter))
    return CompiledQuery(queryset.db, sql, tuple(params), names, converters, open_params)
