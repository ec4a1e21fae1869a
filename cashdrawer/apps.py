from django.apps import AppConfig


class CashdrawerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cashdrawer"
    verbose_name = "Stores and registers"
