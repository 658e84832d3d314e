"""What a plain ``pip install omics-waiter`` gives: the command and what it needs.

The installed distribution's metadata is what the build backend (hatchling) wrote from
pyproject.toml when the project was installed (tasks.py reinstalls it whenever pyproject.toml
changes); the test holds it against pyproject.toml too, so a stale install cannot pass.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = "omics-waiter"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower()


def test_a_plain_install_requires_click_and_rich_without_an_extra() -> None:
    plain = {_name(r) for r in importlib.metadata.requires(DIST) or () if "extra ==" not in r}
    assert {"click", "rich"} <= plain


def test_the_installed_requirements_are_those_of_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    plain = {r for r in importlib.metadata.requires(DIST) or () if "extra ==" not in r}
    assert {_name(r) for r in plain} == {_name(r) for r in project["dependencies"]}


def test_the_console_script_is_the_command() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (script,) = [s for s in scripts if s.name == "omics-waiter"]
    assert script.value == "omics_waiter._entry:main"
    done = subprocess.run(
        [sys.executable, "-c", "from omics_waiter._entry import main; main()", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("omics-waiter, version ")
    assert done.stderr == ""
