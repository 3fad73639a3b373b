from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from editorial.registry import publishable_models
from editorial.workflow import record_first_versions
from treatments.caching import content_changed
from treatments.models import Overview, Status
from treatments.search import rebuild_index


def start_history(since):
    """Give every loaded record one first history entry.

    loaddata bypasses save(), so most records get none, while setting many-to-many
    fields records partial ones; those partial entries (made since `since`) are replaced.
    """
    for model in apps.get_models():
        history = getattr(model, "history", None)
        if history is None or not hasattr(history, "bulk_history_create"):
            continue
        history.filter(history_date__gte=since).delete()
        recorded = history.values_list(model._meta.pk.attname, flat=True)
        missing = list(model.objects.exclude(pk__in=recorded))
        if missing:
            history.bulk_history_create(missing, default_change_reason="Seed content loaded")


class Command(BaseCommand):
    help = (
        "Load the seed content (fixtures/seed.json, glossary.json and questions.json) into an empty database, "
        "date its publication and start its history and revisions. Does nothing when content already exists, so "
        "editors' changes are never overwritten."
    )

    def handle(self, *args, **options):
        if Overview.objects.exists():
            self.stdout.write("Content already present; the seed was not loaded again.")
            return
        with transaction.atomic():
            started = timezone.now()
            call_command("loaddata", "seed", "glossary", "questions", verbosity=options["verbosity"])
            # The seed goes live on this site now; its medical review stays empty until a reviewer records one.
            now = timezone.now()
            for model in publishable_models():
                model.objects.filter(status=Status.PUBLISHED, last_published_at__isnull=True).update(
                    last_published_at=now
                )
            start_history(since=started)
            record_first_versions()  # live version 1 of each record
            rebuild_index()
            content_changed()  # queryset updates above send no signals
        self.stdout.write(self.style.SUCCESS("Seed content loaded."))
