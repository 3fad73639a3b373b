from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class RegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"
    verbose_name = "ClinicalTrials.gov registry"

    def ready(self):
        # Registry studies appear on public pages (the find page, our trials' pages): a change made through the ORM
        # (a reviewer hiding a study) invalidates cached pages, as content changes do (treatments/apps.py). The sync
        # writes in bulk, without signals, and invalidates once itself.
        from treatments.caching import content_changed

        for name in ("RegistryStudy", "RegistryLocation", "RegistryIntervention"):
            model = self.get_model(name)
            post_save.connect(content_changed, sender=model, dispatch_uid=f"cache-save-{model._meta.label}")
            post_delete.connect(content_changed, sender=model, dispatch_uid=f"cache-delete-{model._meta.label}")
