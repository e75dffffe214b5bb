"""URLs are recorded without their user:password@ part."""

from __future__ import annotations

from workbench.kit.errors import describe
from workbench.kit.urls import has_userinfo, redact_urls, without_userinfo


def test_userinfo_is_stripped_and_the_rest_kept():
    """User and password go; scheme, host, port, path and query stay."""
    assert (
        without_userinfo("https://me:p%40ss@api.example.com:8443/v1?x=1")
        == "https://api.example.com:8443/v1?x=1"
    )
    assert without_userinfo("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


def test_has_userinfo_tells_a_url_with_credentials():
    """Only a URL with a user part is said to carry credentials."""
    assert has_userinfo("https://user:pass@host/v1")
    assert not has_userinfo("https://host/v1")


def test_every_url_in_a_message_loses_its_password():
    """A message naming two URLs keeps both without their credentials."""
    text = "tried http://a:secret1@h1/v1 then https://b:secret2@h2:9/v1/x, both refused"

    assert redact_urls(text) == "tried http://h1/v1 then https://h2:9/v1/x, both refused"


def test_an_error_shown_to_the_user_holds_no_password():
    """The CLI's one-paragraph error never prints a URL's password."""
    message = describe(ConnectionError("cannot reach http://user:hunter22@127.0.0.1:9/v1"))

    assert "hunter22" not in message
    assert "http://127.0.0.1:9/v1" in message
