from django.contrib.sitemaps import Sitemap
from django.db.models import Max
from django.urls import reverse

from .models import Drug, Overview, Trial


class PublishedSitemap(Sitemap):
    """Published content only, dated by its last published change."""

    model = None

    def items(self):
        return self.model.objects.published().order_by("pk")

    def lastmod(self, obj):
        return obj.last_published_at

    def get_latest_lastmod(self):
        # For the sitemap index: one aggregate query, not every item loaded to call lastmod() on it.
        return self.items().aggregate(latest=Max("last_published_at"))["latest"]


class OverviewSitemap(PublishedSitemap):
    model = Overview
    priority = 1.0


class DrugSitemap(PublishedSitemap):
    model = Drug


class TrialSitemap(PublishedSitemap):
    model = Trial


class PageSitemap(Sitemap):
    def items(self):
        return [
            "treatments:home",
            "treatments:drug-list",
            "treatments:trial-list",
            "treatments:glossary",
            "registry:find",
        ]

    def location(self, item):
        return reverse(item)


SITEMAPS = {"pages": PageSitemap, "overviews": OverviewSitemap, "drugs": DrugSitemap, "trials": TrialSitemap}
