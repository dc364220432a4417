"""The architecture as rules: the truth boundary, the layers' imports, no import cycles, small
modules and functions, and no global state changed by importing the package."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("adsim", "stages", "encoders")
# What each layer may import (besides itself and the standard and third-party libraries).
LAYERS = {
    "adsim.core": (),
    "adsim.truth": ("adsim.core",),
    "adsim.world": ("adsim.core", "adsim.truth"),
    "stages": ("adsim.core",),
    "encoders": ("adsim.core", "adsim.world.view", "adsim.world.leaf_index", "stages.lexical"),
    "adsim.stats": ("adsim.core",),  # pure math over arrays and its results
    "adsim.reports": ("adsim.core", "adsim.stats"),
    "adsim.datasets": ("adsim.core",),
    "adsim.serving": ("adsim.core", "adsim.world", "adsim.truth", "stages", "encoders"),
    "adsim.runs": ("adsim.core", "adsim.world", "adsim.truth", "adsim.serving", "adsim.stats", "stages", "encoders"),
    "adsim.studies": ("adsim.core", "adsim.world", "adsim.truth", "adsim.serving", "adsim.stats", "adsim.reports",
                      "adsim.runs", "adsim.datasets", "stages", "encoders"),
    "adsim.realdata": ("adsim.core", "adsim.world", "adsim.truth", "adsim.serving", "adsim.stats", "adsim.reports",
                       "adsim.runs", "adsim.datasets", "stages", "encoders"),
    "adsim.benchmarks": ("adsim.core", "adsim.world", "adsim.serving", "adsim.stats", "adsim.reports", "adsim.runs",
                         "stages", "encoders"),
}
MAX_PACKAGE_MODULES = 15  # a room per kind of work: more modules than this and it likely holds two
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports at run time (lazy imports in functions included, imports under
    `if TYPE_CHECKING:` excluded); `from a import b` counts as `a.b` when that is a module."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found.update(subs or {node.module})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) for name, path in mods.items()}


def _layer(module: str) -> str | None:
    return next((layer for layer in sorted(LAYERS, key=len, reverse=True) if module == layer or module.startswith(layer + ".")), None)


def test_layers_import_only_the_layers_below():
    offenders = []
    for module, deps in graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        allowed = (layer,) + LAYERS[layer] + ("adsim",)  # the root holds only the version and lazy verbs
        offenders += [f"{module} -> {d}" for d in deps if not any(d == a or d.startswith(a + ".") for a in allowed)]
    assert not offenders, offenders


def test_the_system_pass_never_reads_ground_truth():
    """Within serving, only the users' side (adsim.serving.users, and the engine that calls it)
    reads the world's answers; the ad system's pass does not."""
    deps = graph()["adsim.serving.system"]
    assert not [d for d in deps if d.startswith(("adsim.truth", "adsim.world.build", "adsim.world.behaviour"))], deps


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def dfs(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                dfs(dep, path + [dep])
        state[node] = 2

    for module in sorted(g):
        if module not in state:
            dfs(module, [module])
    assert not cycles, cycles[:5]


def test_packages_hold_one_kind_of_work():
    sizes = {}
    for module, path in modules().items():
        if path.name != "__init__.py":
            sizes[str(path.parent.relative_to(ROOT))] = sizes.get(str(path.parent.relative_to(ROOT)), 0) + 1
    big = {p: n for p, n in sizes.items() if n > MAX_PACKAGE_MODULES}
    assert not big, big


def test_the_ad_system_never_loads_ground_truth():
    """Importing every module of stages/ and encoders/ loads nothing from adsim.truth, adsim.serving
    or the packages that run experiments: the system under test cannot reach the answers."""
    mods = [m for m in modules() if m.split(".")[0] in ("stages", "encoders")]
    code = ("import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods)
            + "bad = sorted(m for m in sys.modules if m.startswith(('adsim.truth', 'adsim.serving', 'adsim.runs', 'adsim.studies', "
              "'adsim.world.build', 'adsim.world.behaviour')))\nprint(bad)\nsys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_adsim_changes_no_global_state():
    # The libraries are imported first: some of them set environment variables of their own.
    code = ("import logging, os, warnings, torch, lightning, torchrec, transformers, faiss, polars\n"
            "env, filters, seed = dict(os.environ), list(warnings.filters), torch.initial_seed()\n"
            "levels = {n: logging.getLogger(n).level for n in ('lightning', 'torchrec', 'lightning.pytorch')}\n"
            "import adsim, adsim.api, adsim.cli, stages.training, stages.ranker.model, encoders.baselines, encoders.training.train\n"
            "assert dict(os.environ) == env, 'environment changed'\n"
            "assert list(warnings.filters) == filters, 'warning filters changed'\n"
            "assert torch.initial_seed() == seed, 'torch seeded'\n"
            "assert {n: logging.getLogger(n).level for n in levels} == levels, 'logging changed'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_and_functions_are_small(package):
    big = []
    for path in (ROOT / package).rglob("*.py"):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                big.append(f"{path.name}:{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not big, big
