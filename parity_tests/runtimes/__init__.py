"""Adapters that run a pipeport ONNX file in a non-Python runtime (Node.js, a browser), and the
two ways one can fail: not installed here (RuntimeUnavailable) or ran and failed (RuntimeFailed)."""


class RuntimeUnavailable(RuntimeError):
    """The runtime is not installed here (no node, no clients/node_modules, no chromium, ...).

    The message says what is missing and the command that installs it. Tests treat it as a
    skip on a developer's machine and as a failure in CI, where every runtime must be present.
    """


class RuntimeFailed(RuntimeError):
    """The runtime ran and refused the input or crashed; `stderr` holds what it said."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(f"{message}\n{stderr}".rstrip())
        self.stderr = stderr
