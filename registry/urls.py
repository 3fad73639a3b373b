from django.urls import path

from treatments.caching import cache_public_page

from . import views

app_name = "registry"

# The page reads its filters from the query string: they are part of its cache key.
FIND_PARAMETERS = ("page", "phase", "status", "country", "intervention")

urlpatterns = [
    path(
        "clinical-trials/find/",
        cache_public_page(views.find_trials, params=FIND_PARAMETERS),
        name="find",
    ),
]
