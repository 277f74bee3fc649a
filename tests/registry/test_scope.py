"""The scope filter: prefix normalisation and index-friendly prefix ranges."""

from __future__ import annotations

from sqlalchemy.dialects import sqlite

from vigil.db.tables import channels
from vigil.registry.scope import Scope, prefix_upper_bound, region_prefix_clause


def test_prefixes_are_normalised_to_the_stored_form() -> None:
    scope = Scope(region_prefixes=("340200", "34020300", "3402", "340203"))
    assert scope.region_prefixes == ("3402", "340203")
    assert scope.covers("340202", None)
    assert scope.covers_region("34020301")
    assert not scope.covers("3401", None)
    assert Scope(region_prefixes=("x1",)).region_prefixes == ("x1",)


def test_prefix_upper_bounds() -> None:
    assert prefix_upper_bound("3402") == "3403"
    assert prefix_upper_bound("3409") == "341"
    assert prefix_upper_bound("3499") == "35"
    assert prefix_upper_bound("99") is None


def test_prefix_clause_is_a_range_for_digit_codes() -> None:
    sql = str(
        region_prefix_clause(channels.c.region_code, "340202").compile(
            dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert sql == "channels.region_code >= '340202' AND channels.region_code < '340203'"
    codes = ["34", "3402", "340201", "340202", "34020201", "340203", "3403"]
    inside = [code for code in codes if "340202" <= code < "340203"]
    assert inside == ["340202", "34020201"]
