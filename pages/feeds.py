"""Atom feeds of the notes for readers that came with published versions: one per page, one for the site."""

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.utils.feedgenerator import Atom1Feed

from mesoinfo.context_processors import absolute_url

from .models import Page, PageVersion
from .views import page_title

FEED_LENGTH = 50


class SiteUpdatesFeed(Feed):
    feed_type = Atom1Feed
    title = "MesoInfo: latest updates"
    subtitle = "What changed on our pages, newest first. Minor corrections are not listed."

    def __call__(self, request, *args, **kwargs):
        self.request = request
        return super().__call__(request, *args, **kwargs)

    # Absolute from SITE_URL (mesoinfo.context_processors.absolute_url): the feed never names the host it was asked by.
    def link(self):
        return absolute_url(self.request, "/")

    def feed_url(self):
        return absolute_url(self.request, self.request.path)

    def items(self):
        return (
            PageVersion.objects.filter(listed=True)
            .select_related("page", "content")
            .order_by("-went_live_at")[:FEED_LENGTH]
        )

    def item_title(self, version):
        return f"{page_title(version)}: {'; '.join(version.listed_notes)}"

    def item_description(self, version):
        return " ".join(version.listed_notes)

    def item_link(self, version):
        return absolute_url(self.request, version.page.path)

    def item_guid(self, version):
        return absolute_url(self.request, f"{version.page.path}#update-{version.number}")

    item_guid_is_permalink = False

    def item_pubdate(self, version):
        return version.went_live_at

    def item_updateddate(self, version):
        return version.went_live_at


class PageUpdatesFeed(SiteUpdatesFeed):
    def get_object(self, request, slug):
        page = Page.objects.filter(path=f"/treatment/{slug}/").select_related("current__content").first()
        if page is None or page.current is None or page.current.is_gone:
            raise Http404
        return page

    def title(self, page):
        return f"{page_title(page.current)}: updates to this page"

    def link(self, page):
        return absolute_url(self.request, page.path)

    def items(self, page):
        return (
            page.versions.filter(listed=True).select_related("page", "content").order_by("-went_live_at")[:FEED_LENGTH]
        )

    def item_title(self, version):
        return "; ".join(version.listed_notes)
