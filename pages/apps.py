from django.apps import AppConfig


class PagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pages"
    verbose_name = "Published pages"

    def ready(self):
        from editorial.workflow import live_changed

        from .publishing import pages_after_publish

        live_changed.connect(pages_after_publish, dispatch_uid="pages-after-publish")
