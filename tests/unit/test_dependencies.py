"""What the code imports is declared in pyproject.toml, not left to whatever pip pulled in."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from tests.conftest import ROOT

OURS = {"index", "bot"}


def _canonical(name: str) -> str:
    """Return a distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _with_extras(spec: str) -> set[str]:
    """Return the distribution a requirement names, and those its extras (as installed) add."""
    parts = re.match(r"\s*([\w.-]+)\s*(?:\[([^\]]*)\])?", spec)
    assert parts is not None, spec
    name, extras = parts.groups()
    found = {_canonical(name)}
    wanted = {extra.strip() for extra in (extras or "").split(",") if extra.strip()}
    for requirement in importlib.metadata.requires(name) or []:
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if extra and extra.group(1) in wanted:
            found |= _with_extras(requirement.split(";")[0])
    return found


def declared() -> set[str]:
    """Return the distributions pyproject.toml asks for at run time (the Postgres extra too)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    specs = [
        *project["dependencies"],
        *(s for group in extras if group != "dev" for s in extras[group]),
    ]
    return {name for spec in specs for name in _with_extras(spec)}


def imported_modules() -> set[str]:
    """Return the top-level modules that index/ and bot/ import, ours and the standard library's left out."""
    found: set[str] = set()
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in OURS}


def providers(module: str) -> set[str]:
    """Return the distributions that install a top-level module."""
    return {_canonical(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def test_every_module_the_code_imports_is_declared() -> None:
    wanted = declared()
    undeclared = {m: providers(m) for m in imported_modules() if not providers(m) & wanted}
    assert undeclared == {}


def test_the_html_cleaner_that_main_text_extraction_loads_is_declared() -> None:
    # trafilatura's fallback (jusText) imports lxml.html.clean, now the separate lxml_html_clean,
    # which jusText asks for only through an extra that older pips leave out.
    from index.corpus.webtext import main_text

    main_text("<html><body><nav>menu</nav><p>The harbour reopened on Monday.</p></body></html>")
    assert "lxml_html_clean" in sys.modules
    assert providers("lxml_html_clean") & declared()
