import pytest

from hotspot.apps import categories
from hotspot.apps.categories import CategoriesError


def test_shipped_list_loads_and_matches_by_longest_suffix():
    cats = categories.load()
    assert set(cats.by_category()) == set(categories.CATEGORIES)
    assert all(cats.by_category().values())  # every category has domains
    assert cats.match("rr3---sn-abc.googlevideo.com.") == "video"
    assert cats.match("WWW.YouTube.com") == "video"
    assert cats.match("maps.google.com") == "maps"
    assert cats.match("google.com") is None
    assert cats.match("evilyoutube.com") is None  # a suffix match is on whole labels


def test_every_mistake_is_reported_with_its_line():
    text = "cdn.example.com\n[video]\nexample.com\n[films]\nnot a domain\n[social]\nexample.com\n"
    with pytest.raises(CategoriesError) as e:
        categories.parse(text, "cats")
    assert str(e.value).splitlines() == [
        "cats:1: 'cdn.example.com' is not under a [category]",
        "cats:4: unknown category '[films]' (one of video, social, messaging, maps, backup, updates, games)",
        "cats:5: 'not a domain' is not under a [category]",
        "cats:7: example.com is already in [video] (line 3)",
    ]
    with pytest.raises(CategoriesError, match="cannot read"):
        categories.load("/nonexistent/categories.conf")
