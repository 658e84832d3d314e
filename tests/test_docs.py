"""The docs agree with the code, where that can be checked mechanically.

- Every JSON type the command line can emit is named (in backticks) in README.md and
  docs/cli.md. The types are read from the code that writes them: every ``"type": "..."``
  literal and every ``_head(..., "type")`` call in the CLI's modules.
- Every option in the ``--help`` of every command is in docs/cli.md (the emulator's in
  docs/emulator.md, which cli.md refers to for them).
- Every repository path README.md and docs/*.md cite exists (and a cited test,
  ``tests/x.py::test_y``, is defined in that file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from omics_waiter._cli import main

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "omics_waiter"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"
# The modules that write the command line's JSON.
WRITERS = ["_display.py", "_cli.py", "_cli_list.py", "_cli_common.py", "_demo.py"]


def json_types() -> set[str]:
    found: set[str] = set()
    for name in WRITERS:
        text = (SRC / name).read_text()
        found.update(re.findall(r'"type": "([a-z_]+)"', text))
        found.update(re.findall(r'_head\([^()]*(?:\([^()]*\)[^()]*)*"([a-z_]+)"\)', text))
    return found


def test_the_json_types_are_read_from_the_code() -> None:
    # A sample the reading must find; a type added later is found the same way.
    assert {
        "job_started",
        "job_status_changed",
        "poll_retrying",
        "push_mode_changed",
        "budget_mode_changed",
        "job_listed",
        "activation_job",
    } <= json_types()


@pytest.mark.parametrize("doc", [README, ROOT / "docs" / "cli.md"], ids=lambda p: p.name)
def test_every_json_type_is_named_in_the_doc(doc: Path) -> None:
    text = doc.read_text()
    missing = sorted(t for t in json_types() if f"`{t}`" not in text)
    assert missing == [], f"{doc.name} does not name these JSON types: {missing}"


def commands(
    group: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from commands(command, (*path, name))


def options_of(command: click.Command) -> list[str]:
    flags = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            flags += [flag for flag in param.opts + param.secondary_opts if flag != "--version"]
    return flags


@pytest.mark.parametrize(
    ("path", "command"),
    list(commands(main)),
    ids=lambda x: " ".join(x) if isinstance(x, tuple) else "",
)
def test_every_option_of_every_command_is_in_the_docs(
    path: tuple[str, ...], command: click.Command
) -> None:
    doc = ROOT / "docs" / ("emulator.md" if path[:1] == ("emulator",) else "cli.md")
    text = doc.read_text()
    missing = [
        flag
        for flag in options_of(command)
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
    ]
    assert missing == [], f"{' '.join(path) or 'omics-waiter'}: not in {doc.name}: {missing}"


# A path in backticks or a link: starts at a top-level folder (or is a top-level file).
_PATH = re.compile(
    r"(?<![\w./-])((?:src|tests|benchmarks|examples|docs|\.ci)/[\w./-]*[\w/]"
    r"(?:::\w+)?|tasks\.py|pyproject\.toml)"
)
_LINK = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)")


def cited(doc: Path) -> list[tuple[str, Path]]:
    text = doc.read_text()
    found = [(m, ROOT / m) for m in _PATH.findall(text)]
    found += [(m, doc.parent / m) for m in _LINK.findall(text)]
    # Not patterns and placeholders (``tests/test_*.py``, ``examples/NAME.py``).
    return [(m, p) for m, p in found if "*" not in m and not re.search(r"/[A-Z_]{2,}\b", m)]


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.name)
def test_every_path_the_doc_cites_exists(doc: Path) -> None:
    missing = []
    for text, path in cited(doc):
        file, _, test = str(path).partition("::")
        found = Path(file).exists()
        if not found or (test and not re.search(rf"def {test}\b", Path(file).read_text())):
            missing.append(text)
    assert missing == [], f"{doc.name} cites what does not exist: {missing}"


def test_the_path_reading_finds_the_citations_it_must() -> None:
    sample = ROOT / "docs" / "kinds.md"
    assert "tests/unit/test_kinds.py" in [text for text, _ in cited(sample)]
