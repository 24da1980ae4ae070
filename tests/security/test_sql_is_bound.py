"""SQL takes values only as bound parameters and identifiers only from code.

Ruff's S608 (enabled in pyproject.toml) flags string-built SQL. This test reads the code the
way a reviewer would: every statement handed to psycopg2 must be a literal, a file from
include/sql (`read_sql`), or a `psycopg2.sql` composition whose template is a literal. An
f-string, `%` or `+` on text, or `str.format` on the way to `execute` fails the test, with the
file and line.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from lightspeed.migrate import read_sql

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "plugins").rglob("*.py")) + sorted(
    (REPO / "lightspeed_emulator").glob("*.py")
)
# Methods whose first argument is SQL; execute_values(cur, sql, rows) takes it second.
SQL_FIRST = {"execute", "executemany", "copy_expert", "mogrify"}
SQL_SECOND = {"execute_values"}


def _is_sql_template(node: ast.AST) -> bool:
    """`sql.SQL("literal")` (the only place a psycopg2 composition gets its text)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "SQL"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


# Statements read from include/sql by code the test cannot follow through an attribute.
VETTED_ATTRIBUTES = {"migration.sql"}  # migrate.py: the include/sql/ddl/V*.sql files
# SQLAlchemy Core statements bind every value themselves.
SQLALCHEMY_ROOTS = {"select", "insert", "update", "delete"}


def _assignments(scope: ast.AST, name: str) -> list[ast.AST]:
    values: list[ast.AST] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                values.append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            if isinstance(node.target, ast.Name) and node.target.id == name and node.value:
                values.append(node.value)
    return values


def _defined_function(tree: ast.AST, name: str) -> ast.FunctionDef | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node  # type: ignore[return-value]
    return None


def _parameter(scope: ast.AST, name: str) -> ast.arg | None:
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        args = scope.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if arg.arg == name:
                return arg
    return None


def _call_root(expr: ast.AST) -> str:
    """The innermost function name of a method chain: `select(...).where(...)` -> select."""
    while isinstance(expr, ast.Call | ast.Attribute):
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            return expr.func.id
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return ""


class Checker:
    """Decides whether an expression handed to `execute` is SQL written in code."""

    def __init__(self, module: ast.AST) -> None:
        self.module = module

    def problems(
        self, expr: ast.AST, scope: ast.AST, seen: frozenset[str] = frozenset()
    ) -> list[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return []
        if isinstance(expr, ast.IfExp):
            return self.problems(expr.body, scope, seen) + self.problems(expr.orelse, scope, seen)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope, seen)
        if isinstance(expr, ast.Name):
            return self._name(expr, scope, seen)
        if isinstance(expr, ast.Attribute) and ast.unparse(expr) in VETTED_ATTRIBUTES:
            return []
        if isinstance(expr, ast.JoinedStr):
            # Allowed only when every interpolated piece is itself SQL written in code.
            pieces = [v.value for v in expr.values if isinstance(v, ast.FormattedValue)]
            problems = [p for piece in pieces for p in self.problems(piece, scope, seen)]
            return (
                [f"line {expr.lineno}: an f-string builds SQL ({'; '.join(problems)})"]
                if problems
                else []
            )
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            # Gluing two pieces of code-written SQL is fine; a value in either piece is not.
            return self.problems(expr.left, scope, seen) + self.problems(expr.right, scope, seen)
        if isinstance(expr, ast.BinOp):
            return [f"line {expr.lineno}: `{type(expr.op).__name__}` on text builds SQL"]
        return [f"line {getattr(expr, 'lineno', '?')}: SQL from {type(expr).__name__}"]

    def _call(self, expr: ast.Call, scope: ast.AST, seen: frozenset[str]) -> list[str]:
        func = expr.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "read_sql":
            return []  # a file of include/sql, chosen by code (read_sql refuses other paths)
        if _is_sql_template(expr) or _call_root(expr) in SQLALCHEMY_ROOTS:
            return []
        if isinstance(func, ast.Attribute) and name in {"format", "join", "as_string"}:
            receiver = func.value
            if name == "as_string":
                return self.problems(receiver, scope, seen)
            if _is_sql_template(receiver) or (
                isinstance(receiver, ast.Attribute) and receiver.attr == "sql"
            ):
                return []
            return [f"line {expr.lineno}: .{name}() on text builds SQL from values"]
        helper = _defined_function(self.module, name)
        if helper is not None and name not in seen:
            # A helper of this module that returns a statement: vet what it returns.
            problems: list[str] = []
            for node in ast.walk(helper):
                if isinstance(node, ast.Return) and node.value is not None:
                    problems += self.problems(node.value, helper, seen | {name})
            return problems
        return [f"line {expr.lineno}: SQL from a call to {name or '?'}() the test cannot vet"]

    def _name(self, expr: ast.Name, scope: ast.AST, seen: frozenset[str]) -> list[str]:
        if expr.id in seen:
            return []
        if _defined_function(scope, expr.id) is not None:
            return []  # a callable (Throttle.execute(send)), not a statement
        values = _assignments(scope, expr.id) or _module_constants(self.module, expr.id)
        if not values:
            param = _parameter(scope, expr.id)
            annotation = ast.unparse(param.annotation) if param and param.annotation else ""
            if "Composable" in annotation or "Composed" in annotation or "SQL" in annotation:
                return []
            return [f"line {expr.lineno}: SQL from `{expr.id}`, whose origin the test cannot see"]
        problems: list[str] = []
        for value in values:
            problems += self.problems(value, scope, seen | {expr.id})
        return problems


def _module_constants(module: ast.AST, name: str) -> list[ast.AST]:
    body = getattr(module, "body", [])
    return [
        node.value
        for node in body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and node.value is not None
        and any(
            isinstance(t, ast.Name) and t.id == name
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]


def _problems_in(tree: ast.AST) -> list[str]:
    checker = Checker(tree)
    return [p for expr, scope in _sql_arguments(tree) for p in checker.problems(expr, scope)]


def _sql_arguments(tree: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """(SQL argument, enclosing function or module) of every execute-like call."""
    found: list[tuple[ast.AST, ast.AST]] = []

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope
            if isinstance(child, ast.Call):
                func = child.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in SQL_FIRST and child.args:
                    found.append((child.args[0], scope))
                elif name in SQL_SECOND and len(child.args) > 1:
                    found.append((child.args[1], scope))
            visit(child, inner)

    visit(tree, tree)
    return found


def test_the_checker_catches_string_built_sql() -> None:
    """The checker itself must be able to fail."""
    bad = ast.parse(
        "def f(cur, shop, table):\n"
        "    cur.execute(f'SELECT * FROM sale WHERE shop_id = {shop}')\n"
        "    cur.execute('SELECT * FROM ' + table)\n"
        "    q = 'DELETE FROM {}'.format(table)\n"
        "    cur.execute(q)\n"
        "    cur.execute('SELECT %s' % shop)\n"
        "    cur.execute(table)\n"
    )
    problems = _problems_in(bad)
    assert len(problems) == 5, problems
    good = ast.parse(
        "def g(cur, shop):\n"
        "    cur.execute('SELECT * FROM sale WHERE shop_id = %s', (shop,))\n"
        "    cur.execute(read_sql('upsert/sale.sql'), {'shop': shop})\n"
        "    cur.execute(sql.SQL('SELECT count(*) FROM {}').format(sql.Identifier('t')))\n"
    )
    assert _problems_in(good) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_statements_are_built_from_code_only(path: Path) -> None:
    problems = _problems_in(ast.parse(path.read_text(), filename=str(path)))
    assert problems == [], f"{path.relative_to(REPO)}: {problems}"


def test_every_sql_template_is_a_literal() -> None:
    """`sql.SQL(text)` turns text into SQL unescaped: its text must be written in the code."""
    problems = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "SQL"
                and not _is_sql_template(node)
            ):
                problems.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert problems == []


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "upsert/../../x.sql"])
def test_read_sql_only_reads_the_sql_folder(path: str) -> None:
    with pytest.raises(ValueError, match="is not a file under"):
        read_sql(path)
    assert read_sql("upsert/sale.sql").lstrip().upper().startswith(("INSERT", "--", "WITH"))


def test_sql_files_take_named_parameters_and_build_no_dynamic_sql() -> None:
    """The include/sql files bind values (%(name)s) and never EXECUTE text they assemble."""
    for path in sorted((REPO / "include" / "sql").rglob("*.sql")):
        text = path.read_text().upper()
        assert "EXECUTE " not in text and "FORMAT(" not in text, path


def test_ruff_s608_passes_on_the_product_code() -> None:
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ruff"), "check", "--select", "S608", "--no-cache",
         "plugins", "lightspeed_emulator", "dags"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
