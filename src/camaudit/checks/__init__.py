"""The checks, one module per family.  Importing this package registers every check in
``camaudit.checks.base.REGISTRY``; within a phase the engine runs them in registration order,
so the credential checks (which fill ``host.credentials``) come first."""

from camaudit.checks import credentials  # noqa: F401  (default-, then weak-credentials)
from camaudit.checks import anonymous, cleartext, firmware, lockout, snmp  # noqa: F401
from camaudit.checks.base import REGISTRY

__all__ = ["REGISTRY"]
