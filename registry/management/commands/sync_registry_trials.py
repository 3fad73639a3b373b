import datetime
import tempfile
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from registry.client import RegistryClient, RegistryError, file_pages, save_pages
from registry.sync import record_failure, sync_studies
from treatments.models import Trial


class Command(BaseCommand):
    help = (
        "Update the registry studies from ClinicalTrials.gov (API v2): the open mesothelioma studies, and the "
        "registry records of our own trials. One transaction: on any error nothing changes and the exit status is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-file",
            metavar="PATH",
            help="Read saved API pages instead of the network: one JSON document as the API returns it, "
            "or JSON Lines of pages (as --save writes them).",
        )
        parser.add_argument(
            "--save", metavar="PATH", help="Also keep the pages fetched from the network in this JSON Lines file."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be added, changed and closed; change nothing."
        )
        parser.add_argument(
            "--page-size", type=int, help="Studies per request, 1 to 1000 (default: REGISTRY_PAGE_SIZE)."
        )
        parser.add_argument(
            "--allow-empty",
            action="store_true",
            help="Accept results without any study, closing every open study (refused otherwise).",
        )

    def handle(self, *args, from_file=None, save=None, dry_run=False, page_size=None, allow_empty=False, **options):
        if from_file and save:
            raise CommandError("--save keeps pages fetched from the network; it cannot be used with --from-file.")
        if page_size is not None and not 1 <= page_size <= 1000:
            raise CommandError("--page-size must be between 1 and 1000.")
        started = timezone.now()
        source = f"file {Path(from_file).name}" if from_file else "ClinicalTrials.gov API v2"
        try:
            if from_file:
                result = sync_studies(
                    file_pages(from_file),
                    fetched_at=_saved_at(from_file),
                    source=source,
                    dry_run=dry_run,
                    allow_empty=allow_empty,
                )
            else:
                # The pages go to a file first: the transaction then lasts as long as the database work, not as
                # long as the registry takes to answer, and a network error comes before any change.
                client = RegistryClient(page_size=page_size)
                nct_ids = set(Trial.objects.exclude(nct_id="").values_list("nct_id", flat=True))
                with _pages_file(save) as path:
                    pages = save_pages(chain(client.search_pages(), client.id_pages(nct_ids)), path)
                    if options["verbosity"] >= 2:
                        self.stdout.write(f"Fetched {pages} page(s) in {client.requests_made} request(s).")
                    result = sync_studies(
                        file_pages(path), fetched_at=started, source=source, dry_run=dry_run, allow_empty=allow_empty
                    )
        except (RegistryError, DatabaseError) as error:
            message = " ".join(str(error).split())
            if not dry_run:
                try:
                    record_failure(source, started, message)
                except DatabaseError:
                    pass  # the database itself is what failed; the error below says so
            raise CommandError(f"Registry sync failed; nothing was changed. {message}") from error

        if dry_run:
            self.stdout.write(f"Dry run, nothing was changed. Would apply {result.summary()}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Registry sync: {result.summary()}."))
        if dry_run or options["verbosity"] >= 2:
            for label, ids in (("add", result.added), ("change", result.changed), ("close", result.closed)):
                if ids:
                    self.stdout.write(f"  {label}: {', '.join(ids)}")


@contextmanager
def _pages_file(save):
    if save:
        yield Path(save)
        return
    with tempfile.TemporaryDirectory(prefix="registry-sync-") as folder:
        yield Path(folder) / "pages.jsonl"


def _saved_at(path):
    """A saved file's data is as old as the file: its modification time is its fetch date."""
    try:
        return datetime.datetime.fromtimestamp(Path(path).stat().st_mtime, tz=datetime.UTC)
    except OSError as error:
        raise CommandError(f"Registry sync failed; nothing was changed. Cannot read {path}: {error.strerror}") from None
