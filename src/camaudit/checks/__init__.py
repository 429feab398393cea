"""The checks, one module per family.  Importing this package registers every check in
``camaudit.checks.base.REGISTRY``; within a phase the engine runs them in registration order,
so the credential checks (which fill ``host.credentials``) come first, and the login-error
oracle runs after the lockout measurement."""

from camaudit.checks import (  # noqa: F401  # noqa: F401
    anonymous,
    cleartext,
    credentials,
    exposure,
    firmware,
    lifecycle,
    lockout,
    oracle,
    snmp,
    tls,
)
from camaudit.checks.base import REGISTRY

__all__ = ["REGISTRY"]
