"""No SQL text is assembled from pieces anywhere in nofx: statements are SQLAlchemy Core constructs (or
one constant string, for what Core cannot express), never f-strings, concatenation, % or .format()."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nofx"
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|PRAGMA|COPY|REFRESH|VALUES|WHERE)\b")


def _sqlish(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and SQL.search(n.value)
               for n in ast.walk(node))


def _psycopg_composition(node: ast.Call) -> bool:
    """``sql.SQL("COPY {} ...").format(sql.Identifier(...))``: psycopg quotes the names itself (COPY,
    which Core cannot express)."""
    base = node.func.value  # type: ignore[attr-defined]
    return (node.func.attr in ("format", "join") and isinstance(base, ast.Call)  # type: ignore[attr-defined]
            and isinstance(base.func, ast.Attribute) and base.func.attr == "SQL")


def assembled_sql(tree: ast.AST) -> list[int]:
    """Line numbers where SQL-looking text is built from parts."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and _sqlish(node):
            lines.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)) and _sqlish(node):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("format", "join", "replace") and _sqlish(node)
              and not _psycopg_composition(node)):
            lines.append(node.lineno)
    return lines


def test_no_sql_text_is_assembled_in_the_package() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line in assembled_sql(ast.parse(path.read_text(), str(path))):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert found == []


def test_the_scan_sees_each_way_of_assembling() -> None:
    src = '''
t = "orders"
a = f"SELECT * FROM {t}"
b = "DELETE FROM " + t
c = "UPDATE %s SET x = 1" % t
d = "INSERT INTO {} VALUES (1)".format(t)
e = ", ".join(["a", "b"])   # not SQL
f = "a plain message with select in lower case"
'''
    assert assembled_sql(ast.parse(src)) == [3, 4, 5, 6]
