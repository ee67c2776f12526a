"""User-facing errors.

Every problem a user can fix (a bad config key, a missing dataset, a shape mismatch, a corrupt
checkpoint) is raised as a :class:`StableganError` carrying a one-line reason and a hint on how to
fix it. The CLI prints ``error: <reason>`` and ``hint: <fix>`` and exits with code 2; library users
catch the exception.
"""

from __future__ import annotations


class StableganError(Exception):
    """A problem the user can fix. ``str(err)`` is the one-line reason; ``err.hint`` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(StableganError):
    """An unknown key, a wrong type or an impossible value in a config."""


class DataError(StableganError):
    """Missing, empty, corrupt or unusable data."""


class ShapeError(StableganError):
    """A generator or discriminator whose shapes do not match the data."""


class CheckpointError(StableganError):
    """A checkpoint that is missing, truncated, unsafe or incompatible."""


class DivergenceError(StableganError):
    """Training produced non-finite values and could not be recovered."""


class HealthError(StableganError):
    """A training-health alarm named in ``health.fail_on`` fired; the run saved a checkpoint
    (holding the fired alarm, so a resume goes on without it firing again) and stopped."""

    def __init__(self, message: str, hint: str | None = None,
                 alarm: dict | None = None) -> None:
        super().__init__(message, hint)
        self.alarm = alarm or {}
