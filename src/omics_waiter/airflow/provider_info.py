"""What ``airflow providers list`` shows for omics-waiter.

Airflow reads it through the ``apache_airflow_provider`` entry point; importing this module
loads neither Airflow nor anything beyond what ``import omics_waiter`` loads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider's description, in the shape of Airflow's ``provider_info.schema.json``."""
    from importlib.metadata import version

    return {
        "package-name": "omics-waiter",
        "name": "AWS HealthOmics (omics-waiter)",
        "description": (
            "Deferrable operators and sensors for AWS HealthOmics whose triggers share one "
            "waiter per triggerer: every wait of a process in one request budget."
        ),
        "versions": [version("omics-waiter")],
        "integrations": [
            {
                "integration-name": "AWS HealthOmics",
                "external-doc-url": "https://aws.amazon.com/healthomics/",
                "tags": ["aws"],
            }
        ],
        "operators": [
            {
                "integration-name": "AWS HealthOmics",
                "python-modules": ["omics_waiter.airflow.operators"],
            }
        ],
        "sensors": [
            {
                "integration-name": "AWS HealthOmics",
                "python-modules": ["omics_waiter.airflow.sensors"],
            }
        ],
        "triggers": [
            {
                "integration-name": "AWS HealthOmics",
                "python-modules": ["omics_waiter.airflow.triggers"],
            }
        ],
    }
