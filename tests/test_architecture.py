"""The layer picture of docs/ARCHITECTURE.md, checked on the imports of every module in app/.

Imports inside `if TYPE_CHECKING:` are left out (they never run); imports inside functions count.
"""

import ast
from functools import cache
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# Lowest first. A module may import its own package, anything of a lower layer, and (only for
# route modules) the web layer. The first matching prefix decides a module's layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "kernel",
        ("app.kernel", "app.config", "app.errors", "app.i18n", "app.db", "app.mail"),
    ),
    # People and organisations are what everything else stands on; auth knows people, and the
    # organisation's admin (tokens, ending sessions) stands on auth.
    ("people", ("app.orgs.models",)),
    ("auth", ("app.auth",)),
    ("orgs", ("app.orgs",)),
    ("web", ("app.web", "app.access", "app.security", "app.middleware", "app.resend")),
    ("media", ("app.media",)),
    ("recognition", ("app.recognition",)),
    ("contests", ("app.contests",)),
    # Stafettpinnen: weekly ranks its stories as candidates, so it sits below weekly.
    ("stories", ("app.stories",)),
    ("weekly", ("app.weekly",)),
    # An organisation's own development over time: reads recognitions, knows no page above.
    ("insights", ("app.insights",)),
    # Storskjerm: live sessions for staff days (uses orgs, values and auth; nothing uses it).
    ("live", ("app.live",)),
    # Serving a photo asks every owner of images whether the viewer may see it.
    ("media serving", ("app.media.access", "app.media.routes")),
    ("embed", ("app.embed",)),
    # The privacy rights: export and erasure walk every feature's privacy.py.
    ("privacy", ("app.privacy",)),
    # Provisioning from an identity system (SCIM): people, departments, roles; it asks every
    # feature whether a removed person has content before deleting the row.
    ("scim", ("app.scim",)),
    # The pages that put every feature side by side: home, its feed, "Meg".
    ("home", ("app.home",)),
    (
        "top",
        (
            "app.demo",
            "app.main",
            "app.cli",
            "app.scheduler",
            "app.site",
            "app.models",
            "app.migrate",
            "app.backup",
            "app.__main__",
        ),
    ),
]
WEB = "web"
PLATFORM = {"kernel", "web", "top"}  # groups of small modules that may use each other
FEATURES = {
    f"app.{f}"
    for f in ("orgs", "auth", "media", "recognition", "contests", "stories", "weekly", "insights")
}
FEATURES |= {"app.embed", "app.demo", "app.home", "app.privacy", "app.scim", "app.live"}
FRAMEWORKS = ("fastapi", "starlette", "app.access", "app.web", "app.security", "app.middleware")


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# HTTP glue that lives with its feature: an ASGI middleware guarding the upload size, and the
# widget's memo with the ASGI fast path that answers from it.
HTTP_GLUE = {"app.media.limits", "app.embed.memo"}


def is_route_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in {"routes", "api"} or last.endswith("_routes") or last.startswith("routes_")


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking_only(child):
            found.extend(n for other in child.orelse for n in [other, *_walk(other)])
            continue
        found.append(child)
        found.extend(_walk(child))
    return found


def _resolve(name: str) -> str | None:
    """The app module an import names: the longest known prefix."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports_of(name: str) -> frozenset[str]:
    """Everything `name` imports: app modules by name, third-party packages by top name."""
    tree = ast.parse(modules()[name].read_text())
    found: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_resolve(alias.name) or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = _resolve(node.module) or node.module
            found.add(base)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in modules():
                    found.add(sub)
    found.discard(name)
    return frozenset(found)


def layer_of(name: str) -> int:
    if name == "app":
        return len(LAYERS) - 1
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_label, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), index)
    if best is None:
        raise AssertionError(f"{name} has no layer in LAYERS: add it there and to the picture")
    return best[1]


def package_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2])


def app_imports(name: str) -> list[str]:
    return sorted(i for i in imports_of(name) if i in modules() and i != "app")


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_no_module_imports_upwards() -> None:
    wrong = []
    for name in modules():
        mine = layer_of(name)
        for target in app_imports(name):
            theirs = layer_of(target)
            allowed = (
                theirs < mine
                or package_of(target) == package_of(name)
                or (theirs == mine and LAYERS[mine][0] in PLATFORM)
                or (LAYERS[theirs][0] == WEB and is_route_module(name))
            )
            if not allowed:
                wrong.append(f"{name} ({LAYERS[mine][0]}) -> {target} ({LAYERS[theirs][0]})")
    assert wrong == [], "imports against the layer picture:\n" + "\n".join(wrong)


def test_route_modules_are_imported_only_by_the_app() -> None:
    wrong = [
        f"{name} -> {target}"
        for name in modules()
        for target in app_imports(name)
        if is_route_module(target) and name not in {"app.main", "app.site"}
    ]
    assert wrong == [], "route modules used as libraries:\n" + "\n".join(wrong)


def test_services_know_nothing_of_http() -> None:
    wrong = [
        f"{name} -> {target}"
        for name in modules()
        if package_of(name) in FEATURES and not is_route_module(name) and name not in HTTP_GLUE
        for target in imports_of(name)
        if target in FRAMEWORKS or target.split(".")[0] in FRAMEWORKS
    ]
    assert wrong == [], "services importing the web framework:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = {name: app_imports(name) for name in modules()}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in graph:
        if start not in state:
            visit(start, [start])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_too_big(name: str) -> None:
    lines = modules()[name].read_text().count("\n")
    assert lines <= 600, f"{name} has {lines} lines: split it by job"
