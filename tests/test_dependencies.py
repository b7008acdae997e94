"""Everything shipped code imports is declared in pyproject.toml; optional imports name their extra when missing."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "imagegate"


def _requirement_names(reqs: list[str]) -> set[str]:
    out = set()
    for req in reqs:
        name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
        out.add(name.lower().replace("_", "-"))
    return out


def _third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("imagegate", "__future__")}


def test_every_import_of_shipped_code_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = {
        k: _requirement_names(v) for k, v in project["optional-dependencies"].items() if k not in ("test", "bench")
    }
    shipped = core | set().union(*extras.values())
    dists = packages_distributions()
    undeclared = {}
    for path in SRC.rglob("*.py"):
        for module in _third_party_imports(path):
            names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
            if not names & shipped:
                undeclared[str(path.relative_to(ROOT))] = module
    assert not undeclared, f"imported but not declared (dependencies or an extra): {undeclared}"
    assert {"httpx", "cryptography"} <= extras["demo"]
    assert {"psycopg", "redis", "google-auth"}.isdisjoint(core)  # heavy and optional: extras


def _without(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "modules,code,extra",
    [
        (
            ["redis", "redis.asyncio", "redis.exceptions"],
            "from imagegate.router import RedisRouterState\nRedisRouterState.from_url('redis://127.0.0.1:1')",
            "redis",
        ),
        (
            ["psycopg"],
            "from imagegate.store.db import make_engine\nmake_engine('postgresql+psycopg://u@127.0.0.1/db')",
            "postgres",
        ),
        (
            ["google.oauth2", "google.oauth2.service_account"],
            "from imagegate.settings import Settings\nfrom imagegate.providers.registry import build_providers\n"
            "build_providers(Settings.load(env={'GOOGLE_APPLICATION_CREDENTIALS': '/k.json'}))",
            "vertex",
        ),
    ],
)
def test_a_missing_optional_dependency_names_its_extra(modules: list[str], code: str, extra: str) -> None:
    proc = _without(modules, code)
    assert proc.returncode != 0
    assert f"pip install 'imagegate[{extra}]'" in proc.stderr, proc.stderr


def test_the_demo_without_its_extra_is_a_one_line_message() -> None:
    proc = _without(["httpx"], "import sys\nsys.argv = ['imagegate', 'demo']\nfrom imagegate.cli import app\napp()")
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'imagegate[demo]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_core_imports_without_any_extra() -> None:
    proc = _without(
        ["redis", "psycopg", "google.oauth2", "google.auth", "httpx"],  # cryptography is core (the web session)
        "from imagegate.api.app import create_app\nfrom imagegate.services import build_services\n"
        "from imagegate.settings import Settings\ncreate_app(Settings.load(env={}))",
    )
    assert proc.returncode == 0, proc.stderr
