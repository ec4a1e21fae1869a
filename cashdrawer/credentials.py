"""A user's API tokens end with their password and their account.

Every way a password changes ends in saving the user with a new hash: the password
change form, the admin's password form, `manage.py changepassword`, a reset, or code
that calls `set_password()` and `save()`. So the check sits on the model's save: the
hash as loaded (post_init) against the hash saved (post_save). A changed hash revokes all
the user's user tokens (not Django's own rehash of the same password to stronger
parameters at a login); a deactivation revokes them and the device tokens the user
issued. Both in the transaction of the save, and written to the audit trail.

Code that writes the password column past the model (`QuerySet.update(password=…)`)
is not seen; nothing in Cashdrawer does.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_init, post_save

from cashdrawer.authentication import revoke_user_tokens
from cashdrawer.models import ApiToken

User = get_user_model()
_LOADED = "_cashdrawer_loaded_credentials"


def _credentials(user: Any) -> tuple[str, bool]:
    return user.__dict__.get("password"), user.__dict__.get("is_active")


def _loaded(sender: Any, instance: Any, **kwargs: Any) -> None:
    setattr(instance, _LOADED, _credentials(instance))


def _saved(sender: Any, instance: Any, created: bool, update_fields=None, **kwargs: Any) -> None:
    before = getattr(instance, _LOADED, (None, None))
    now = _credentials(instance)
    setattr(instance, _LOADED, now)
    if created or before == now:
        return
    (old_password, was_active), (new_password, is_active) = before, now
    with transaction.atomic():
        if was_active and not is_active:
            revoke_user_tokens(user=instance, reason=ApiToken.RevokeReason.DEACTIVATED)
        elif (
            old_password is not None
            and new_password != old_password
            and not _rehashed(instance, update_fields)
        ):
            revoke_user_tokens(user=instance, reason=ApiToken.RevokeReason.PASSWORD_CHANGED)


def _rehashed(user: Any, update_fields: Any) -> bool:
    """Django's own upgrade of a hash to stronger parameters at login: the same password,
    saved alone without `set_password()` leaving its mark (AbstractBaseUser.check_password
    resets `_password` for exactly this: "hash upgrades shouldn't be considered password
    changes")."""
    return getattr(user, "_password", None) is None and set(update_fields or ()) == {"password"}


post_init.connect(_loaded, sender=User, dispatch_uid="cashdrawer.credentials.loaded")
post_save.connect(_saved, sender=User, dispatch_uid="cashdrawer.credentials.saved")
