"""Date the records of the seed fixtures: each live record carries `last_published_at`, the day its content last
changed, so that `loaddata` gives every page its "Last updated" date (and the date its research is judged by).

Run it after editing fixtures/seed.json, and commit the dates it writes:

    .venv/bin/python tools/fixture_dates.py                        # records changed since the last commit
    .venv/bin/python tools/fixture_dates.py --changed-since main   # records changed since a branch or commit
    .venv/bin/python tools/fixture_dates.py --check                # exit 1 if it would change anything

A live record ("status": "published") of a publishable model gets DATE (--date, default today in UTC) when it has
no date yet, or when its content differs from the same record at the git revision --changed-since (default HEAD):
its own fields, or its parts (a trial's outcome rows, a regimen's drugs, an overview's "Read next" links). Every
other record keeps its date. Medical reviews are never dated here: a medical reviewer records them in the admin.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ("fixtures/seed.json",)
DATE_FIELD = "last_published_at"
# Kept by the editorial workflow, not content: a difference in them alone is not a change to date.
NOT_CONTENT = {DATE_FIELD, "reviewed_by", "reviewed_on", "review_due", "version"}


def setup_django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mesoinfo.settings")
    os.environ.setdefault("DEBUG", "1")  # settings need no secrets then; nothing here touches a database
    import django

    django.setup()


def structure():
    """({publishable model label}, {part model label: (owner label, foreign key name)})"""
    from django.apps import apps

    from editorial import registry

    publishable = {model._meta.label_lower for model in registry.publishable_models()}
    parts = {}
    for label in publishable:
        owner = apps.get_model(label)
        for part in registry.entry_for(owner).parts:
            relation = owner._meta.get_field(part)
            parts[relation.related_model._meta.label_lower] = (label, relation.field.name)
    return publishable, parts


def fingerprints(records, publishable, parts):
    """{(model, pk): the record's content, parts included, as comparable JSON} for the publishable records."""
    content = {}
    for record in records:
        model = record["model"].lower()
        if model in publishable:
            fields = {k: v for k, v in record["fields"].items() if k not in NOT_CONTENT}
            content.setdefault((model, record["pk"]), {"parts": []})["fields"] = fields
    for record in records:
        model = record["model"].lower()
        if model in parts:
            owner, key = parts[model]
            fields = {k: v for k, v in record["fields"].items() if k != key}
            entry = content.setdefault((owner, record["fields"][key]), {"parts": []})
            entry["parts"].append([model, record.get("pk"), fields])
    return {key: json.dumps(value, sort_keys=True) for key, value in content.items()}


def committed(path, revision):
    """The fixture's records at a git revision ([] where it did not exist)."""
    shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        if "exists on disk, but not in" in shown.stderr or "does not exist in" in shown.stderr:
            return []
        raise SystemExit(f"git show {revision}:{path} failed: {shown.stderr.strip()}")
    return json.loads(shown.stdout)


def with_date(fields, value):
    """The fields with the date set, placed after "status" (where a reader of the fixture looks for it)."""
    dated = {}
    for name, field_value in fields.items():
        if name == DATE_FIELD:
            continue
        dated[name] = field_value
        if name == "status":
            dated[DATE_FIELD] = value
    if DATE_FIELD not in dated:
        dated[DATE_FIELD] = value
    return dated


def date_records(records, before, date, publishable, parts):
    """Set the date on the live records that have none, or whose content differs from `before`; returns their
    (model, pk) keys."""
    now, then = fingerprints(records, publishable, parts), fingerprints(before, publishable, parts)
    value = f"{date.isoformat()}T00:00:00Z"
    dated = []
    for record in records:
        key = (record["model"].lower(), record["pk"])
        fields = record["fields"]
        if key[0] not in publishable or fields.get("status") != "published":
            continue
        if fields.get(DATE_FIELD) and now.get(key) == then.get(key):
            continue
        if fields.get(DATE_FIELD) == value:
            continue
        record["fields"] = with_date(fields, value)
        dated.append(key)
    return dated


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", type=datetime.date.fromisoformat, default=datetime.datetime.now(datetime.UTC).date())
    parser.add_argument("--changed-since", default="HEAD", metavar="REVISION")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would be dated")
    args = parser.parse_args(argv)
    setup_django()
    publishable, parts = structure()
    would_change = False
    for path in FIXTURES:
        text = (ROOT / path).read_text(encoding="utf-8")
        records = json.loads(text)
        dated = date_records(records, committed(path, args.changed_since), args.date, publishable, parts)
        for model, pk in dated:
            print(f"{path}: {model} {pk} dated {args.date}")
        if dated and not args.check:
            (ROOT / path).write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        would_change |= bool(dated)
    if args.check and would_change:
        print("Run tools/fixture_dates.py to date these records, and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
