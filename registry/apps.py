from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class RegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"
    verbose_name = "ClinicalTrials.gov registry"

    def ready(self):
        # Registry studies appear on public pages (the find page, our trials' pages): a study saved one by one (a
        # reviewer hiding it) invalidates cached pages, as content changes do (treatments/apps.py). The sync writes
        # in bulk, without signals, and invalidates once itself; its locations and interventions have no receivers,
        # so replacing them stays one DELETE.
        from treatments.caching import content_changed

        study = self.get_model("RegistryStudy")
        post_save.connect(content_changed, sender=study, dispatch_uid="cache-save-registry.RegistryStudy")
        post_delete.connect(content_changed, sender=study, dispatch_uid="cache-delete-registry.RegistryStudy")
