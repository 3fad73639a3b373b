import json

from django.core.management.base import BaseCommand, CommandError

from references.integrity import ERROR, check_citations


class Command(BaseCommand):
    help = (
        "Check every citation on the site: unknown keys, uncited or duplicate-looking references, "
        "and cited references missing what a citation needs. Exits non-zero when there are errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        findings = check_citations()
        errors = [f for f in findings if f.level == ERROR]
        if options["format"] == "json":
            report = {"errors": len(errors), "findings": [finding.as_dict() for finding in findings]}
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for finding in findings:
                style = self.style.ERROR if finding.level == ERROR else self.style.WARNING
                where = f" [{finding.field}]" if finding.field else ""
                link = f"  {finding.admin_url}" if finding.admin_url else ""
                self.stdout.write(style(f"{finding.level.upper()} {finding.category}: {finding.object}{where} "
                                        f"{finding.message}.{link}"))  # fmt: skip
            warnings = len(findings) - len(errors)
            self.stdout.write(f"{len(errors)} error(s), {warnings} warning(s).")
        if errors:
            raise CommandError(f"{len(errors)} citation error(s) found.", returncode=1)
