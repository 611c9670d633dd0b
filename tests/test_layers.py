"""The package's layers, read from its own imports: no import runs back up a floor, none forms a
circle, and no library module imports a CLI module.

The floors are written once, in ``docs/architecture.md`` (the fenced block after "## Layers");
this test parses that block. Every import counts: module level or inside a function, ``import``
or ``from ... import`` (relative too), and a module loaded by name through ``importlib``.

Run as a script (``python tests/test_layers.py``) it prints the diagram: rooms by floor, the
arrows between rooms, back edges and circles, with the counts the issues quote.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "oasis_lab"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: The room every CLI module belongs to (``__main__`` and every ``cli.py`` / ``*_cli.py``),
#: whatever package it sits in: a library module never imports one.
CLI_ROOM = "cli"
#: The room of the package's own ``__init__`` (``oasis_lab``).
ROOT_ROOM = "__init__"

#: Imports known to run back up a floor or to close a circle, as (importer, imported) module
#: names relative to ``oasis_lab``. Each must go (the list shrinks to empty); an entry that no
#: longer occurs fails :func:`test_allowlist_holds_only_imports_that_still_occur`, so a fixed
#: violation cannot come back unnoticed.
ALLOWED_BACK_EDGES: frozenset[tuple[str, str]] = frozenset({
    # the backend starts a provider on first use (a deferred import) and the provider module
    # imports the backend: a module circle inside browser, to be cut by moving the start-up
    # into the provider module or a factory registered with gpu.backends
    ("browser.backend", "browser.provider"),
})


# ---------------------------------------------------------------------------------------------
# Reading the floors and the imports
# ---------------------------------------------------------------------------------------------

def read_floors(text: str) -> list[list[str]]:
    """The floors written in the architecture document, top floor first.

    The block is the first fenced code block after a ``## Layers`` heading; each non-blank line
    is ``N  room room ...`` with N counting from 1 (a header line starting with ``floor`` is
    skipped).

    Raises
    ------
    ValueError
        No such block, floors out of order, or a room named twice.
    """
    m = re.search(r"^## Layers\b.*?^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    if m is None:
        raise ValueError("no fenced block after a '## Layers' heading")
    floors: list[list[str]] = []
    seen: set[str] = set()
    for line in m.group(1).splitlines():
        words = line.split()
        if not words or words[0] == "floor":
            continue
        if not words[0].isdigit() or int(words[0]) != len(floors) + 1 or len(words) < 2:
            raise ValueError(f"floor line {line!r}: expected '{len(floors) + 1}  room ...'")
        for room in words[1:]:
            if room in seen:
                raise ValueError(f"room {room!r} is on two floors")
            seen.add(room)
        floors.append(words[1:])
    if not floors:
        raise ValueError("the Layers block lists no floor")
    return floors


def package_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by its dotted name relative to the package (``sim.config``;
    a package's ``__init__`` by the package's name; the root ``__init__`` as ``""``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


_IMPORT_BY_NAME = {"import_module", "__import__"}


def imports_of(source: str, name: str, is_package: bool, known: Iterable[str],
               top: str = "oasis_lab", *, runtime_only: bool = False) -> set[str]:
    """Modules of ``known`` that the module ``name`` (relative to ``top``) imports.

    Counts ``import a.b``, ``from a import b`` (``b`` a module or a name in ``a``), relative
    imports, imports inside functions, and modules loaded by name: the literal argument of
    ``importlib.import_module`` / ``__import__``, and, in a module that calls one of them with a
    computed name, every string literal naming a known module (the name may come from a list).
    Imports under ``if TYPE_CHECKING:`` count too (a type named is a dependency), unless
    ``runtime_only`` (they never run, so they close no import circle).
    """
    known = set(known)
    tree = ast.parse(source)
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in (getattr(node.test, "id", None),
                                                            getattr(node.test, "attr", None)):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    here = [top] + ([p for p in name.split(".") if p])
    package = here if is_package else here[:-1]
    found: set[str] = set()
    literals: set[str] = set()
    computed_by_name = False

    def add(dotted: str | None) -> None:
        if dotted and (dotted == top or dotted.startswith(top + ".")):
            found.add(dotted[len(top) + 1:])

    for node in ast.walk(tree):
        if runtime_only and id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [f"{module}.{alias.name}" for alias in node.names]
            for sub in submodules:
                add(sub)
            # ``from pkg import mod`` depends on mod; pkg itself only where a name is taken
            # from it (its __init__ runs either way, as every parent package's does)
            if not all(sub[len(top) + 1:] in known for sub in submodules):
                add(module)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in _IMPORT_BY_NAME and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    add(arg.value)
                else:
                    computed_by_name = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.add(node.value)
    if computed_by_name:
        for text in literals:
            add(text)
    return {m for m in found if m in known and m != name}


def module_graph(package: Path = PACKAGE, *, runtime_only: bool = False) -> dict[str, set[str]]:
    """Every module's imports of other modules of the package (:func:`imports_of`)."""
    modules = package_modules(package)
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules,
                         runtime_only=runtime_only)
        for name, path in modules.items()
    }


def is_cli_module(name: str) -> bool:
    """``__main__``, every ``cli`` module and every ``*_cli`` module."""
    last = name.rsplit(".", 1)[-1]
    return last in ("__main__", "cli") or last.endswith("_cli")


def room_of(name: str, rooms: Iterable[str]) -> str:
    """The room module ``name`` lives in: CLI modules in :data:`CLI_ROOM`, the root ``__init__``
    in :data:`ROOT_ROOM`, any other in the longest room name that is it or a package above it.

    Raises
    ------
    ValueError
        No room holds the module (the floors must name every room).
    """
    if is_cli_module(name):
        return CLI_ROOM
    if name == "":
        return ROOT_ROOM
    best = max((r for r in rooms if name == r or name.startswith(r + ".")), key=len, default=None)
    if best is None:
        raise ValueError(f"module oasis_lab.{name} is in no room of the Layers block")
    return best


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # recursion depth is bounded by the room or module count
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def shortest_path(graph: Mapping[str, Iterable[str]], start: str, goal: str) -> list[str]:
    """The shortest path ``start`` ... ``goal`` along ``graph`` (breadth first); [] if none."""
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    if goal not in previous:
        return []
    path: list[str] = []
    node: str | None = goal
    while node is not None:
        path.append(node)
        node = previous[node]
    return path[::-1]


class Layers:
    """The floors, the module imports and what they make at room level."""

    def __init__(self, floors: list[list[str]], modules: Mapping[str, set[str]],
                 allowed: frozenset[tuple[str, str]] = frozenset(),
                 runtime: Mapping[str, set[str]] | None = None) -> None:
        self.floors = floors
        self.floor_of = {room: i for i, rooms in enumerate(floors) for room in rooms}
        rooms = set(self.floor_of)
        self.modules = modules
        #: the imports that run (``if TYPE_CHECKING:`` ones left out): what can close a circle
        self.runtime = modules if runtime is None else runtime
        self.room = {m: room_of(m, rooms) for m in modules}
        #: module-level imports that cross rooms: (importer, imported)
        self.crossings = sorted((a, b) for a, targets in modules.items() for b in targets
                                if self.room[a] != self.room[b])
        self.arrows = sorted({(self.room[a], self.room[b]) for a, b in self.crossings})
        self.allowed = allowed

    def is_back(self, importer: str, imported: str) -> bool:
        """An import that does not point to a floor above its own (same floor or below)."""
        return self.floor_of[self.room[imported]] >= self.floor_of[self.room[importer]]

    def back_edges(self, *, include_allowed: bool = True) -> list[tuple[str, str]]:
        return [(a, b) for a, b in self.crossings if self.is_back(a, b)
                and (include_allowed or (a, b) not in self.allowed)]

    def back_arrows(self) -> list[tuple[str, str]]:
        return [(a, b) for a, b in self.arrows if self.floor_of[b] >= self.floor_of[a]]

    def room_graph(self, *, include_allowed: bool = True) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = defaultdict(set)
        for a, b in self.crossings:
            if include_allowed or (a, b) not in self.allowed:
                graph[self.room[a]].add(self.room[b])
        return graph

    def used_rooms(self) -> list[str]:
        return [r for floor in self.floors for r in floor if r in set(self.room.values())]

    def diagram(self) -> str:
        """Rooms by floor with their arrows, then back edges and circles, then the counts."""
        lines = []
        graph = self.room_graph()
        for i, floor in enumerate(self.floors, start=1):
            lines.append(f"floor {i}")
            for room in floor:
                targets = sorted(graph.get(room, ()), key=lambda r: (self.floor_of[r], r))
                lines.append(f"  {room:<12} -> {', '.join(targets) if targets else '(nothing)'}")
        back = self.back_edges()
        room_circles = circles(graph)
        lines.append("back edges (module -> module, up or sideways a floor):")
        lines += [f"  {a} -> {b}" + ("  [allowlisted]" if (a, b) in self.allowed else "")
                  for a, b in back] or ["  none"]
        lines.append("circles (rooms; each back arrow with the shortest way back to it):")
        lines += ["  " + " <-> ".join(c) for c in room_circles] or ["  none"]
        for a, b in self.back_arrows():
            way = shortest_path(graph, b, a)
            if way:
                lines.append("    " + " -> ".join([a, *way]))
        module_circles = circles(self.runtime)
        lines.append("circles (modules; imports that run):")
        lines += ["  " + " <-> ".join(c) for c in module_circles] or ["  none"]
        lines.append(
            f"{len(self.used_rooms())} rooms on {len(self.floors)} floors, {len(self.arrows)} arrows, "
            f"{len(self.back_arrows())} back edges ({len(back)} module imports), "
            f"{len(room_circles)} circles ({len(module_circles)} among modules)"
        )
        return "\n".join(lines)


def load_layers() -> Layers:
    return Layers(read_floors(ARCHITECTURE.read_text(encoding="utf-8")), module_graph(),
                  ALLOWED_BACK_EDGES, module_graph(runtime_only=True))


# ---------------------------------------------------------------------------------------------
# The package's own layers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def layers() -> Layers:
    return load_layers()


def test_every_module_is_in_a_room_and_every_room_is_used(layers: Layers) -> None:
    # room_of raised already for a module outside every room; a room with no module is stale
    unused = [r for floor in layers.floors for r in floor if r not in set(layers.room.values())]
    assert not unused, f"rooms in docs/architecture.md with no module: {unused}"


def test_no_import_runs_back_up_a_floor(layers: Layers) -> None:
    back = layers.back_edges(include_allowed=False)
    assert not back, "imports that run back up (or sideways) a floor of docs/architecture.md:\n" + "\n".join(
        f"  oasis_lab.{a} ({layers.room[a]}, floor {layers.floor_of[layers.room[a]] + 1}) imports "
        f"oasis_lab.{b} ({layers.room[b]}, floor {layers.floor_of[layers.room[b]] + 1})" for a, b in back)


def test_no_library_module_imports_a_cli_module(layers: Layers) -> None:
    bad = [(a, b) for a, targets in layers.modules.items() for b in targets
           if is_cli_module(b) and not is_cli_module(a) and (a, b) not in layers.allowed]
    assert not bad, f"library modules importing CLI modules: {bad}"


def test_no_import_forms_a_circle(layers: Layers) -> None:
    assert circles(layers.room_graph(include_allowed=False)) == []
    # nor among modules (a circle inside one room would still be a circle), of the imports that
    # run: two modules naming each other's types under TYPE_CHECKING import nothing at run time
    modules = {a: {b for b in targets if (a, b) not in layers.allowed} for a, targets in layers.runtime.items()}
    assert circles(modules) == []


def test_allowlist_holds_only_imports_that_still_occur(layers: Layers) -> None:
    still = set(layers.back_edges()) | {(a, b) for a, t in layers.modules.items() for b in t}
    stale = sorted(layers.allowed - still)
    assert not stale, f"fixed: remove from ALLOWED_BACK_EDGES: {stale}"
    in_circle = {m: i for i, c in enumerate(circles(layers.runtime)) for m in c}
    needed = {(a, b) for a, b in layers.allowed if layers.is_back(a, b) or is_cli_module(b)
              or (a in in_circle and in_circle[a] == in_circle.get(b))}
    assert needed == set(layers.allowed), "allowlisted imports that break no rule"


_PACKAGES = sorted(".".join(("oasis_lab", *p.parent.relative_to(PACKAGE).parts))
                   for p in PACKAGE.rglob("__init__.py"))


@pytest.mark.parametrize("name", _PACKAGES)
def test_every_package_states_its_public_api(name: str) -> None:
    # as oasis_lab.sim does: a docstring naming what it holds, and an __all__ whose every name
    # is importable from the package (a name of __all__ may be a submodule, imported on demand)
    import importlib.util

    package = importlib.import_module(name)
    assert package.__doc__ and len(package.__doc__.split()) >= 10, f"{name}: no docstring"
    public = getattr(package, "__all__", None)
    assert public, f"{name}: no __all__"
    for item in public:
        assert hasattr(package, item) or importlib.util.find_spec(f"{name}.{item}"), f"{name}.{item}"


# ---------------------------------------------------------------------------------------------
# The reader itself: each check fails on a package that breaks it
# ---------------------------------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / "oasis_lab"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


_FLOORS = [["checks"], ["auction", "gpu", "__init__"], ["browser"], ["cli"]]


def test_reader_sees_function_level_relative_and_by_name_imports(tmp_path: Path) -> None:
    package = _write(tmp_path, {
        "__init__.py": "",
        "checks.py": "",
        "auction/__init__.py": "from .greedy import run\n",
        "auction/greedy.py": "def run():\n    from ..checks import x\n    return x\n",
        "gpu/__init__.py": "",
        "gpu/model.py": ("import importlib\n\ndef b():\n"
                         "    return importlib.import_module('oasis_lab.browser.backend')\n"),
        "gpu/names.py": ("import importlib\nMODS = ('oasis_lab.auction.greedy',)\n"
                         "def load():\n    return [importlib.import_module(m) for m in MODS]\n"),
        "browser/__init__.py": "",
        "browser/backend.py": "from oasis_lab.gpu import model\n",
        "auction/cli.py": "",
        "browser/cli.py": "from oasis_lab.auction import cli\n",
        "auction/typed.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                             "    from oasis_lab.auction.greedy import run\n"),
        "auction/rooted.py": "from oasis_lab import checks\n",
    })
    graph = module_graph(package)
    assert graph["auction.greedy"] == {"checks"}
    assert graph["auction"] == {"auction.greedy"}
    assert graph["gpu.model"] == {"browser.backend"}
    assert graph["gpu.names"] == {"auction.greedy"}
    assert graph["browser.backend"] == {"gpu.model"}  # the module, not the package above it
    assert graph["auction.rooted"] == {"checks"}  # the module, not the package it sits in
    assert graph["auction.typed"] == {"auction.greedy"}  # a type named is a dependency
    assert module_graph(package, runtime_only=True)["auction.typed"] == set()  # but runs no import
    layers = Layers(_FLOORS, graph)
    # broken: back edge, sideways edge, circle; CLI modules share one room
    assert layers.room["auction.cli"] == layers.room["browser.cli"] == "cli"
    assert ("gpu.model", "browser.backend") in layers.back_edges()
    assert ("gpu.names", "auction.greedy") in layers.back_edges()  # same floor: sideways
    assert circles(layers.room_graph()) == [["browser", "gpu"]]
    allowed = Layers(_FLOORS, graph, frozenset({("gpu.model", "browser.backend")}))
    assert circles(allowed.room_graph(include_allowed=False)) == []
    assert "1 circles" in layers.diagram()


def test_reader_refuses_a_module_outside_every_room_and_bad_floor_blocks(tmp_path: Path) -> None:
    package = _write(tmp_path, {"__init__.py": "", "stray.py": ""})
    with pytest.raises(ValueError, match="oasis_lab.stray is in no room"):
        Layers(_FLOORS, module_graph(package))
    with pytest.raises(ValueError, match="Layers"):
        read_floors("# no layers here\n")
    with pytest.raises(ValueError, match="two floors"):
        read_floors("## Layers\n\n```\n1  a b\n2  a\n```\n")
    with pytest.raises(ValueError, match="expected '2"):
        read_floors("## Layers\n\n```\n1  a\n3  b\n```\n")
    assert read_floors("## Layers\n\n```\nfloor rooms\n1  a b\n2  c\n```\n") == [["a", "b"], ["c"]]


def test_the_package_root_has_a_room() -> None:
    assert ROOT_ROOM in {r for f in read_floors(ARCHITECTURE.read_text(encoding="utf-8")) for r in f}


if __name__ == "__main__":
    print(load_layers().diagram())
    sys.exit(0)
