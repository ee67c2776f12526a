"""Atomic run-directory writes (defined in :mod:`stablegan.core.files`, below every user)."""

from stablegan.core.files import (
    RunDirectoryError,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    describe_os_error,
    remove_stale_temporaries,
    run_dir_error,
)

__all__ = ["RunDirectoryError", "atomic_write", "atomic_write_bytes", "atomic_write_text",
           "describe_os_error", "remove_stale_temporaries", "run_dir_error"]
