"""camaudit: security assessment of surveillance cameras, NVRs and DVRs."""

__version__ = "0.1.0"
