"""Restore a backup made by backup_content: all or nothing.

Meant for an empty migrated database (`manage.py migrate`, then this command). It refuses when
content is already there, unless --force, which deletes the current content and its history
first (user accounts are kept, and updated from the backup). Everything happens in one
transaction: a damaged or incompatible file changes nothing. Afterwards the search index is
rebuilt and cached pages are invalidated.
"""

import json
import re
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from treatments import loading
from treatments.caching import content_changed
from treatments.models import SearchDocument
from treatments.search import rebuild_index

from .backup_content import ACCOUNT_MODELS, backup_models, content_models, content_tables, describe

_UNSET = object()


@contextmanager
def history_recording_off():
    """loaddata sets many-to-many fields, which django-simple-history would record as new history
    entries; the backup already holds the real history."""
    previous = getattr(settings, "SIMPLE_HISTORY_ENABLED", _UNSET)
    settings.SIMPLE_HISTORY_ENABLED = False
    try:
        yield
    finally:
        if previous is _UNSET:
            del settings.SIMPLE_HISTORY_ENABLED
        else:
            settings.SIMPLE_HISTORY_ENABLED = previous


def read_backup(path):
    """The backup's records, checked to be a content backup; CommandError with the reason otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CommandError(f"No such file: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from error
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{path} is not a complete backup: invalid JSON at line {error.lineno}, column {error.colno} "
            f"({error.msg}). The file may be truncated or damaged. Nothing was restored."
        ) from error
    if not isinstance(records, list):
        raise CommandError(f"{path} is not a backup made by backup_content (expected a list of records).")
    allowed = {model._meta.label_lower for model in backup_models()}
    for number, record in enumerate(records, 1):
        if not (
            isinstance(record, dict) and isinstance(record.get("model"), str) and isinstance(record.get("fields"), dict)
        ):
            raise CommandError(f"{path}: record {number} is damaged (no model or fields). Nothing was restored.")
        if record["model"].lower() not in allowed:
            raise CommandError(
                f"{path}: record {number} is a {record['model']!r}, which a content backup never holds. "
                "Nothing was restored."
            )
    if not any(record["model"].lower() not in ACCOUNT_MODELS for record in records):
        raise CommandError(f"{path} holds no content. Nothing was restored.")
    return records


def account_conflicts(records):
    """Users in the backup whose id or user name belongs to a different user here."""
    users = {record["pk"]: record["fields"].get("username") for record in records if record["model"] == "auth.user"}
    User = get_user_model()
    conflicts = []
    for pk, username in User.objects.filter(pk__in=users).values_list("pk", "username"):
        if users[pk] != username:
            conflicts.append(f"user id {pk} is {username!r} here but {users[pk]!r} in the backup")
    by_name = {username: pk for pk, username in users.items()}
    for username, pk in User.objects.filter(username__in=by_name).values_list("username", "pk"):
        if by_name[username] != pk:
            conflicts.append(f"user {username!r} has id {pk} here but {by_name[username]} in the backup")
    return conflicts


def existing_content():
    """{model verbose name: count} for the content already in the database."""
    counts = {}
    for model in content_models():
        count = model._base_manager.count()
        if count:
            counts[str(model._meta.verbose_name_plural)] = count
    return counts


def delete_content():
    """Empty every content, history and search table in one statement per table (inside the caller's transaction)."""
    # PostgreSQL refuses to TRUNCATE a table with foreign-key checks still pending in this transaction
    # (content written earlier in it): run those checks now.
    connection.check_constraints()
    statements = connection.ops.sql_flush(no_style(), content_tables(), reset_sequences=False, allow_cascade=False)
    connection.ops.execute_sql_flush(statements)


class Command(BaseCommand):
    help = (
        "Restore a backup made by backup_content into a migrated database, all or nothing; then rebuild the "
        "search index and invalidate cached pages. Refuses if content already exists, unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A JSON file written by backup_content.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Delete all current content and its history first (user accounts are kept and updated).",
        )

    def handle(self, *args, file, force=False, **options):
        path = Path(file)
        records = read_backup(path)
        conflicts = account_conflicts(records)
        if conflicts:
            raise CommandError(
                "The backup's user accounts clash with accounts in this database ("
                + "; ".join(conflicts[:5])
                + "). Restore into a newly migrated database, before creating any account. Nothing was restored."
            )
        existing = existing_content()
        if existing and not force:
            summary = ", ".join(f"{count} {name}" for name, count in list(existing.items())[:6])
            raise CommandError(
                f"This database already has content ({summary}). Restore into an empty migrated database, or "
                "pass --force to delete the current content and its history first. Nothing was restored."
            )
        try:
            with tempfile.TemporaryDirectory() as folder, transaction.atomic(), history_recording_off():
                if force:
                    delete_content()
                # loaddata resolves natural keys and forward references and resets id sequences.
                fixture = Path(folder) / "restore.json"
                fixture.write_text(json.dumps(records), encoding="utf-8")
                with loading.as_it_is():  # a backup holds the history and revisions too: nothing is added
                    call_command("loaddata", str(fixture), verbosity=0)
                connection.check_constraints()  # now, not at commit, so a bad reference fails inside this block
                SearchDocument.objects.all().delete()
                indexed = rebuild_index()
                content_changed()
        except Exception as error:
            # loaddata names its (temporary) fixture file; the reason is what matters.
            reason = re.sub(r"^Problem installing fixtures?(?: '[^']*')?: ", "", str(error))
            raise CommandError(f"Restore failed, so nothing was changed: {reason}") from error
        # The page-cache generation may have restarted with the database; clear pages cached from its former life.
        cache.clear()
        if not options["verbosity"]:
            return
        counts = Counter(apps.get_model(record["model"])._meta.label for record in records)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {describe(counts)} from {path}. Search index rebuilt ({indexed} documents); "
                "cached pages invalidated."
            )
        )
