"""Django's database sessions, remembering the end the stored session had when it was read.

SessionRefreshMiddleware moves a login's end along with each request. Written on every
request, that was a transaction with an UPDATE of the session row (BEGIN, UPDATE, COMMIT:
three round trips and a WAL flush) on every page a person opened, and a dead row left
behind each time. Knowing the stored end, the middleware writes only when the end would
move by more than REFRESH_STEP: a login still ends SESSION_IDLE_HOURS after the last
request, to the minute.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.backends import db

# How far the stored end may lag behind "the idle hours from now" before it is written.
REFRESH_STEP = dt.timedelta(minutes=1)


class SessionStore(db.SessionStore):
    stored_expiry: dt.datetime | None = None

    def _get_session_from_db(self):
        stored = super()._get_session_from_db()
        self.stored_expiry = stored.expire_date if stored is not None else None
        return stored

    def needs_refresh(self) -> bool:
        """Whether the stored end is more than REFRESH_STEP behind the end a save now
        would give it (always, for a session not read from the database)."""
        if self.stored_expiry is None:
            return True
        return self.get_expiry_date() - self.stored_expiry > REFRESH_STEP
