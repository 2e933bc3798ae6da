"""Statements keyed by a list of values: one array parameter on PostgreSQL.

HQ reads in bulk: the members of a batch, their lots, the purchases of their tier
windows. These helpers put a list of keys into a statement that is built once and run
with the keys as a parameter: on PostgreSQL one array parameter (one prepared plan
whatever the number of keys), elsewhere an expanding ``IN`` list. :mod:`pos_app.hq.book`
and :mod:`pos_app.hq.ledger` build their statements with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, any_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY

KEYS = "keys"


def _keys_param(column: Any, *, pg: bool, name: str = KEYS) -> Any:
    if pg:
        return bindparam(name, type_=ARRAY(column.type))
    return bindparam(name, expanding=True)


def one_of(column: Any, *, pg: bool) -> Any:
    """``column`` is one of the values of the ``keys`` parameter: ``column =
    ANY(:keys)`` on PostgreSQL (one array parameter, one prepared plan whatever the
    number of values), ``column IN (:keys)`` elsewhere."""
    if pg:
        return column == any_(_keys_param(column, pg=True))
    return column.in_(_keys_param(column, pg=False))


def per_key(query: Select[Any], *columns: Any, pg: bool, params: Sequence[str] = (KEYS,)) -> Any:
    """``query`` for the rows whose ``columns`` are one of the keys the array parameters
    ``params`` spell (one parameter per column, the n-th values of each one key), as a
    subquery.

    On PostgreSQL: ``unnest(:keys, ...) AS k(...) JOIN LATERAL (query WHERE column =
    k.v0 ...)``, one index probe per key, in the one partition that holds it.
    ``column = ANY(array)`` makes every partition of a partitioned table search for every
    key (16 x the probes; a batch's open lots took 111 ms that way against 4 ms, at
    1,000,000 members). Elsewhere: ``query WHERE column IN (:keys) ...``, one ``IN`` per
    column: with two columns or more a superset of the keys (the caller keeps its own).
    """
    pairs = list(zip(columns, params, strict=True))
    if not pg:
        for column, name in pairs:
            query = query.where(column.in_(_keys_param(column, pg=False, name=name)))
        return query.subquery("t")
    names = [f"v{i}" for i in range(len(pairs))]
    arrays = [_keys_param(column, pg=True, name=name) for column, name in pairs]
    keys = func.unnest(*arrays).table_valued(*names).render_derived(name="k")
    # OFFSET 0 keeps the planner from flattening the subquery into a hash join (which it
    # then runs as sequential scans of every partition).
    matches = [column == keys.c[n] for (column, _), n in zip(pairs, names, strict=True)]
    inner = query.where(*matches).offset(0).lateral("t")
    return select(inner).select_from(keys).join(inner, true()).subquery("rows")
