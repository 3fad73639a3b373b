from django.core.management.base import BaseCommand

from treatments.search import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the search index from the content (needed after loaddata, which bypasses save())."

    def handle(self, *args, **options):
        self.stdout.write(f"Indexed {rebuild_index()} object(s).")
