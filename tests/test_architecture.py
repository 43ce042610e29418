"""The package layout of the README's architecture section: packages follow the data flow (no
backward import), no module import cycle, and every sub-command's --help works with help text
for every option."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from synthcl.cli import COMMANDS, build_parser

SRC = Path(__file__).resolve().parents[1] / "src" / "synthcl"

# rank of each top-level package or module: a module may import only lower ranks (or its own
# package). Data flows: data -> generators -> synthetic -> weights -> pretraining -> finetune
# -> experiments -> commands -> cli.
RANKS = {"errors": 0, "utils": 1, "config": 1, "models": 2, "data": 2, "preview": 2,
         "generators": 3, "synthetic": 4, "weights": 5, "pretraining": 6, "finetune": 7,
         "experiments": 8, "commands": 9, "cli": 10, "__main__": 11, "__init__": 0}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """synthcl modules imported anywhere in the file (function-level imports included, those
    for type checkers only left out)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test).endswith("TYPE_CHECKING")
                   for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("synthcl"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("synthcl"))
    return found


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def test_every_top_level_package_has_a_rank():
    tops = {name.split(".")[1] for name in MODULES if name != "synthcl"}
    assert tops <= set(RANKS), tops - set(RANKS)


def test_no_package_imports_one_downstream_of_it():
    backward = []
    for name, path in MODULES.items():
        if name == "synthcl":
            continue
        top = name.split(".")[1]
        for target in imports_of(path):
            parts = target.split(".")
            if len(parts) < 2 or parts[1] == top or parts[1] not in RANKS:
                continue
            if RANKS[parts[1]] > RANKS[top]:
                backward.append(f"{name} imports {target}")
    assert not backward, backward


def test_no_module_import_cycle():
    graph = {name: {t for t in imports_of(path) if t in MODULES and t != name}
             for name, path in MODULES.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of logic
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".")
                                                      and MODULES[t].name == "__init__.py")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_source_files_stay_small():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > 420}
    assert not long, long


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help_for_every_option(command, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: synthcl " + command in capsys.readouterr().out
    sub = next(a for a in parser._subparsers._group_actions[0].choices.items()
               if a[0] == command)[1]
    missing = [a.option_strings[-1] for a in sub._actions
               if a.option_strings and a.help in (None, "") and "--help" not in a.option_strings]
    assert not missing, f"{command}: options without help: {missing}"
