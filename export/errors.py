"""The export stage's errors are pipeport's public ones (pipeport.errors)."""

from pipeport.errors import ParityError, UnsupportedStepError

__all__ = ["ParityError", "UnsupportedStepError"]
