"""simulator/core holds the rules and nothing that touches the world: none of its
modules imports a web framework, dnspython, a database, a mail or network
library or the scheduler (DESIGN.md, "The one idea")."""
import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "simulator" / "core"
FORBIDDEN = {"flask", "dns", "sqlite3", "smtplib", "socket", "apscheduler", "waitress"}


def imported_modules(source: str) -> set[str]:
    """Every absolute module a source imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def forbidden_in(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in FORBIDDEN}


CORE_MODULES = sorted(CORE.glob("*.py"))


def test_the_core_modules_are_all_found():
    names = {path.name for path in CORE_MODULES}

    assert {"model.py", "rules.py", "machine.py", "verdicts.py", "names.py"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda path: path.name)
def test_a_core_module_imports_nothing_that_does_io(path):
    assert forbidden_in(imported_modules(path.read_text(encoding="utf-8"))) == set()


def test_the_check_sees_imports_of_every_shape():
    source = (
        "import os, dns.resolver\n"
        "from flask import Flask\n"
        "from . import model\n"
        "def later():\n"
        "    import sqlite3\n"
        "    from apscheduler.schedulers import background\n"
    )

    assert forbidden_in(imported_modules(source)) == {"dns.resolver", "flask", "sqlite3", "apscheduler.schedulers"}
