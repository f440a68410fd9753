"""The root of the gateway's exception tree and the branches the pure layers raise.

They live in `domain` so that `domain` and `mappings`, which import nothing else of ours, can raise them;
`gateway.errors` re-exports them next to the branches that need I/O (upstream, delivery)."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    # A branch that also derives from KeyError must not print its message as a quoted repr (KeyError's own __str__).
    __str__ = Exception.__str__


class ConfigurationError(GatewayError):
    """Settings are missing or invalid: fix the environment or the TOML file."""


class InputError(GatewayError):
    """A value an operator or a caller gave (a period, a record kind) cannot be taken: fix the argument."""


class InvalidPeriod(InputError, ValueError):
    """Neither a month `YYYY-MM` nor a quarter `YYYY-Qn`. Also a ValueError, so a pydantic validator that parses a
    period (a scenario's `period`) reports it as a validation error of that field."""


class UnknownKind(InputError, KeyError):
    """No record kind of that name is registered (`gateway.domain.kinds`)."""


class UnknownScheme(ConfigurationError, KeyError):
    """A tenant names a scheme that is neither built in nor installed (entry-point group `tpp_gateway.schemes`)."""


class RuleRefusal(GatewayError):
    """Base of a scheme's verdict that a record does not count under one of its rules (caught inside the scheme
    and turned into an explanation line; it never reaches a caller)."""


__all__ = ["ConfigurationError", "GatewayError", "InputError", "InvalidPeriod", "RuleRefusal", "UnknownKind",
           "UnknownScheme"]
