"""What importing a part of sync_core loads: the DynamoDB adapters never pull in the Salesforce client."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.template_info import REPO

SALESFORCE_CLIENT_MODULES = ("simple_salesforce", "requests", "jwt")


def _loaded_after(statement: str) -> set[str]:
    """Which of the Salesforce client's modules a fresh interpreter has loaded after `statement`."""
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {SALESFORCE_CLIENT_MODULES!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO / 'layers' / 'sync_core'}:{REPO}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "from sync_core.adapters.dynamodb.salesforce_budget import DynamoApiBudgetStore",
        "import pkgutil, importlib, sync_core.adapters.dynamodb as pkg\n"
        "for found in pkgutil.iter_modules(pkg.__path__): importlib.import_module(f'{pkg.__name__}.{found.name}')",
        "import sync_core.adapters.factories",
        "import sync_core.adapters.salesforce",  # the package alone: its names load on first use
    ],
)
def test_importing_dynamodb_adapters_never_loads_the_salesforce_client(statement: str) -> None:
    assert _loaded_after(statement) == set()


def test_the_salesforce_package_still_offers_its_client_when_asked() -> None:
    loaded = _loaded_after("from sync_core.adapters.salesforce import SalesforceClient, build_salesforce_client")
    assert loaded == set(SALESFORCE_CLIENT_MODULES)
