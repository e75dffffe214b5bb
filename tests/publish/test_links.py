"""Dashboard links: a query string read into typed values with a message for each setting that
cannot be used, links written back, and the page's query read in Voilà with and without preheat."""

from __future__ import annotations

import asyncio
import json
import threading
from urllib.parse import urlsplit

import pytest

from workbench.publish.links import (
    MAX_QUERY_CHARS,
    QUERY_KEY_ENV,
    LinkParameter,
    LinkValues,
    decision_parameters,
    federated_parameters,
    link_for,
    page_query,
    parse_query,
    read_page_link,
)

PARAMETERS = (
    LinkParameter("scenario", "Scenario", choices=("support_chatbot", "document_search")),
    LinkParameter("requests_per_month", "Requests / month", low=100, high=1e9),
    LinkParameter("input_tokens", "Input tokens", low=1, high=8192, whole=True),
    LinkParameter("quality_floor", "Quality floor", low=0, high=1),
)


# -- parsing --------------------------------------------------------------------------------------


def test_good_values_come_back_typed_with_no_message():
    """A scenario name, a volume, a whole token count and a floor read as str, float, int, float."""
    link = parse_query(
        "?scenario=document_search&requests_per_month=200000&input_tokens=300&quality_floor=0.7",
        PARAMETERS,
    )

    assert link.values == {
        "scenario": "document_search",
        "requests_per_month": 200000.0,
        "input_tokens": 300,
        "quality_floor": 0.7,
    }
    assert isinstance(link.values["input_tokens"], int)
    assert link.messages == ()


def test_numbers_may_be_written_with_an_exponent_or_thousands_separators():
    """2e5 and 200,000 both read as 200000; 300.0 is a whole number of tokens."""
    link = parse_query("requests_per_month=2e5&input_tokens=300.0", PARAMETERS)
    same = parse_query("requests_per_month=200%2C000", PARAMETERS)

    assert link.values == {"requests_per_month": 200000.0, "input_tokens": 300}
    assert same.values == {"requests_per_month": 200000.0}


def test_an_empty_query_asks_for_nothing():
    """None, "" and "?" give no values and no message (and a false LinkValues)."""
    links = [parse_query(q, PARAMETERS) for q in (None, "", "?")]

    assert links == [LinkValues()] * 3
    assert not any(links)


def test_an_unknown_name_is_named_with_what_the_dashboard_accepts():
    """One message names the unknown setting and lists the accepted ones; the rest is used."""
    link = parse_query("scenario=support_chatbot&colour=crimson-7", PARAMETERS)

    assert link.values == {"scenario": "support_chatbot"}
    (message,) = link.messages
    assert "'colour'" in message and "crimson-7" not in message
    assert "scenario, requests_per_month, input_tokens, quality_floor" in message


def test_an_unknown_scenario_lists_the_scenarios():
    """A scenario not in the catalog is refused with every accepted name."""
    link = parse_query("scenario=chatbot", PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert message.startswith("`scenario` (Scenario) in the page's address must be one of")
    assert "support_chatbot, document_search" in message and "'chatbot'" in message


@pytest.mark.parametrize("text", ["lots", "nan", "inf", "-inf", "0x10", "1e999", "", " "])
def test_a_value_that_is_not_a_number_is_refused_with_the_range(text):
    """Words, NaN, infinities, hex and empty values are no volume; the message gives the range."""
    link = parse_query(f"requests_per_month={text}", PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert "`requests_per_month` (Requests / month)" in message
    assert "a number from 100 to 1,000,000,000" in message


@pytest.mark.parametrize(
    ("query", "accepts"),
    [
        ("requests_per_month=50", "a number from 100 to 1,000,000,000"),
        ("quality_floor=1.5", "a number from 0 to 1"),
        ("input_tokens=-3", "a whole number from 1 to 8,192"),
        ("input_tokens=2.5", "a whole number from 1 to 8,192"),
    ],
)
def test_a_number_out_of_range_or_not_whole_is_refused(query, accepts):
    """Below the range, above it, or a fraction where a whole number is needed: one message."""
    link = parse_query(query, PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert accepts in message and "got '" in message


def test_a_setting_given_twice_is_not_used():
    """Which of two volumes was meant is unclear: neither is used, and the message says so."""
    link = parse_query("requests_per_month=1000&requests_per_month=2000", PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert "`requests_per_month` (Requests / month) is given 2 times" in message
    assert "give it once" in message


def test_the_token_and_voilas_own_parameters_are_never_settings_nor_echoed():
    """token, template and theme (given once or twice) are skipped without a word."""
    query = "token=s3cret-token&token=other&template=lab&theme=dark&scenario=support_chatbot"

    link = parse_query(query, PARAMETERS)

    assert link.values == {"scenario": "support_chatbot"}
    assert link.messages == ()


def test_the_token_is_not_echoed_even_beside_unknown_settings():
    """Unknown names are listed by name only: no value, and the token not at all."""
    link = parse_query("token=s3cret-token&colour=s3cret-token", PARAMETERS)

    assert "s3cret-token" not in " ".join(link.messages)
    assert "'token'" not in " ".join(link.messages)


def test_a_very_long_value_is_cut_short_in_the_message():
    """A 10,000-character value is quoted by its first characters only."""
    link = parse_query("scenario=" + "x" * 3000, PARAMETERS)

    (message,) = link.messages
    assert len(message) < 400
    assert "x" * 40 + "…'" in message


def test_an_address_longer_than_a_link_needs_is_refused_whole():
    """Past MAX_QUERY_CHARS nothing is used and one message says why, listing what is accepted."""
    query = "scenario=support_chatbot&" + "&".join(f"p{i}=1" for i in range(MAX_QUERY_CHARS))

    link = parse_query(query, PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert "none was used" in message and "scenario, requests_per_month" in message


def test_many_unknown_names_are_counted_not_listed():
    """Hundreds of unknown names give one message with five of them and how many more."""
    link = parse_query("&".join(f"p{i}=1" for i in range(300)), PARAMETERS)

    (message,) = link.messages
    assert "'p0', 'p1', 'p2', 'p3', 'p4' and 295 more" in message


def test_html_and_control_characters_reach_the_message_as_plain_text():
    """Markup stays text for the page to escape; control characters become '?'."""
    link = parse_query("scenario=%3Cscript%3Ealert(1)%3C/script%3E%00%1b", PARAMETERS)

    (message,) = link.messages
    assert "'<script>alert(1)</script>??'" in message


def test_broken_percent_escapes_do_not_raise():
    """Bytes that are not UTF-8 and stray % signs are read as text, and refused as such."""
    link = parse_query("scenario=%ff%fe&requests_per_month=%zz&%=1", PARAMETERS)

    assert link.values == {}
    assert len(link.messages) == 3


# -- the dashboards' parameters -------------------------------------------------------------------


def test_the_decision_link_takes_the_catalog_scenarios_and_the_slider_ranges():
    """Every shipped scenario, and each workload slider with the range the slider takes."""
    parameters = {p.name: p for p in decision_parameters()}

    assert {"support_chatbot", "document_search"} <= set(parameters["scenario"].choices)
    assert (parameters["requests_per_month"].low, parameters["requests_per_month"].high) == (
        1e2,
        1e9,
    )
    assert (parameters["quality_floor"].low, parameters["quality_floor"].high) == (0, 1)
    assert parameters["input_tokens"].whole and parameters["output_tokens"].whole
    assert list(parameters) == [
        "scenario",
        "requests_per_month",
        "peak_requests_per_s",
        "input_tokens",
        "output_tokens",
        "latency_objective_ms",
        "quality_floor",
    ]


def test_the_federated_link_takes_a_run_and_the_rerun_knobs():
    """A run id, the strategies and partitions of FedConfig, and the knobs' numeric ranges."""
    parameters = {p.name: p for p in federated_parameters()}
    link = parse_query(
        "run=20261204-131950-federated-digits&strategy=fedprox&deadline_s=0&alpha=0.1",
        federated_parameters(),
    )
    refused = parse_query("run=../../etc&strategy=fedsgd", federated_parameters())

    assert list(parameters) == ["run", "strategy", "partition", "alpha", "deadline_s", "dp_noise"]
    assert link.values == {
        "run": "20261204-131950-federated-digits",
        "strategy": "fedprox",
        "deadline_s": 0.0,
        "alpha": 0.1,
    }
    assert len(refused.messages) == 2 and refused.values == {}


# -- writing links --------------------------------------------------------------------------------


def test_a_written_link_reads_back_as_the_same_values():
    """link_for then parse_query gives the values given, with whole floats written whole."""
    values = {"scenario": "document_search", "requests_per_month": 200000.0, "quality_floor": 0.7}

    link = link_for("http://127.0.0.1:8866/", **values)

    assert link == (
        "http://127.0.0.1:8866/?scenario=document_search&requests_per_month=200000"
        "&quality_floor=0.7"
    )
    assert parse_query(urlsplit(link).query, PARAMETERS).values == values


def test_a_link_keeps_the_token_of_its_base_address():
    """?token= stays in the link; a value given again replaces the base's; None is left out."""
    link = link_for(
        "http://127.0.0.1:8870/?token=abc&scenario=support_chatbot",
        scenario="document_search",
        quality_floor=None,
    )

    assert link == "http://127.0.0.1:8870/?token=abc&scenario=document_search"


# -- reading the page's query ---------------------------------------------------------------------


def test_without_preheat_the_query_comes_from_the_kernels_environment(monkeypatch):
    """A kernel Voilà starts for a request has QUERY_STRING; outside Voilà the query is empty."""
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", "token=t&scenario=document_search")
    read = page_query()
    monkeypatch.delenv("QUERY_STRING")
    monkeypatch.delenv("VOILA_PREHEAT")

    assert read == "token=t&scenario=document_search"
    assert page_query() == ""


@pytest.fixture
def query_socket(monkeypatch):
    """A stand-in for Voilà's preheat query socket: answers the request info of one kernel, and
    records the path each kernel asked for."""
    import websockets

    asked: list[str] = []
    ready = threading.Event()
    state: dict = {}

    async def answer(socket):
        path = socket.request.path
        asked.append(path)
        await socket.send(json.dumps({"QUERY_STRING": "token=t&scenario=document_search"}))

    async def main():
        state["stop"] = asyncio.Event()
        async with websockets.serve(answer, "127.0.0.1", 0) as server:
            state["port"] = server.sockets[0].getsockname()[1]
            ready.set()
            await state["stop"].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    for name, value in {
        "VOILA_PREHEAT": "True",
        "VOILA_APP_PORT": str(state["port"]),
        "VOILA_SERVER_URL": "/",
        "VOILA_KERNEL_ID": "k-123",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("QUERY_STRING", "")  # restored after: the read sets it
    monkeypatch.delenv(QUERY_KEY_ENV, raising=False)
    yield asked
    loop.call_soon_threadsafe(state["stop"].set)
    thread.join(10)


def test_a_preheated_kernel_waits_for_its_visitors_request(query_socket):
    """With VOILA_PREHEAT the query is read from Voilà's query socket for this kernel."""
    query = page_query()

    assert query == "token=t&scenario=document_search"
    assert query_socket == ["/voila/query/k-123"]


def test_a_preheated_kernel_presents_the_key_its_server_gave_it(query_socket, monkeypatch):
    """A guarded server's kernels add ?key= (from their environment), never the token."""
    monkeypatch.setenv(QUERY_KEY_ENV, "kernel-key")

    read_page_link(PARAMETERS)

    assert query_socket == ["/voila/query/k-123?key=kernel-key"]


def test_a_request_that_cannot_be_read_is_a_message_not_an_error(monkeypatch):
    """No query socket to answer: the link says so in one paragraph, naming no address or key."""
    from voila_util import free_port

    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("VOILA_APP_PORT", str(free_port()))
    monkeypatch.setenv("VOILA_KERNEL_ID", "k-123")
    monkeypatch.setenv(QUERY_KEY_ENV, "kernel-key")

    link = read_page_link(PARAMETERS)

    assert link.values == {}
    (message,) = link.messages
    assert "could not be read" in message and "starts from its own values" in message
    assert "kernel-key" not in message and "127.0.0.1" not in message
