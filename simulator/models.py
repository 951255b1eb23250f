"""The botocore service models this simulator serves: the wire contract, loaded once
per process and shared by the API (response shapes) and the scenario loader
(operations and parameters a scenario may call). Pure: reads files, never the network.
"""
from __future__ import annotations

from functools import lru_cache

SERVICES = ("sesv2", "pinpoint-email", "ses")


@lru_cache(maxsize=None)
def service_model(service: str):
    """A botocore service model, loaded once per process (parsing one takes ~0.1 s).

    Read with botocore's loader, not a session: a session reads the user's AWS
    configuration (an unknown AWS_PROFILE would stop the simulator), which the models
    do not depend on."""
    from botocore.loaders import Loader
    from botocore.model import ServiceModel

    return ServiceModel(Loader().load_service_model(service, "service-2"), service_name=service)


@lru_cache(maxsize=None)
def output_members(service: str, operation: str) -> frozenset[str]:
    """The output members the botocore model defines for an operation."""
    shape = service_model(service).operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


@lru_cache(maxsize=None)
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> operation name, for every operation of the service."""
    from botocore import xform_name

    return {xform_name(name): name for name in service_model(service).operation_names}


@lru_cache(maxsize=None)
def enum_values(service: str, shape_name: str) -> tuple[str, ...]:
    """The values of one of the model's enum shapes, e.g. sesv2 MailFromDomainStatus."""
    return tuple(service_model(service).shape_for(shape_name).enum)


def load_models(services=SERVICES) -> None:
    """Parse the service models at start-up, not inside the first requests."""
    for service in services:
        model = service_model(service)
        for operation in model.operation_names:
            output_members(service, operation)


@lru_cache(maxsize=None)
def error_codes(service: str) -> frozenset[str]:
    """The error codes a service's model defines."""
    return frozenset(shape.name for shape in service_model(service).error_shapes)


@lru_cache(maxsize=None)
def operation_error_codes(service: str, operation: str) -> frozenset[str]:
    """The error codes the model lists for one operation."""
    return frozenset(shape.name for shape in service_model(service).operation_model(operation).error_shapes)


def boto3_session():
    """A boto3 session for clients of the simulator: it ignores AWS_PROFILE (their
    credentials are dummies, and a profile that does not exist would stop every call)."""
    import boto3
    import botocore.session

    return boto3.session.Session(botocore_session=botocore.session.Session(
        session_vars={"profile": (None, None, None, None)}))
