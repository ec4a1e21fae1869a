"""Domain errors: a stable machine code and a human message.

`DomainError` subclasses are rules of the domain that forbid an action now (the API
answers 409). `InvalidInput` is input that can never be right, tied to a field (400).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from cashdrawer.money import FIGURE_LIMIT


class CashdrawerError(Exception):
    code = "error"
    status = 409

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message()
        if code:
            self.code = code
        super().__init__(self.message)

    def default_message(self) -> str:
        return _("This action is not allowed now.")


class DomainError(CashdrawerError):
    status = 409


class SessionAlreadyOpen(DomainError):
    code = "session_already_open"

    def default_message(self) -> str:
        return _("This register already has an open session.")


class SessionClosed(DomainError):
    code = "session_closed"

    def default_message(self) -> str:
        return _("This session is closed; a closed session never changes.")


class SessionNotClosed(DomainError):
    code = "session_not_closed"

    def default_message(self) -> str:
        return _("Only a closed session can be corrected.")


class MainSessionNotOpen(DomainError):
    code = "main_session_not_open"

    def default_message(self) -> str:
        return _("Open the main register's session first.")


class SubSessionsOpen(DomainError):
    code = "sub_sessions_open"


class CashTrackingOff(DomainError):
    code = "cash_tracking_off"

    def default_message(self) -> str:
        return _("Cash tracking is switched off for this register.")


class InvalidInput(CashdrawerError):
    """Input that is wrong whatever the state: the API answers 400 with the field named."""

    status = 400
    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


class LimitExceeded(DomainError):
    """A session's figure would pass what its database column holds."""

    code = "limit_exceeded"

    def default_message(self) -> str:
        return _(
            "This would take the session's figures past %(limit)s, the most Cashdrawer "
            "stores for one session. Close the session and go on in a new one."
        ) % {"limit": FIGURE_LIMIT}


class InsufficientCash(DomainError):
    code = "insufficient_cash"

    def default_message(self) -> str:
        return _("There is not that much cash in the drawer.")
