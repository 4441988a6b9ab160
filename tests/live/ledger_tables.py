"""Every stored value of a ledger database, for comparing a resumed run with an uninterrupted one."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, select

# Not ledger values: when the trader row / an AI prompt was first written (wall clock) and who runs the
# trader now.
NOT_COMPARED = {"traders": {"created"}, "ai_prompts": {"created"}}
SKIPPED_TABLES = {"alembic_version", "trader_leases"}


def stored_tables(url: str) -> dict[str, list[tuple]]:
    """{table: rows} with every column except ``NOT_COMPARED``, rows in primary-key order. Tables are
    found by reflection, so a table added later is compared without changing the tests. Values come back
    as the database holds them (SQLite: the stored decimal text), so equality is to the last digit."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        out: dict[str, list[tuple]] = {}
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                if name in SKIPPED_TABLES:
                    continue
                cols = [c for c in table.c if c.name not in NOT_COMPARED.get(name, set())]
                order = list(table.primary_key.columns) or cols
                out[name] = [tuple(r) for r in conn.execute(select(*cols).order_by(*order))]
        return out
    finally:
        engine.dispose()


def first_difference(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> str | None:
    """A one-line description of the first differing table / row, or None when equal."""
    for name in sorted(set(got) | set(want)):
        a, b = got.get(name, []), want.get(name, [])
        if a == b:
            continue
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return (f"table {name}: {len(a)} rows vs {len(b)} in the uninterrupted run; first difference at row {k}: "
                f"{a[k] if k < len(a) else None} vs {b[k] if k < len(b) else None}")
    return None
