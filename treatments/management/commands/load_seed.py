from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from treatments import loading
from treatments.models import Overview


class Command(BaseCommand):
    help = (
        "Load the seed content (fixtures/seed.json) into an empty database: the same as `loaddata seed`, in one "
        "transaction. Does nothing when content already exists, so editors' changes "
        "are never overwritten."
    )

    def handle(self, *args, **options):
        if Overview.objects.exists():
            self.stdout.write("Content already present; the seed was not loaded again.")
            return
        with transaction.atomic():
            call_command("loaddata", "seed", verbosity=options["verbosity"])
            # What the load does when it commits (history, revisions, search), done inside this transaction.
            loading.finish_now()
        self.stdout.write(self.style.SUCCESS("Seed content loaded."))
