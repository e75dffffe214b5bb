"""A price override dated in the future is refused: nobody read a price on a day to come."""

from __future__ import annotations

import datetime

import pytest

from workbench.cost.prices import PriceCatalogError, apply_overrides, load_prices

ENTRY = """
[[api]]
provider = "acme"
model = "chat-9"
input_usd_per_mtok = 0.1
output_usd_per_mtok = 0.2
source = "a quote"
as_of = "{as_of}"
"""


def _write(tmp_path, as_of: datetime.date):
    path = tmp_path / "overrides.toml"
    path.write_text(ENTRY.format(as_of=as_of.isoformat()), encoding="utf-8")
    return path


def test_an_override_dated_next_month_is_refused_naming_the_column(tmp_path):
    """as_of a month ahead: refused, naming the file, the entry and `as_of`."""
    later = datetime.date.today() + datetime.timedelta(days=31)
    path = _write(tmp_path, later)

    with pytest.raises(PriceCatalogError, match=r"\[\[api\]\] entry 1, column `as_of`: .* future"):
        apply_overrides(load_prices(), path)


def test_an_override_dated_today_is_accepted(tmp_path):
    """as_of today is the freshest a price can be."""
    path = _write(tmp_path, datetime.date.today())

    catalog = apply_overrides(load_prices(), path)

    assert catalog.api_price("acme", "chat-9").as_of == datetime.date.today().isoformat()
