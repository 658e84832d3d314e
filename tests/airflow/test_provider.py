"""The provider's registration and import boundaries: Airflow finds omics-waiter through its
entry point; `import omics_waiter` never imports Airflow; `provider_info` adds nothing to it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import omics_waiter.airflow
from omics_waiter.airflow.provider_info import get_provider_info


def loaded_after(code: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter after running `code`."""
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    script = f"import sys, json; {code}; {listing}"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_entry_point_names_get_provider_info() -> None:
    (point,) = [
        p
        for p in entry_points(group="apache_airflow_provider")
        if p.value.startswith("omics_waiter")
    ]
    assert point.load() is get_provider_info


def test_provider_info_names_the_package_and_the_modules_of_its_classes() -> None:
    info = get_provider_info()
    assert info["package-name"] == "omics-waiter"
    modules = {
        m
        for group in ("operators", "sensors", "triggers")
        for e in info[group]
        for m in e["python-modules"]
    }
    assert modules == {
        "omics_waiter.airflow.operators",
        "omics_waiter.airflow.sensors",
        "omics_waiter.airflow.triggers",
    }


def test_import_omics_waiter_never_imports_airflow() -> None:
    assert "airflow" not in loaded_after("import omics_waiter")


def test_provider_info_loads_nothing_beyond_import_omics_waiter() -> None:
    assert loaded_after(
        "import omics_waiter.airflow.provider_info as p; p.get_provider_info()"
    ) <= loaded_after("import omics_waiter; import importlib.metadata")


def test_the_subpackage_exports_exactly_its_public_names() -> None:
    assert sorted(omics_waiter.airflow.__all__) == omics_waiter.airflow.__all__
    for name in omics_waiter.airflow.__all__:
        assert getattr(omics_waiter.airflow, name).__name__ == name
