from django.core.management import call_command
from django.core.management.base import BaseCommand

from treatments.models import Overview


class Command(BaseCommand):
    help = (
        "Load the seed content (fixtures/seed.json) into an empty database. "
        "Does nothing when content already exists, so editors' changes are never overwritten."
    )

    def handle(self, *args, **options):
        if Overview.objects.exists():
            self.stdout.write("Content already present; the seed was not loaded again.")
            return
        call_command("loaddata", "seed", verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS("Seed content loaded."))
