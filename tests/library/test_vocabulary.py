"""The shared vocabulary: each word spelled once, agreeing with botocore, and the
package's layering (imports point down only; botocore stays in the transport)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import botocore.config
import pytest

import aiopersonalize
from aiopersonalize import (
    JOB_KIND_NAMES,
    ON_ERROR_POLICIES,
    RETRY_MODES,
    ChainKey,
    JobKindName,
    OnError,
    RetryMode,
)

PACKAGE = Path(aiopersonalize.__file__).resolve().parent
# The library's modules, lowest first: each may import only those before it.
LAYERS = (
    "_version",
    "_vocabulary",
    "_exceptions",
    "_redact",
    "_validation",
    "_accounts",
    "_models",
    "_wire",
    "_rate",
    "_telemetry",
    "_transport",
    "_paging",
    "_discovery",
    "_merge",
    "_client",
    "_inventory",
    "__init__",
)


def package_imports(module: str) -> set[str]:
    """The package's own modules that ``aiopersonalize/<module>.py`` imports (or the
    files of the subpackage ``aiopersonalize/<module>/``, through ``..``)."""
    if (PACKAGE / module).is_dir():
        found = set()
        for path in (PACKAGE / module).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 2:
                    found.add(node.module or "__init__")
        return found
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is not None:
                found.add(node.module)
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiopersonalize"):
            found.add((node.module or "").removeprefix("aiopersonalize").lstrip(".") or "__init__")
    return found


def test_each_literal_and_its_tuple_are_one_spelling() -> None:
    """The tuples the CLI offers as choices are exactly the literal types the API takes."""
    assert get_args(JobKindName) == JOB_KIND_NAMES
    assert get_args(OnError) == ON_ERROR_POLICIES
    assert get_args(RetryMode) == RETRY_MODES


def test_retry_modes_are_botocores() -> None:
    """The retry modes offered are exactly those botocore's Config accepts (it names
    them when refusing another)."""
    for mode in RETRY_MODES:
        botocore.config.Config(retries={"mode": mode})
    with pytest.raises(Exception, match="must be one of") as refused:
        botocore.config.Config(retries={"mode": "turbo"})
    accepted = ast.literal_eval(str(refused.value).rpartition("must be one of: ")[2])
    assert set(accepted) == set(RETRY_MODES)


def test_a_chain_key_is_its_plain_tuple() -> None:
    """A ChainKey equals and hashes as the plain ``(region, kind, arn)`` tuple, so resume
    mappings built either way agree."""
    arn = "arn:aws:personalize:us-east-1:123456789012:solution/s/v"
    key = ChainKey("us-east-1", "inference", arn)
    assert key == ("us-east-1", "inference", arn)
    assert {("us-east-1", "inference", arn): "t"}[key] == "t"
    assert key.solution_version_arn == arn
    # A chain of another account (a crawl of several) is its 4-tuple, and no other.
    other = ChainKey("us-east-1", "inference", arn, "210987654321")
    assert other == ("us-east-1", "inference", arn, "210987654321")
    assert {("us-east-1", "inference", arn, "210987654321"): "u"}[other] == "u"
    assert other != key
    assert ChainKey("us-east-1", "inference", arn, None) == key


@pytest.mark.parametrize("module", LAYERS)
def test_imports_point_down_only(module: str) -> None:
    """Each library module imports only modules below it in the layering (the CLI and
    the emulator are not the library's to import)."""
    below = set(LAYERS[: LAYERS.index(module)])
    imported = package_imports(module)
    assert imported <= below, imported - below


def test_botocore_names_stay_in_the_transport() -> None:
    """Only ``_transport`` imports botocore or aiobotocore (``_client`` may name their
    types for annotations only)."""
    offenders = []
    for path in PACKAGE.glob("_*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n.split(".")[0] in ("botocore", "aiobotocore") for n in names):
                offenders.append((path.stem, node.lineno))
    allowed = {"_transport"}
    # _client imports aiobotocore's types under TYPE_CHECKING, for its signatures.
    client_tree = ast.parse((PACKAGE / "_client.py").read_text())
    type_only = {
        node.lineno
        for block in ast.walk(client_tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom)
    }
    assert [
        (stem, line)
        for stem, line in offenders
        if stem not in allowed and not (stem == "_client" and line in type_only)
    ] == []
