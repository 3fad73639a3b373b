from django.core.management.base import BaseCommand

from editorial.workflow import publish_due


class Command(BaseCommand):
    help = (
        "Publish every approved change whose go-live time has come. Page requests already do this on time; "
        "run it from cron (e.g. every minute) where pages may go unrequested for a while, so that feeds, "
        "sitemaps and search engines see the change at once. Safe to run from several servers at the same time."
    )

    def handle(self, *args, **options):
        count = publish_due()
        if options["verbosity"]:
            self.stdout.write(f"Published {count} scheduled change(s)." if count else "Nothing was due.")
