from django.apps import AppConfig


class CashdrawerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cashdrawer"
    verbose_name = "Stores and registers"

    def ready(self) -> None:
        # Connects the receivers that record logins, failed logins and logouts.
        # Revokes a user's API tokens when their password changes or they are deactivated.
        from cashdrawer import (
            audit,  # noqa: F401
            credentials,  # noqa: F401
        )
