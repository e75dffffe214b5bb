"""The dated price catalog: the shipped rows, bad files, staleness and user overrides."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from workbench.cost import (
    PriceCatalog,
    PriceCatalogError,
    PriceNotFoundError,
    StalePriceWarning,
    apply_overrides,
    load_prices,
    stale_prices,
    stale_rows,
)
from workbench.cost.prices import (
    API_COLUMNS,
    INSTANCE_COLUMNS,
    load_api_prices,
    load_currencies,
    load_instance_prices,
)
from workbench.devices import load_devices

CURRENCIES = (
    "currency,usd_per_unit,source,as_of,notes\n"
    "USD,1,definition,2026-11-01,\n"
    "EUR,1.2,a made-up rate,2026-11-01,\n"
)
API_HEADER = ",".join(API_COLUMNS)
INSTANCE_HEADER = ",".join(INSTANCE_COLUMNS)
API_ROWS = (
    "acme,chat-1,0.10,0.40,USD,https://acme.example/pricing,2026-10-01,\n"
    "acme,chat-2,0.20,0.80,USD,https://acme.example/pricing,2026-01-01,old row\n"
)
INSTANCE_ROWS = (
    "cloudco,gpu.small,NVIDIA T4,1,4,16,0.50,eu-1,t4,USD,https://cloudco.example,2026-10-01,\n"
)
TODAY = datetime.date(2026, 11, 29)


def write_catalog(folder: Path, api: str = API_ROWS, instances: str = INSTANCE_ROWS) -> Path:
    """A small price folder: USD and EUR, two API rows, one instance row."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "currencies.csv").write_text(CURRENCIES, encoding="utf-8")
    (folder / "api_tokens.csv").write_text(f"{API_HEADER}\n{api}", encoding="utf-8")
    (folder / "instances.csv").write_text(f"{INSTANCE_HEADER}\n{instances}", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------------------------
# The shipped catalog


def test_shipped_catalog_has_enough_api_rows_and_providers():
    """At least 8 API models from at least 4 providers."""
    catalog = load_prices()

    assert len(catalog.api) >= 8
    assert len({provider for provider, _ in catalog.api}) >= 4


def test_shipped_catalog_includes_open_weight_hosts():
    """Hosts of open-weight models (Together, Groq, Fireworks, DeepSeek) are priced too."""
    providers = {provider for provider, _ in load_prices().api}

    assert providers & {"together", "groq", "fireworks", "deepseek"}


def test_shipped_catalog_has_enough_instances_including_hugging_face():
    """At least 8 instance offerings from at least 3 providers, Hugging Face among them."""
    catalog = load_prices()
    providers = {provider for provider, _ in catalog.instances}

    assert len(catalog.instances) >= 8
    assert len(providers) >= 3
    assert "huggingface" in providers


def test_every_shipped_row_has_a_source_and_a_date():
    """Each API, instance and currency row names its source and a valid as_of."""
    for row in load_prices().rows():
        assert row.source.strip(), row.label
        datetime.date.fromisoformat(row.as_of)


def test_shipped_instance_devices_are_in_the_device_catalog():
    """An instance's `device` names a row of data/devices.csv (or is empty)."""
    devices = load_devices()

    for row in load_prices().instances.values():
        assert row.device == "" or row.device in devices, row.label


# --------------------------------------------------------------------------------------------
# Bad catalogs


def test_missing_column_names_the_file_and_the_column(tmp_path):
    """A header without output_usd_per_mtok is refused, naming the file and the column."""
    folder = write_catalog(tmp_path)
    path = folder / "api_tokens.csv"
    path.write_text(
        "provider,model,input_usd_per_mtok,currency,source,as_of\n"
        "acme,chat-1,0.1,USD,src,2026-01-01\n",
        encoding="utf-8",
    )

    with pytest.raises(PriceCatalogError, match="output_usd_per_mtok") as caught:
        load_api_prices(path, load_currencies(folder / "currencies.csv"))
    assert str(path) in str(caught.value)


def test_negative_price_names_file_row_and_column(tmp_path):
    """A negative output price is refused at its row and column."""
    bad = "acme,chat-1,0.10,-0.40,USD,src,2026-10-01,\n"
    folder = write_catalog(tmp_path, api=API_ROWS + bad)

    with pytest.raises(PriceCatalogError) as caught:
        load_prices(folder)
    message = str(caught.value)
    assert str(folder / "api_tokens.csv") in message
    assert "row 3" in message and "`output_usd_per_mtok`" in message and "negative" in message


def test_non_numeric_price_names_file_row_and_column(tmp_path):
    """A price written with a currency sign is not a number; the message says how to write it."""
    bad = "cloudco,gpu.big,NVIDIA L4,1,4,16,$0.80,eu-1,l4,USD,src,2026-10-01,\n"
    folder = write_catalog(tmp_path, instances=INSTANCE_ROWS + bad)

    with pytest.raises(PriceCatalogError) as caught:
        load_prices(folder)
    message = str(caught.value)
    assert str(folder / "instances.csv") in message
    assert "row 2" in message and "`usd_per_hour`" in message and "plain number" in message


def test_unknown_currency_names_the_row_and_the_currency_table(tmp_path):
    """A price in XYZ is refused until currencies.csv lists XYZ."""
    bad = "acme,chat-3,0.10,0.40,XYZ,src,2026-10-01,\n"
    folder = write_catalog(tmp_path, api=API_ROWS + bad)

    with pytest.raises(PriceCatalogError) as caught:
        load_prices(folder)
    message = str(caught.value)
    assert "row 3" in message and "`currency`" in message and "'XYZ'" in message
    assert "currencies.csv" in message


def test_empty_source_is_refused(tmp_path):
    """Every price needs the place it was read from."""
    bad = "acme,chat-3,0.10,0.40,USD,,2026-10-01,\n"
    folder = write_catalog(tmp_path, api=API_ROWS + bad)

    with pytest.raises(PriceCatalogError, match="source"):
        load_prices(folder)


def test_a_price_in_another_currency_is_converted_to_usd(tmp_path):
    """0.10 EUR at 1.2 USD per EUR is 0.12 USD, and the row remembers the listing."""
    row = "acme,chat-eu,0.10,0.50,EUR,src,2026-10-01,\n"
    folder = write_catalog(tmp_path, api=row)

    price = load_prices(folder).api_price("acme", "chat-eu")

    assert price.input_usd_per_mtok == pytest.approx(0.12)
    assert price.output_usd_per_mtok == pytest.approx(0.60)
    assert (price.listed_currency, price.usd_per_listed_unit) == ("EUR", 1.2)


def test_instance_rows_load_with_optional_figures_empty(tmp_path):
    """A CPU instance may leave accelerator, vcpus, memory and device empty."""
    row = "cloudco,cpu.small,,0,,,0.05,eu-1,,USD,src,2026-10-01,\n"
    folder = write_catalog(tmp_path, instances=row)

    price = load_instance_prices(
        folder / "instances.csv", load_currencies(folder / "currencies.csv")
    )[("cloudco", "cpu.small")]

    assert (price.accelerator_count, price.vcpus, price.device) == (0, None, "")


# --------------------------------------------------------------------------------------------
# Look-ups


def test_unknown_api_model_suggests_a_close_name(tmp_path):
    """A misspelt model is refused with the closest catalog names."""
    catalog = load_prices(write_catalog(tmp_path))

    with pytest.raises(PriceNotFoundError, match="Did you mean 'chat-1'"):
        catalog.api_price("acme", "chat1")


def test_unknown_instance_suggests_a_close_name(tmp_path):
    """A misspelt instance is refused with the closest catalog names."""
    catalog = load_prices(write_catalog(tmp_path))

    with pytest.raises(PriceNotFoundError, match=r"Did you mean 'gpu\.small'"):
        catalog.instance_price("gpu.smal")


# --------------------------------------------------------------------------------------------
# Staleness


def test_stale_rows_lists_rows_older_than_the_age_on_a_fixed_day(tmp_path):
    """On 2026-11-29 with 180 days allowed, only the 2026-01-01 row (332 days) is stale."""
    catalog = load_prices(write_catalog(tmp_path))

    table = stale_rows(180, TODAY, catalog=catalog)

    assert list(table["key"]) == ["acme/chat-2"]
    assert int(table["age_days"].iloc[0]) == 332


def test_a_larger_age_limit_leaves_no_stale_rows(tmp_path):
    """With 400 days allowed nothing in the small catalog is stale."""
    catalog = load_prices(write_catalog(tmp_path))

    assert catalog.stale_rows(400, TODAY).empty


def test_using_a_stale_row_warns_naming_it(tmp_path):
    """stale_prices warns with StalePriceWarning naming the row and its date."""
    catalog = load_prices(write_catalog(tmp_path))
    rows = [catalog.api_price("acme", "chat-1"), catalog.api_price("acme", "chat-2")]

    with pytest.warns(StalePriceWarning, match=r"api:acme/chat-2 .*as_of 2026-01-01"):
        found = stale_prices(rows, 180, TODAY)

    assert [item.label for item in found] == ["api:acme/chat-2"]


# --------------------------------------------------------------------------------------------
# Overrides


OVERRIDES = """
[[api]]
provider = "acme"
model = "chat-1"
input_usd_per_mtok = 0.05
output_usd_per_mtok = 0.20
source = "our contract, schedule B"
as_of = 2026-11-01

[[api]]
provider = "newco"
model = "tiny"
input_usd_per_mtok = 0.01
output_usd_per_mtok = 0.02
currency = "EUR"
source = "a quote"
as_of = "2026-11-15"
"""


def test_overrides_replace_rows_with_the_same_key(tmp_path):
    """acme/chat-1 takes the override's price, source and file."""
    catalog = load_prices(write_catalog(tmp_path / "prices"))
    path = tmp_path / "overrides.toml"
    path.write_text(OVERRIDES, encoding="utf-8")

    price = apply_overrides(catalog, path).api_price("acme", "chat-1")

    assert price.input_usd_per_mtok == pytest.approx(0.05)
    assert (price.source, price.as_of, price.origin) == (
        "our contract, schedule B",
        "2026-11-01",
        str(path),
    )


def test_overrides_add_new_rows(tmp_path):
    """newco/tiny is added, converted from EUR; the catalog's other rows stay."""
    path = tmp_path / "overrides.toml"
    path.write_text(OVERRIDES, encoding="utf-8")

    catalog = load_prices(write_catalog(tmp_path / "prices"), overrides=path)

    assert catalog.api_price("newco", "tiny").input_usd_per_mtok == pytest.approx(0.012)
    assert ("acme", "chat-2") in catalog.api
    assert len(catalog.api) == 3


def test_override_without_source_is_refused(tmp_path):
    """An override must say where its price comes from."""
    path = tmp_path / "overrides.toml"
    path.write_text(
        '[[instances]]\nprovider = "cloudco"\nname = "gpu.small"\nusd_per_hour = 0.4\n'
        'as_of = "2026-11-01"\n',
        encoding="utf-8",
    )

    with pytest.raises(PriceCatalogError, match=r"\[\[instances\]\] entry 1, column `source`"):
        load_prices(write_catalog(tmp_path / "prices"), overrides=path)


def test_override_with_an_unknown_field_suggests_the_right_one(tmp_path):
    """A misspelt column in an override is named with the closest real one."""
    path = tmp_path / "overrides.toml"
    path.write_text(
        '[[api]]\nprovider = "acme"\nmodel = "chat-1"\ninput_usd_per_mtoken = 0.1\n'
        'output_usd_per_mtok = 0.1\nsource = "s"\nas_of = "2026-11-01"\n',
        encoding="utf-8",
    )

    with pytest.raises(PriceCatalogError, match="Did you mean 'input_usd_per_mtok'"):
        load_prices(write_catalog(tmp_path / "prices"), overrides=path)


def test_catalog_round_trips_through_a_dict(tmp_path):
    """What to_dict saves, from_dict loads back equal."""
    catalog = load_prices(write_catalog(tmp_path))

    assert PriceCatalog.from_dict(catalog.to_dict()) == catalog
