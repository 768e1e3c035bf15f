"""The pure search rules: distance, the box an index can use, words, and what fits together."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from chore_common.errors import InvalidInput
from chore_tasks.domain.money import CURRENCIES, require_currency, require_same_currency
from chore_tasks.domain.search import (
    Near,
    Sort,
    bounding_box,
    check_search,
    haversine_km,
    query_terms,
    terms,
)

from .factories import NOW


def test_haversine_gives_known_distances() -> None:
    assert haversine_km(52.52, 13.405, 52.52, 13.405) == 0.0
    assert haversine_km(52.52, 13.405, 48.857, 2.352) == pytest.approx(878, abs=2)  # Berlin-Paris
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * 6371)


@pytest.mark.parametrize("seed", range(5))
def test_every_point_within_the_radius_is_inside_the_bounding_box(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        near = Near(rng.uniform(-80, 80), rng.uniform(-170, 170), rng.uniform(0.1, 500))
        lat = near.lat + rng.uniform(-5, 5)
        lon = near.lon + rng.uniform(-10, 10)
        box = bounding_box(near)
        if box is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        if haversine_km(near.lat, near.lon, lat, lon) <= near.radius_km:
            lat_min, lat_max, lon_min, lon_max = box
            assert lat_min <= lat <= lat_max, (near, lat, lon)
            assert lon_min <= lon <= lon_max, (near, lat, lon)


def test_a_box_over_a_pole_or_the_antimeridian_is_none() -> None:
    assert bounding_box(Near(89.9, 0, 50)) is None
    assert bounding_box(Near(0, 179.9, 50)) is None
    assert bounding_box(Near(52.5, 13.4, 50)) is not None


def test_words_are_letters_and_digits_lower_cased_once_each() -> None:
    assert terms("Walk-in  wardrobe, WALK_in room3 café") == (
        "walk",
        "in",
        "wardrobe",
        "room3",
        "café",
    )
    assert query_terms(None) == ()
    assert query_terms("   ") == ()
    with pytest.raises(InvalidInput) as caught:
        query_terms("?! --")
    assert caught.value.code == "q_without_words"
    with pytest.raises(InvalidInput) as caught:
        query_terms("a b c d e f g h i")
    assert caught.value.code == "q_too_many_words"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"sort": Sort.DISTANCE}, "sort_needs_near"),
        ({"sort": Sort.RELEVANCE}, "sort_needs_q"),
        ({"budget": (500, 400)}, "bad_range"),
        ({"due": (NOW, NOW)}, "bad_range"),
        ({"near": Near(90.1, 0, 5)}, "bad_near"),
        ({"near": Near(0, -180.1, 5)}, "bad_near"),
        ({"near": Near(0, 0, 0)}, "bad_radius"),
        ({"near": Near(0, 0, 501)}, "bad_radius"),
    ],
)
def test_parts_that_do_not_fit_together_are_refused(changes: dict[str, object], code: str) -> None:
    fields: dict[str, object] = {
        "sort": Sort.NEWEST,
        "near": None,
        "words": (),
        "budget": (None, None),
        "due": (None, None),
    }
    with pytest.raises(InvalidInput) as caught:
        check_search(**{**fields, **changes})  # type: ignore[arg-type]
    assert caught.value.code == code


def test_fitting_parts_pass() -> None:
    check_search(
        sort=Sort.DISTANCE,
        near=Near(52.5, 13.4, 10),
        words=("paint",),
        budget=(400, 400),
        due=(NOW, NOW + timedelta(seconds=1)),
    )


def test_currencies_are_iso_codes_and_an_offer_keeps_its_task_currency() -> None:
    assert {"EUR", "USD", "GBP", "JPY", "CHF"} <= CURRENCIES
    assert all(len(c) == 3 and c.isupper() for c in CURRENCIES)
    assert require_currency("JPY") == "JPY"
    for bad in ("eur", "EURO", "XXX", ""):
        with pytest.raises(InvalidInput):
            require_currency(bad)
    assert require_same_currency(None, "JPY") == "JPY"
    assert require_same_currency("JPY", "JPY") == "JPY"
    with pytest.raises(InvalidInput) as caught:
        require_same_currency("EUR", "JPY")
    assert caught.value.code == "currency_mismatch"
