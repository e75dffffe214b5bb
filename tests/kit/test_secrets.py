"""The secret scan finds a credential however a file wrote it: HTML, CSV, JSON, a URL."""

from __future__ import annotations

import json

import pandas as pd

from workbench.kit.secrets import contains_secret

SECRET = "sk-a&b<c>\"d'e"  # every character HTML, CSV and JSON escape


def test_secret_in_a_table_written_as_html_is_found():
    """A table cell holding the secret, written by pandas as HTML (&amp;, &lt;), is found."""
    html = pd.DataFrame({"note": [f"key {SECRET} used"]}).to_html()

    assert SECRET not in html  # the plain value is not there to find
    assert contains_secret(html, SECRET)


def test_secret_in_a_table_written_as_csv_is_found():
    """A table cell holding the secret, written as CSV (quotes doubled), is found."""
    csv = pd.DataFrame({"note": [f"key {SECRET} used"]}).to_csv(index=False)

    assert SECRET not in csv
    assert contains_secret(csv, SECRET)


def test_secret_in_json_inside_html_is_found():
    """JSON text (escaped quotes) put into an HTML page (escaped again) still gives it away."""
    page = "<pre>" + json.dumps({"k": SECRET}).replace("&", "&amp;").replace("<", "&lt;") + "</pre>"

    assert contains_secret(page, SECRET)


def test_percent_encoded_secret_is_found():
    """A secret in a URL's query, percent-encoded, is found."""
    assert contains_secret("https://h/v1?key=sk-a%26b%3Cc%3E%22d%27e", SECRET)


def test_text_without_the_secret_passes():
    """Text holding other values (even parts of the secret) is not flagged."""
    assert not contains_secret("sk-a and b<c, &amp; d", SECRET)
    assert not contains_secret("anything", "")


def test_the_run_stores_scan_names_a_credential_written_as_html(monkeypatch):
    """The scan that guards runs and published folders finds an API key in the environment
    inside an HTML table, and names the variable, never the value."""
    from workbench.runs.credentials import credential_in

    monkeypatch.setenv("OPENAI_API_KEY", SECRET + "0123456789")
    page = pd.DataFrame({"note": [f"key {SECRET}0123456789 used"]}).to_html()

    assert credential_in(page) == "OPENAI_API_KEY"
    assert credential_in("nothing here") is None
