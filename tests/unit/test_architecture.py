"""The layering of STYLE.md, checked on the source: a pure domain, and a service layer that knows
nothing of its adapters' entrypoints (CLI, scenario runner, API).

Every import statement counts, including those inside functions and `if TYPE_CHECKING:` blocks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cets

PACKAGE = Path(cets.__file__).parent
STDLIB = frozenset(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every module `source` (the text of `module`) imports, relative imports made absolute.

    `from a import b` yields both `a` and `a.b`, since `b` may be a submodule (`from cets import
    entrypoints`); for a plain name the extra entry is harmless to the checks below.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                target = node.module
            else:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return found


def _files(layer: str) -> list[Path]:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no source files under {PACKAGE / layer}"
    return files


def _imports_of(layer: str) -> dict[str, list[str]]:
    return {
        _module_name(path): imported_modules(
            path.read_text(encoding="utf-8"),
            _module_name(path),
            is_package=path.name == "__init__.py",
        )
        for path in _files(layer)
    }


def foreign_to_the_domain(name: str) -> bool:
    top = name.partition(".")[0]
    if top == "cets":
        return not (name == "cets.domain" or name.startswith("cets.domain."))
    return top not in STDLIB


def into_the_entrypoints(name: str) -> bool:
    return name == "cets.entrypoints" or name.startswith("cets.entrypoints.")


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    imports = _imports_of("domain")
    assert "cets.domain.ledger.model" in imports["cets.domain.ledger.kernel"]  # the walk sees them
    foreign = {
        module: sorted(n for n in names if foreign_to_the_domain(n))
        for module, names in imports.items()
    }
    assert {m: names for m, names in foreign.items() if names} == {}


def test_the_service_layer_does_not_import_the_entrypoints() -> None:
    imports = _imports_of("service")
    assert "cets.domain.errors" in imports["cets.service.registry"]  # the walk sees them
    upward = {
        module: sorted(n for n in names if into_the_entrypoints(n))
        for module, names in imports.items()
    }
    assert {m: names for m, names in upward.items() if names} == {}


def test_the_import_check_would_catch_a_foreign_or_upward_import() -> None:
    source = (
        "import sqlalchemy\n"
        "from decimal import Decimal\n"
        "from cets.adapters.sql import store\n"
        "from ..service import clock\n"
        "from .model import Account\n"
        "def f():\n"
        "    import yaml\n"
    )
    # Relative imports resolve from the module's package: `..` of cets.domain.ledger.kernel is
    # cets.domain.
    assert imported_modules(source, "cets.domain.ledger.kernel") == [
        "sqlalchemy",
        "decimal",
        "decimal.Decimal",
        "cets.adapters.sql",
        "cets.adapters.sql.store",
        "cets.domain.service",
        "cets.domain.service.clock",
        "cets.domain.ledger.model",
        "cets.domain.ledger.model.Account",
        "yaml",
    ]
    names = imported_modules(source, "cets.domain.ledger.kernel")
    assert [n for n in names if foreign_to_the_domain(n)] == [
        "sqlalchemy",
        "cets.adapters.sql",
        "cets.adapters.sql.store",
        "yaml",
    ]
    upward = imported_modules("from ... import entrypoints", "cets.service.x.y")
    assert upward == ["cets", "cets.entrypoints"]
    assert [n for n in upward if into_the_entrypoints(n)] == ["cets.entrypoints"]
    assert imported_modules("from . import ports", "cets.service", is_package=True) == [
        "cets.service",
        "cets.service.ports",
    ]
