"""envfarm's one error tree.

Every error envfarm raises on purpose derives from :class:`EnvfarmError`, so a caller can catch the
whole family, one branch, or one leaf. Messages name the record, file, line and field where they can.

::

    EnvfarmError
    ├── ConfigError                 bad settings, flags or environment variables
    ├── InputError                  bad user input (records, files, patches)
    │   ├── RecordError             one record is malformed: names file, line/index, field
    │   ├── FileFormatError         a whole file cannot be read (missing, truncated, wrong format)
    │   └── PatchError              a patch is not a safe unified diff, or does not apply
    ├── StoreError                  the task or record store cannot do what was asked
    │   └── NotFoundError           no such task, record, environment or job
    ├── SandboxError                environments and the in-environment runtime
    │   ├── SandboxUnavailable      no bubblewrap (and no explicit unsafe opt-in)
    │   ├── RuntimeUnreachable      the runtime does not answer (connect/read failure)
    │   ├── CommandTimeout          a command ran past its time limit
    │   ├── OutputTooLarge          a response or file is over its size limit
    │   ├── RuntimeAuthError        the runtime answered 401
    │   ├── RuntimeRequestError     the runtime refused a request (path outside the workspace, no such file)
    │   └── EnvBuildError           building an environment (venv, workspace) failed
    │       ├── InterpreterMissing  the Python version a task needs is not on this machine
    │       └── RepoNotCached       the task's repository is neither cached nor fetchable
    ├── VerifyError                 a verifier could not produce a verdict
    ├── HarvestError                the harvester failed on a source
    │   └── GitHubError             the GitHub API answered with an error
    │       └── RateLimited         primary or secondary rate limit (carries the wait)
    ├── ClusterError                Kubernetes API or kubesim trouble
    │   └── ApiError                an API call failed with a status code
    └── PolicyError                 a policy endpoint or model failed
        ├── PolicyUnavailable       the endpoint did not answer, or kept failing, after retries
        └── ContextLengthExceeded   the conversation no longer fits the model's context
"""

from __future__ import annotations


class EnvfarmError(Exception):
    """Root of every error envfarm raises on purpose."""


class ConfigError(EnvfarmError):
    """Bad settings, flags or environment variables."""


class InputError(EnvfarmError):
    """Bad user input."""


class RecordError(InputError):
    """One record is malformed. The message names where: file, line (or index) and field."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None, field: str = "") -> None:
        self.source = source
        self.line = line
        self.field = field
        self.reason = message
        where = source
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class FileFormatError(InputError):
    """A whole input file cannot be read."""


class PatchError(InputError):
    """A patch is not a safe unified diff, or does not apply."""


class StoreError(EnvfarmError):
    """The task or record store cannot do what was asked."""


class NotFoundError(StoreError):
    """No such task, record, environment or job."""


class SandboxError(EnvfarmError):
    """Environments and the in-environment runtime."""


class SandboxUnavailable(SandboxError):
    """No bubblewrap on this machine (and no explicit unsafe opt-in)."""


class RuntimeUnreachable(SandboxError):
    """The runtime inside an environment does not answer."""


class CommandTimeout(SandboxError):
    """A command ran past its time limit."""


class OutputTooLarge(SandboxError):
    """A response or file is over its size limit."""


class RuntimeAuthError(SandboxError):
    """The runtime refused the request's token (HTTP 401)."""


class RuntimeRequestError(SandboxError):
    """The runtime refused a request; ``code`` says why (``path_outside``, ``not_found`` ...)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class EnvBuildError(SandboxError):
    """Building an environment failed; ``log`` holds the build log's tail."""

    def __init__(self, message: str, *, log: str = "") -> None:
        self.log = log
        super().__init__(message)


class InterpreterMissing(EnvBuildError):
    """The Python version a task needs is not installed on this machine."""


class RepoNotCached(EnvBuildError):
    """The task's repository is not in the cache and cannot be fetched."""


class VerifyError(EnvfarmError):
    """A verifier could not produce a verdict."""


class HarvestError(EnvfarmError):
    """The harvester failed on a source."""


class GitHubError(HarvestError):
    """The GitHub API answered with an error."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class RateLimited(GitHubError):
    """A primary or secondary rate limit; ``wait_s`` says how long to wait."""

    def __init__(self, message: str, *, status: int = 403, wait_s: float = 60.0) -> None:
        self.wait_s = wait_s
        super().__init__(message, status=status)


class ClusterError(EnvfarmError):
    """Kubernetes API or kubesim trouble."""


class ApiError(ClusterError):
    """An API call failed with a status code."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class PolicyError(EnvfarmError):
    """A policy endpoint or model failed."""


class PolicyUnavailable(PolicyError):
    """The policy endpoint did not answer, or kept failing, after its retries (an infrastructure failure)."""


class ContextLengthExceeded(PolicyError):
    """The conversation no longer fits the model's context: the rollout ends truncated."""
