"""Domain errors: a stable machine code and a human message.

`DomainError` subclasses are rules of the domain that forbid an action now (the API
answers 409). `InvalidInput` is input that can never be right, tied to a field (400).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from cashdrawer.money import FIGURE_LIMIT, format_amount


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


class DiscrepancyNeedsConfirmation(DomainError):
    """A counted close whose difference passes the location's threshold: the closer
    confirms it with a note before it is booked. Carries the figures, which the API
    answers as strings beside the code (never to a blind closer: they are not asked)."""

    code = "discrepancy_needs_confirmation"

    def __init__(
        self,
        *,
        expected: Decimal,
        counted: Decimal,
        end_discrepancy: Decimal,
        total_discrepancy: Decimal,
        threshold: Decimal,
        currency: str,
    ) -> None:
        self.expected = expected
        self.counted = counted
        self.end_discrepancy = end_discrepancy
        self.total_discrepancy = total_discrepancy
        self.threshold = threshold
        self.currency = currency
        super().__init__(self._message())

    def _message(self) -> str:
        figures = {
            "counted": format_amount(self.counted, self.currency),
            "expected": format_amount(self.expected, self.currency),
            "difference": format_amount(abs(self.end_discrepancy), self.currency),
            "total": format_amount(self.total_discrepancy, self.currency),
            "threshold": format_amount(self.threshold, self.currency),
        }
        if abs(self.end_discrepancy) > self.threshold:
            text = (
                _(
                    "Counted %(counted)s against expected %(expected)s: %(difference)s short, "
                    "more than the threshold of %(threshold)s. Confirm with a note to close."
                )
                if self.end_discrepancy < 0
                else _(
                    "Counted %(counted)s against expected %(expected)s: %(difference)s over, "
                    "more than the threshold of %(threshold)s. Confirm with a note to close."
                )
            )
        else:
            text = _(
                "The total discrepancy of this session, with its start discrepancy, is "
                "%(total)s, more than the threshold of %(threshold)s. Confirm with a note "
                "to close."
            )
        return text % figures

    def figures(self) -> dict[str, str]:
        """The figures as the API answers them: strings with the currency's places."""
        return {
            "expected_cash": format_amount(self.expected, self.currency),
            "counted_cash": format_amount(self.counted, self.currency),
            "end_discrepancy": format_amount(self.end_discrepancy, self.currency),
            "total_discrepancy": format_amount(self.total_discrepancy, self.currency),
            "threshold": format_amount(self.threshold, self.currency),
        }


class DiscrepancyNoteNotNeeded(DomainError):
    code = "discrepancy_note_not_needed"

    def default_message(self) -> str:
        return _(
            "This session's count is within the location's threshold: there is nothing to explain."
        )


class DiscrepancyAlreadyExplained(DomainError):
    code = "discrepancy_already_explained"

    def default_message(self) -> str:
        return _("This session's discrepancy has been explained already.")
