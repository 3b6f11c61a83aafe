"""The controller's error with what to do about it, and the exit code for the CLI."""

from __future__ import annotations


class RigError(RuntimeError):
    """A lifecycle failure with what to do about it; ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
