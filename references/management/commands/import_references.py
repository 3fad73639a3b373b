import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from references.importing import FORMAT_NAMES, FORMATS, decode, detect_format, parse, plan_import, reference_import

PROGRESS_FROM = 500  # records; smaller files import without a progress display


class Progress:
    """Progress on stderr: one line rewritten in place on a terminal, a few plain lines otherwise."""

    def __init__(self, stream, enabled):
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last_shown = 0.0

    def step(self, message):
        if self.enabled:
            self._write(message, final=True)

    def update(self, label, done, total):
        if not self.enabled:
            return
        final = done >= total
        now = time.monotonic()
        if self.tty and (final or now - self.last_shown > 0.2):
            self._write(f"{label}: {done}/{total}", final=final)
            self.last_shown = now
        elif not self.tty and (final or done * 10 // total != (done - 1) * 10 // total):
            self._write(f"{label}: {done}/{total}", final=True)

    def _write(self, text, final):
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K" + ("\n" if final else ""), style_func=str, ending="")
        else:
            self.stream.write(text, style_func=str)
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import references from a MEDLINE/PubMed (.nbib), RIS or BibTeX file. Records already present "
        "(same PMID, DOI, or title and year) are skipped; malformed records are listed with their record "
        "number and line. Exit code 0 when every record was imported or already present, 1 when some were "
        "rejected, 2 when the file cannot be read at all."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("file", help="The file to import, or - to read standard input.")
        parser.add_argument("--format", choices=FORMATS, help="The file's format (detected when not given).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would happen; change nothing.")
        parser.add_argument(
            "--strict", action="store_true", help="Import nothing if any record is rejected (default: import the rest)."
        )

    def handle(self, *args, **options):
        name, text = self.read(options["file"], options.get("stdin"))
        try:
            fmt = options["format"] or detect_format(text)
            records = parse(text, fmt)
        except ValueError as error:
            raise CommandError(f"{name}: {error} Nothing was imported.", returncode=2) from error
        if not records:
            raise CommandError(f"{name}: no references found in this {FORMAT_NAMES[fmt]} file.", returncode=2)

        progress = Progress(self.stderr, enabled=len(records) >= PROGRESS_FROM)
        progress.step(f"Read {len(records)} records; checking them against the database…")
        plan = plan_import(records)

        dry_run, strict = options["dry_run"], options["strict"]
        held_back = strict and plan.rejected
        created = []
        if not dry_run and not held_back and plan.new:
            try:
                created = reference_import(plan, progress=lambda done, total: progress.update("Importing", done, total))
            except ValueError as error:
                raise CommandError(str(error), returncode=2) from error

        self.report(name, fmt, plan, len(plan.new) if dry_run else len(created), dry_run, held_back, options)
        if plan.rejected:
            raise CommandError(f"{len(plan.rejected)} record(s) rejected.", returncode=1)

    def read(self, path, stdin=None):
        if path == "-":
            stream = stdin or sys.stdin
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
            name = "standard input"
        else:
            try:
                data = Path(path).read_bytes()
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error.strerror or error}.", returncode=2) from error
            name = path
        if isinstance(data, str):
            return name, data.lstrip("\ufeff")
        try:
            return name, decode(data)
        except ValueError as error:
            raise CommandError(f"{name}: {error}", returncode=2) from error

    def report(self, name, fmt, plan, created, dry_run, held_back, options):
        verbose = options["verbosity"] >= 2
        self.stdout.write(f"{name}: {plan.total} {FORMAT_NAMES[fmt]} record(s).")
        if verbose:
            lines = [(item.record.index, f"new {item.key}") for item in plan.new]
            lines += [(item.record.index, f"already present as {item.reference.key} (same {item.rule})")
                      for item in plan.existing]  # fmt: skip
            for index, text in sorted(lines):
                self.stdout.write(f"  record {index}: {text}")
        summary = plan.summary(created=created)
        if dry_run:
            summary += " (dry run: nothing was saved)"
        elif held_back:
            summary += f" (--strict: nothing imported; {len(plan.new)} would have been created)"
        style = self.style.WARNING if plan.rejected else self.style.SUCCESS
        self.stdout.write(style(summary))
        if plan.rejected:
            self.stdout.write("Rejected:")
            for item in plan.rejected:
                title = f" “{item.record.label(50)}”" if item.record.fields.get("title") else ""
                self.stdout.write(f"  {item.record.where()}{title}: {item.reason}")
