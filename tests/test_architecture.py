"""The house's rules, checked on the code itself (read as text, nothing imported):

- no import cycle between the project's modules;
- apps import downwards only: core <- directory <- invoicing <- finance; the B2Brouter client
  and the sandbox import none of them;
- `invoice.state` is assigned in one place only, `invoicing.states.invoice_transition`.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "core", "directory", "invoicing", "finance", "b2brouter", "sandbox")
LAYERS = {"core": 0, "directory": 1, "invoicing": 2, "finance": 3}
STATE_SETTER = "invoicing/states.py"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            relative = path.relative_to(REPO)
            if "migrations" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return result


def test_the_graph_sees_the_imports():
    assert "invoicing.services.submission" in GRAPH["invoicing.tasks"]
    assert "core.gateway" in GRAPH["directory.services"]


def test_no_import_cycle():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_apps_import_downwards_only():
    wrong = []
    for name, targets in GRAPH.items():
        app = name.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            standalone = app in ("b2brouter", "sandbox") and other not in (app, "b2brouter")
            upwards = app in LAYERS and other in LAYERS and LAYERS[other] > LAYERS[app]
            if standalone or upwards:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def _sets_state(call: ast.Call) -> bool:
    """A call that writes an invoice's `state` column: `.update(state=...)`, an Invoice created
    with a state, `setattr(x, "state", ...)`."""
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    keywords = {k.arg for k in call.keywords}
    receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else called
    creates_invoice = receiver == "Invoice" or "Invoice." in receiver
    return bool(
        (called in ("update", "bulk_update") and "state" in keywords)
        or (called in ("create", "update_or_create", "get_or_create", "Invoice")
            and "state" in keywords and creates_invoice)
        or (called == "setattr" and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant)
            and call.args[1].value == "state"))


def _state_assignments(source: str) -> list[int]:
    """Lines of `source` that set an invoice's state other than through the state setter."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and _sets_state(node):
            lines.append(node.lineno)
    return lines


def test_the_state_is_assigned_by_the_state_setter_only():
    found = []
    for name, path in MODULES.items():
        relative = path.relative_to(REPO).as_posix()
        if name.split(".")[0] not in LAYERS or relative == STATE_SETTER:
            continue
        found += [f"{relative}:{line}" for line in _state_assignments(path.read_text())]
    assert found == []


def test_the_state_rule_sees_each_way_of_assigning():
    source = "\n".join([
        "invoice.state = 'paid'",
        "locked.state += 'x'",
        "Invoice.objects.filter(pk=1).update(state='paid')",
        "Invoice.objects.create(number='1', state='paid')",
        "setattr(invoice, 'state', 'paid')",
        "WebhookEvent.objects.create(state='sent')",  # not an invoice
        "invoice.sync_state = 'synced'",  # not the state
    ])
    assert _state_assignments(source) == [1, 2, 3, 4, 5]
