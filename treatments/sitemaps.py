from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import SitemapIndexItem, x_robots_tag
from django.db.models import Max
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import http_date

from mesoinfo.context_processors import absolute_url

from .models import Drug, Overview, Trial


class SiteURLSitemap(Sitemap):
    """Addresses on SITE_URL, never on the request's Host header: a sitemap is cached and served to everyone."""

    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or super().get_protocol(protocol)

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc or super().get_domain(site)


class PublishedSitemap(SiteURLSitemap):
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


class PageSitemap(SiteURLSitemap):
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


@x_robots_tag
def sitemap_index(request, sitemaps, sitemap_url_name):
    """Django's sitemap index, with each sitemap's address on SITE_URL (Django's takes the request's host)."""
    items, latest = [], []
    for section, sitemap_class in sitemaps.items():
        sitemap = sitemap_class()
        url = absolute_url(request, reverse(sitemap_url_name, kwargs={"section": section}))
        lastmod = sitemap.get_latest_lastmod()
        latest.append(lastmod)
        items.append(SitemapIndexItem(url, lastmod))
        items += [SitemapIndexItem(f"{url}?p={page}", lastmod) for page in range(2, sitemap.paginator.num_pages + 1)]
    headers = {"Last-Modified": http_date(max(latest).timestamp())} if latest and None not in latest else None
    return TemplateResponse(
        request, "sitemap_index.xml", {"sitemaps": items}, content_type="application/xml", headers=headers
    )
