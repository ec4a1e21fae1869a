from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
    verbose_name = "Cash tracking"

    def ready(self) -> None:
        from sessions_app.triggers import harden_trigger_ignore

        # After every app's migrations: a later one may reinstall pgtrigger's function.
        post_migrate.connect(harden_trigger_ignore, dispatch_uid="harden_trigger_ignore")
