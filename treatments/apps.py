from django.apps import AppConfig, apps
from django.db.models.signals import m2m_changed, post_delete, post_save


class TreatmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "treatments"
    verbose_name = "Treatment content"

    def ready(self):
        # Cached public pages are invalidated by any change to what they show: content,
        # references, glossary, reviewers (their names appear on pages).
        from .caching import content_changed

        for model in apps.get_models():
            opts = model._meta
            if opts.app_label in {"treatments", "references"} and not opts.model_name.startswith("historical"):
                if opts.model_name in {"searchdocument", "pagecachegeneration"}:
                    continue
                post_save.connect(content_changed, sender=model, dispatch_uid=f"cache-save-{opts.label}")
                post_delete.connect(content_changed, sender=model, dispatch_uid=f"cache-delete-{opts.label}")
        post_save.connect(_user_saved, sender="auth.User", dispatch_uid="cache-save-user")
        m2m_changed.connect(_m2m_changed, dispatch_uid="cache-m2m")
        # Scheduled go-live times travel with the generation (treatments/caching.py).
        from editorial.workflow import schedule_changed as schedule_signal

        from .caching import schedule_changed

        schedule_signal.connect(schedule_changed, dispatch_uid="cache-schedule")
        # Content loaded with loaddata is finished (history, revisions, search) when the load commits.
        from . import loading

        loading.connect()


def _user_saved(update_fields=None, **kwargs):
    """Reviewers' names appear on pages; a login (which saves only last_login) changes nothing a page shows."""
    from .caching import content_changed

    if update_fields is None or set(update_fields) != {"last_login"}:
        content_changed()


def _m2m_changed(sender, instance, action, **kwargs):
    from .caching import content_changed

    if action.startswith("post_") and instance._meta.app_label in {"treatments", "references"}:
        content_changed()
