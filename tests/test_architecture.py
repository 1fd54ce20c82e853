"""The package's import graph: no cycle, and no module importing one from a layer above it.

The layers are the architecture the README draws; a new module goes into one of them.
Every import counts, deferred ones inside functions and ``TYPE_CHECKING`` blocks included.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rlbench_icl"

# Lowest first. A module may import from its own layer or any layer below.
LAYERS = [
    ["_version", "errors", "_seal", "cpu"],
    ["mdp", "dynprog", "experience"],
    ["builders", "simulate", "synthetic"],
    ["tasks", "families", "registry", "envs"],
    ["contract"],
    ["protocols", "store", "stamps", "scoring"],
    ["conformance", "discovery", "backends", "fm", "tuning", "sealed", "datasets"],
    ["runner"],
    ["verify", "leaderboard", "api"],
    ["cli", "__init__"],
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Package modules imported anywhere in ``path`` (relative to the package root)."""
    name = _module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("rlbench_icl"):
                target = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # ``from . import store`` names a module
                candidate = [*target, alias.name]
                found.add(".".join(candidate) if _exists(candidate) else ".".join(target))
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 1)[1] for a in node.names
                      if a.name.startswith("rlbench_icl.")}
    return {f for f in found if f and f != name}


def _exists(parts: list[str]) -> bool:
    return (PACKAGE.joinpath(*parts).with_suffix(".py").exists()
            or (PACKAGE.joinpath(*parts) / "__init__.py").exists())


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    top = module.split(".")[0]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"module {module} is in no layer of tests/test_architecture.py")


def test_every_module_has_a_layer():
    for module in _graph():
        _layer(module)


def test_no_module_imports_one_above_it():
    upward = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
              for m, targets in _graph().items() for t in targets if _layer(t) > _layer(m)]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_walker_sees_a_cycle(tmp_path, monkeypatch):
    """The check itself can fail: two modules importing each other are reported."""
    pkg = tmp_path / "rlbench_icl"
    pkg.mkdir()
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from .a import y\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    graph = _graph()
    assert graph == {"a": {"b"}, "b": {"a"}}


def test_the_readmes_diagram_names_every_module_in_its_layer():
    """README.md's architecture block draws LAYERS top down, separated by rules: each
    top-level module or package is named in its layer's band, and every file of a package
    is named too."""
    readme = (PACKAGE.parent / "README.md").read_text()
    block = readme.split("## Architecture", 1)[1].split("```", 2)[1]
    bands = [band for band in block.split("─" * 20) if band.strip()]
    bands = [band.replace("─", "") for band in bands][::-1]  # lowest first, as LAYERS
    assert len(bands) == len(LAYERS)
    for band, layer in zip(bands, LAYERS, strict=True):
        for module in layer:
            if module == "__init__":
                continue
            package = PACKAGE / module
            name = f"{module}/" if package.is_dir() else f"{module}.py"
            assert name in band, f"README's architecture diagram lacks {name} in its layer"
            for path in sorted(package.glob("*.py")) if package.is_dir() else []:
                if path.name != "__init__.py" and module != "builders":
                    assert path.stem in band, f"README's diagram lacks {module}/{path.name}"
