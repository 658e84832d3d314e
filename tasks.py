#!/usr/bin/env python3
"""Set up a virtual environment and run the project's jobs.

    python3 tasks.py demo        # the main job: the demo on the embedded emulator
    python3 tasks.py test [ARGS]           # the test suite (ARGS: pytest's, e.g. tests/unit -x)
    python3 tasks.py pytest ARGS...        # pytest as it is: one process, no split
    python3 tasks.py check       # ruff (lint and format) and mypy --strict
    python3 tasks.py bench       # the many-job benchmark
    python3 tasks.py example NAME          # examples/NAME.py, in the environment
    python3 tasks.py omics-waiter ARGS...   # any CLI command, in the environment
    python3 tasks.py run PROGRAM ARGS...    # any program of the environment (airflow ...)

Needs only Python 3.10+. The environment lives in .venv and is reinstalled when
pyproject.toml changes.

`test` runs the suite in two pytest invocations (see docs/development.md): the tests not
marked `serial` on pytest-xdist workers (OMICS_WAITER_TEST_WORKERS of them, default
"auto"), then the `serial` ones (they measure time or rates, or run many processes) alone.
Both always run; the job fails if either fails. Given `-m` or `-n`, it runs pytest once,
as it is.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env(extra: str) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - a clear message for an old interpreter
        sys.exit(f"omics-waiter needs Python 3.10 or newer, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing omics-waiter[{extra}] into {VENV}", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-U", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f".[{extra}]"], check=True, cwd=ROOT)
    stamp.write_text(digest)


def run(*args: str | Path) -> int:
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=False).returncode


# pytest's exit code when it collected no test (e.g. no serial test under the given path).
NO_TESTS = 5


def test(args: list[str]) -> int:
    """The suite: the parallel part on xdist workers, then the serial part alone."""
    pytest = [PYTHON, "-m", "pytest"]
    if any(a in ("-m", "-n", "--numprocesses") or a.startswith(("-m", "-n")) for a in args):
        return run(*pytest, *args)  # the caller chose markers or workers: as asked
    workers = os.environ.get("OMICS_WAITER_TEST_WORKERS", "auto")
    print(f"== tests not marked serial, on {workers} xdist workers", flush=True)
    parallel = run(*pytest, "-n", workers, "-m", "not serial", *args)
    print("== tests marked serial, one at a time", flush=True)
    serial = run(*pytest, "-p", "no:xdist", "-m", "serial", *args)
    codes = [parallel, serial]
    if all(code == NO_TESTS for code in codes):
        return NO_TESTS
    return max((code for code in codes if code != NO_TESTS), default=0)


def main(argv: list[str]) -> int:
    job, *rest = argv or ["help"]
    if job == "demo":
        ensure_env("dev")
        return run(BIN / "omics-waiter", "demo", *rest)
    if job == "test":
        ensure_env("dev")
        return test(rest)
    if job == "pytest":
        ensure_env("dev")
        return run(PYTHON, "-m", "pytest", *rest)
    if job == "check":
        ensure_env("dev")
        paths = ["src", "tests", "examples", "benchmarks", "tasks.py"]
        for cmd in (
            [BIN / "ruff", "check", *paths],
            [BIN / "ruff", "format", "--check", *paths],
            [PYTHON, "-m", "mypy", "--strict", "src"],
        ):
            if code := run(*cmd):
                return code
        return 0
    if job == "bench":
        ensure_env("dev")
        return run(PYTHON, "benchmarks/many_jobs.py", *rest)
    if job == "example":
        ensure_env("dev")
        names = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
        if len(rest) != 1 or rest[0].removesuffix(".py") not in names:
            print(f"usage: python3 tasks.py example NAME, NAME one of: {', '.join(names)}")
            return 2
        return run(PYTHON, ROOT / "examples" / f"{rest[0].removesuffix('.py')}.py")
    if job == "omics-waiter":
        ensure_env("dev")
        return run(BIN / "omics-waiter", *rest)
    if job == "run":
        ensure_env("dev")
        if not rest or not (BIN / rest[0]).exists():
            print(f"usage: python3 tasks.py run PROGRAM ARGS..., PROGRAM one of {BIN}'s")
            return 2
        return run(BIN / rest[0], *rest[1:])
    print(__doc__)
    return 0 if job == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
