"""Must hold: 500 studies sync from a file in under 10 s, within a memory bound that does not grow with the results.

Runs on whichever database DATABASE_URL names (CI: SQLite and PostgreSQL). Times are measured with tracemalloc
running, which slows Python down: the real sync is faster. docs/deploy.md reports the figures.
"""

import pytest

from registry.models import RegistryLocation, RegistryStudy
from tests.registry.builders import api_study, paged, write_pages
from tests.registry.measure import measured_sync

pytestmark = pytest.mark.django_db

PAGE = 100
MEMORY_BOUND = 24 * 2**20  # bytes, for pages of 100 studies like these (about 3.5 KB of JSON each, 5 locations)


def studies_file(tmp_path, count, name):
    return write_pages(tmp_path / name, paged((api_study(n, cities=5) for n in range(count)), PAGE))


def test_500_studies_in_under_10_seconds_within_the_memory_bound(tmp_path):
    seconds, peak, out = measured_sync(studies_file(tmp_path, 500, "500.jsonl"))
    assert "500 studies on 5 page(s): 500 added" in out
    assert RegistryStudy.objects.count() == 500 and RegistryLocation.objects.count() == 2500
    assert seconds < 10, f"{seconds:.1f} s"
    assert peak < MEMORY_BOUND, f"peak {peak / 2**20:.1f} MiB"
    # The daily case: everything unchanged.
    seconds, peak, out = measured_sync(studies_file(tmp_path, 500, "again.jsonl"))
    assert "500 unchanged" in out and seconds < 10 and peak < MEMORY_BOUND


def test_memory_follows_the_page_not_the_number_of_studies(tmp_path):
    _, small, _ = measured_sync(studies_file(tmp_path, 200, "200.jsonl"))
    RegistryStudy.objects.all().delete()
    _, large, _ = measured_sync(studies_file(tmp_path, 1000, "1000.jsonl"))
    # Five times the studies: the peak grows by the per-study bookkeeping only (an id and a fingerprint each).
    assert large < small * 1.5, f"{small / 2**20:.1f} MiB for 200 studies, {large / 2**20:.1f} MiB for 1000"
