"""What importing the package brings in, measured in a fresh interpreter (``sys.modules``).

``import omics_waiter`` (what ``omics-waiter --help`` and a service's start-up pay) loads
neither the AWS stack nor an integration; the waiter's names bring botocore when first used,
and aiohttp comes only with a client (aiobotocore's default transport).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import omics_waiter

# Integrations behind extras, and aiobotocore's HTTP transport.
NEVER = ("aiohttp", "redis", "airflow", "opentelemetry.sdk")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_import_omics_waiter_loads_no_integration_and_not_the_aws_stack() -> None:
    loaded = modules_after("import omics_waiter")
    assert not {*NEVER, "botocore", "aiobotocore"} & loaded, sorted(
        {*NEVER, "botocore", "aiobotocore"} & loaded
    )


def test_every_public_name_loads_no_integration() -> None:
    loaded = modules_after("from omics_waiter import *")
    assert "omics_waiter._waiter" in loaded  # the lazy names were really imported
    assert not set(NEVER) & loaded, sorted(set(NEVER) & loaded)


@pytest.mark.parametrize("name", ["EventStream", "OmicsWaiter", "RedisBudget"])
def test_a_lazy_name_is_the_class_itself(name: str) -> None:
    value = getattr(omics_waiter, name)
    assert isinstance(value, type) and value.__name__ == name
    assert name in dir(omics_waiter)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        omics_waiter.no_such_name  # type: ignore[attr-defined]  # noqa: B018
