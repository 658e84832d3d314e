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


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["wait", "--help"], ["emulator", "--help"], ["wait", "run", "not-an-id"]],
    ids=["help", "wait-help", "emulator-help", "usage-error"],
)
def test_help_and_usage_errors_load_neither_the_aws_stack_nor_the_emulator(
    argv: list[str],
) -> None:
    code = (
        f"import sys; sys.argv = ['omics-waiter', *{argv!r}]\n"
        "from omics_waiter._cli import main\n"
        "try:\n    main(prog_name='omics-waiter')\nexcept SystemExit:\n    pass"
    )
    heavy = {"aiohttp", "aiobotocore", "botocore.session", "omics_waiter._waiter"}
    heavy |= {"omics_waiter.testing"}
    loaded = modules_after(code)
    assert "click" in loaded  # the command really ran
    assert not heavy & loaded, sorted(heavy & loaded)
