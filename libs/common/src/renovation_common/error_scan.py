"""Find every problem ``code`` the platform can answer with, by reading the source (no import of any service).

A code is a string literal that reaches a problem response:

* the ``code`` class attribute of an exception class (``class NotFound(DomainError): code = "not_found"``, also
  domain exceptions such as ``class Infeasible(SchedulingError): code = "plan_infeasible"``);
* the ``code`` argument of a call that builds an exception (``Forbidden("...", code="out_of_scope")``,
  ``TargetRefused(detail, "target_not_allowed")`` — positional when the class's ``__init__`` takes ``code``
  there), and the default of an exception's ``code`` parameter;
* the second argument of ``problem_response(status, code, ...)``;
* a problem body written as a dict literal (``{"status": 404, "code": "not_found"}``) and the values of a mapping
  named ``*_CODES`` (``errors._HTTP_CODES``: the codes of plain HTTP errors).

An exception class is one whose bases lead (through classes defined in the scanned source) to a built-in exception.
``python -m renovation_common.error_scan`` prints what it found (code, statuses, where).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BUILTIN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
)


@dataclass
class _Class:
    name: str
    bases: list[str]
    code: str | None = None
    status: int | None = None
    init_params: list[str] | None = None  # positional parameters of __init__ (self excluded)
    init_code_default: str | None = None


@dataclass
class Found:
    """One code and where it is raised: ``places`` are ``(component, path:line)``; ``statuses`` the HTTP statuses
    known from the source (a domain exception's status is decided where it is translated)."""

    code: str
    statuses: set[int] = field(default_factory=set)
    places: set[tuple[str, str]] = field(default_factory=set)

    @property
    def components(self) -> list[str]:
        return sorted({c for c, _ in self.places})


def source_files(root: Path) -> Iterator[Path]:
    """The platform's application source: libs/common and every service's ``src`` (tests excluded)."""
    yield from sorted((root / "libs" / "common" / "src").rglob("*.py"))
    for service in sorted((root / "services").iterdir()):
        yield from sorted((service / "src").rglob("*.py"))


def component_of(root: Path, path: Path) -> str:
    rel = path.relative_to(root).parts
    return rel[1] if rel[0] == "services" else "common"


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _int(node: ast.expr | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _classes(trees: Iterable[ast.Module]) -> dict[str, _Class]:
    classes: dict[str, _Class] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            cls = _Class(node.name, [n for b in node.bases if (n := _name(b))])
            for stmt in node.body:
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [stmt.target], stmt.value
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == "code" and _str(value):
                        cls.code = _str(value)
                    if isinstance(target, ast.Name) and target.id == "status" and _int(value) is not None:
                        cls.status = _int(value)
                if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                    args = stmt.args
                    positional = [a.arg for a in [*args.posonlyargs, *args.args]][1:]
                    cls.init_params = positional
                    defaults = dict(zip(reversed(positional), reversed(args.defaults), strict=False))
                    defaults.update(
                        {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
                    )
                    cls.init_code_default = _str(defaults.get("code"))
            classes.setdefault(node.name, cls)
    return classes


def _exception_names(classes: dict[str, _Class]) -> set[str]:
    names = set(BUILTIN_EXCEPTIONS)
    changed = True
    while changed:
        changed = False
        for cls in classes.values():
            if cls.name not in names and any(b in names for b in cls.bases):
                names.add(cls.name)
                changed = True
    return names


def _lineage(classes: dict[str, _Class], name: str) -> Iterator[_Class]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop(0)
        if current in seen or current not in classes:
            continue
        seen.add(current)
        yield classes[current]
        todo.extend(classes[current].bases)


def scan(root: Path) -> dict[str, Found]:
    """Every code found under ``root`` (the repository), by code."""
    files = list(source_files(root))
    trees = {path: ast.parse(path.read_text(), str(path)) for path in files}
    classes = _classes(trees.values())
    exceptions = _exception_names(classes)
    found: dict[str, Found] = {}

    def add(code: str | None, status: int | None, path: Path, line: int) -> None:
        if not code:
            return
        entry = found.setdefault(code, Found(code))
        if status is not None:
            entry.statuses.add(status)
        entry.places.add((component_of(root, path), f"{path.relative_to(root)}:{line}"))

    def status_of(name: str) -> int | None:
        return next((c.status for c in _lineage(classes, name) if c.status is not None), None)

    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in exceptions:
                cls = classes.get(node.name)
                if cls is not None and cls.code is not None:
                    add(cls.code, status_of(node.name), path, node.lineno)
                if cls is not None and cls.init_code_default is not None:
                    add(cls.init_code_default, status_of(node.name), path, node.lineno)
            elif isinstance(node, ast.Call):
                callee = _name(node.func)
                owner = node.func.value if isinstance(node.func, ast.Attribute) else None
                if callee == "get" and owner is not None and (_name(owner) or "").endswith("_CODES"):
                    if len(node.args) == 2:  # the fallback of a code mapping: ``_HTTP_CODES.get(status, "http_error")``
                        add(_str(node.args[1]), None, path, node.lineno)
                elif callee == "problem_response" and len(node.args) >= 2:
                    add(_str(node.args[1]), _int(node.args[0]), path, node.lineno)
                elif callee in exceptions and callee is not None:
                    keywords = {k.arg: k.value for k in node.keywords if k.arg}
                    code = _str(keywords.get("code"))
                    if code is None:
                        params = next((c.init_params for c in _lineage(classes, callee) if c.init_params), None)
                        if params and "code" in params and params.index("code") < len(node.args):
                            code = _str(node.args[params.index("code")])
                    status = _int(keywords.get("status"))
                    add(code, status if status is not None else status_of(callee), path, node.lineno)
            elif isinstance(node, ast.Dict):
                pairs = {_str(k): v for k, v in zip(node.keys, node.values, strict=True) if k is not None}
                if "code" in pairs and "status" in pairs:
                    add(_str(pairs["code"]), _int(pairs["status"]), path, node.lineno)
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id.endswith("_CODES") for t in node.targets)
            ):
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    add(_str(value), _int(key), path, node.lineno)
    return dict(sorted(found.items()))


def repository_root() -> Path:
    return Path(__file__).resolve().parents[4]


if __name__ == "__main__":
    for code, entry in scan(repository_root()).items():
        statuses = ",".join(str(s) for s in sorted(entry.statuses)) or "-"
        print(f"{code:40} {statuses:12} {' '.join(entry.components)}")
