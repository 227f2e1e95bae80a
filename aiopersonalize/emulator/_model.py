"""Amazon Personalize's service model, read once from botocore's data files.

The model is the source of truth for operation names, member names, constraints and
error lists; the emulator reads it rather than copying constants.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

__all__ = ["ACCOUNT_ID", "CONTENT_TYPE", "SERVICE_NAME", "service_model", "target_prefix"]

SERVICE_NAME = "personalize"
CONTENT_TYPE = "application/x-amz-json-1.1"
# The account every emulated resource belongs to (the one AWS documentation uses).
ACCOUNT_ID = "123456789012"


@functools.cache
def service_model() -> Any:
    """The parsed ``personalize`` service model (a ``botocore.model.ServiceModel``)."""
    loaded = Loader().load_service_model(SERVICE_NAME, "service-2")
    return ServiceModel(loaded, service_name=SERVICE_NAME)


def target_prefix() -> str:
    """The ``X-Amz-Target`` prefix, ``AmazonPersonalize``."""
    prefix: str = service_model().metadata["targetPrefix"]
    return prefix
