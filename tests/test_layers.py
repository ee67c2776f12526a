"""The import graph of stablegan runs one way: no circle, even through imports made inside
functions, and the neutral bottom layer (``stablegan.core``) imports nothing else of stablegan.

The graph is built from the source with ``ast`` (no module is imported): an edge ``a -> b`` for
every ``import b`` / ``from b import x`` in ``a`` at module level or inside a function (blocks
under ``if TYPE_CHECKING:`` aside; ``importlib.import_module("b")`` with a literal name counts
too). ``from b import x`` also gives ``a -> b.x`` when ``b.x`` is a module. Importing ``p.q.r``
runs ``p/__init__.py`` and ``p/q/__init__.py`` first, so the edge also goes to every package
above ``b`` that does not contain ``a`` (one that contains ``a`` is already being imported when
``a`` runs): that is how ``import stablegan.tasks.registry`` from outside ``stablegan/tasks``
pulls in every task.

A package whose ``__init__`` imports its public names when first used (a ``_LAZY`` table of
name -> module read by a PEP 562 ``__getattr__``, as ``stablegan`` and ``stablegan.reports``
do) runs no import of its own: ``from package import name`` is an edge to the package and to
the module ``_LAZY`` names for ``name``, which is what Python does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stablegan"

# the layers bottom to top (docs/architecture.md): a module may import its own layer and the
# ones below. Modules not listed belong to the layer of their package.
LAYERS: list[tuple[str, ...]] = [
    ("stablegan.core", "stablegan.errors"),  # core.schema: the config machinery
    ("stablegan.configfile", "stablegan.taskconfig"),  # config files; the tasks' sections
    ("stablegan.config",),  # the general sections, composed with the tasks' into Config
    ("stablegan.objectives", "stablegan.lipschitz", "stablegan.variational", "stablegan.models",
     "stablegan.tricks"),
    ("stablegan.data", "stablegan.metrics", "stablegan.reports"),  # reports: plots and tables
    ("stablegan.classifier",),
    ("stablegan.tasks",),
    ("stablegan.methods",),
    ("stablegan.configure", "stablegan.recipes", "stablegan.evaluation"),
    ("stablegan.training",),
    ("stablegan.compare", "stablegan.diagnose", "stablegan.style_transfer",
     "stablegan.reports.html"),
    ("stablegan.reproduce",),  # the paper's tables: runs through compare
    ("stablegan", "stablegan.cli", "stablegan.__main__"),
]


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _targets(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported name, line) of every import of ``tree`` outside ``if TYPE_CHECKING:``."""
    skip = {id(s) for n in ast.walk(tree) if isinstance(n, ast.If)
            and "TYPE_CHECKING" in ast.unparse(n.test) for s in ast.walk(n)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found += [(base, node.lineno)] + [(f"{base}.{a.name}", node.lineno)
                                               for a in node.names]
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module")
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.args[0].value, node.lineno))
    return found


def lazy_table(tree: ast.AST) -> dict[str, str]:
    """The module-level ``_LAZY = {name: "module", ...}`` of a package ``__init__`` (or {})."""
    for node in getattr(tree, "body", []):
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
            return dict(ast.literal_eval(node.value))  # type: ignore[arg-type]
    return {}


def import_graph(root: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """``({module: modules it imports}, {(a, b): "file:line" of one import a -> b})``."""
    mods = modules(root)
    trees = {m: ast.parse(path.read_text(encoding="utf-8")) for m, path in mods.items()}
    lazy = {f"{m}.{name}": target for m, tree in trees.items()
            if mods[m].name == "__init__.py" for name, target in lazy_table(tree).items()}
    edges: dict[str, set[str]] = {m: set() for m in mods}
    where: dict[tuple[str, str], str] = {}
    for m, path in mods.items():
        for target, line in _targets(trees[m], m, path.name == "__init__.py"):
            target = lazy.get(target, target)
            if target not in mods:
                continue
            parts = target.split(".")
            pulled = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            for t in pulled:  # the target and the packages above it, not yet being imported
                if t != m and t in mods and not m.startswith(t + "."):
                    edges[m].add(t)
                    where.setdefault((m, t), f"{path.relative_to(root.parent)}:{line}")
    return edges, where


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                best, best_len = i, len(name)
    assert best is not None, f"{module} is in no layer of tests/test_layers.py: add it"
    return best


# ------------------------------------------------------------------------------ the checks
def test_the_graph_sees_imports_inside_functions_and_through_packages(tmp_path: Path) -> None:
    """The graph builder on a tiny package with a circle only through a function-level import
    and one only through a package ``__init__`` (so the checks below can fail)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub import impl\n")
    (pkg / "sub" / "impl.py").write_text("import pkg.c\n")
    (pkg / "sub" / "reg.py").write_text("")
    (pkg / "c.py").write_text("from pkg.sub.reg import y\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    import pkg.e\n")
    (pkg / "e.py").write_text("import importlib\nimportlib.import_module('pkg.d')\n")
    (pkg / "lazy").mkdir()
    (pkg / "lazy" / "__init__.py").write_text("import importlib\n_LAZY = {'f': 'pkg.lazy.m'}\n"
                                              "def __getattr__(n):\n"
                                              "    return importlib.import_module(_LAZY[n])\n")
    (pkg / "lazy" / "m.py").write_text("")
    (pkg / "g.py").write_text("from pkg.lazy import f\n")
    edges, _ = import_graph(pkg)
    assert edges["pkg.g"] == {"pkg.lazy", "pkg.lazy.m"} and edges["pkg.lazy"] == set()
    assert edges["pkg.a"] == {"pkg.b"} and edges["pkg.b"] == {"pkg.a"}
    assert "pkg.sub" in edges["pkg.c"]  # reg is reached through pkg/sub/__init__.py
    assert "pkg.sub" not in edges["pkg.sub.impl"]  # its own package is already importing
    assert edges["pkg.d"] == set() and edges["pkg.e"] == {"pkg.d"}
    assert circles(edges) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub", "pkg.sub.impl"]]


def test_stablegan_has_no_import_circle() -> None:
    edges, where = import_graph()
    found = circles(edges)
    described = []
    for comp in found:
        inside = set(comp)
        ties = [where[(a, b)] for a in comp for b in sorted(edges[a]) if b in inside]
        described.append(f"{', '.join(comp)} (e.g. {', '.join(ties[:4])})")
    assert not found, "import circles: " + "; ".join(described)


def test_core_imports_nothing_else_of_stablegan() -> None:
    edges, where = import_graph()
    bad = [f"{a} -> {b} ({where[(a, b)]})" for a in edges if a.startswith("stablegan.core")
           for b in edges[a] if not b.startswith("stablegan.core")]
    assert not bad, "stablegan.core must stay the bottom layer: " + "; ".join(bad)
    # and its __init__ imports nothing at all (``import stablegan.core.errors`` stays cheap)
    assert edges["stablegan.core"] == set()


def test_no_module_imports_a_layer_above_its_own() -> None:
    edges, where = import_graph()
    up = [f"{a} -> {b} ({where[(a, b)]})" for a in sorted(edges) for b in sorted(edges[a])
          if layer_of(b) > layer_of(a)]
    assert not up, "imports that run up the layers: " + "; ".join(up)


def test_methods_and_training_do_not_import_each_other_both_ways() -> None:
    edges, _ = import_graph()
    back = sorted(f"{a} -> {b}" for a in edges if a.startswith("stablegan.methods")
                  for b in edges[a] if b.startswith("stablegan.training"))
    assert not back


@pytest.mark.parametrize("module", sorted(modules()))
def test_every_module_has_a_layer(module: str) -> None:
    assert 0 <= layer_of(module) < len(LAYERS)
