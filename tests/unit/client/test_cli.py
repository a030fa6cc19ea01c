"""Exit codes, one-line messages, batch splitting and the progress bar of the command line."""

from __future__ import annotations

import io

import pytest
from bgremover_client import TransportError, WaitTimeout, error_from_problem
from bgremover_client._progress import ProgressBar, render_bar
from bgremover_client.cli import (
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_CREDITS,
    EXIT_INVALID,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    build_parser,
    exit_code_for,
    main,
    message_for,
    renumber,
    split_evenly,
)


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (401, "unauthorized", EXIT_AUTH),
        (403, "forbidden", EXIT_AUTH),
        (402, "insufficient_credits", EXIT_CREDITS),
        (429, "quota_exceeded", EXIT_CREDITS),
        (429, "rate_limited", EXIT_UNAVAILABLE),
        (503, "database_unavailable", EXIT_UNAVAILABLE),
        (500, "internal_error", EXIT_UNAVAILABLE),
        (404, "not_found", EXIT_INVALID),
        (409, "already_subscribed", EXIT_INVALID),
        (415, "unsupported_media_type", EXIT_INVALID),
        (422, "invalid_options", EXIT_INVALID),
    ],
)
def test_exit_codes(status: int, code: str, exit_code: int) -> None:
    assert exit_code_for(error_from_problem(status, {"code": code, "detail": "d"})) == exit_code


def test_exit_codes_of_local_problems() -> None:
    assert exit_code_for(TransportError("refused")) == EXIT_UNAVAILABLE
    assert exit_code_for(WaitTimeout("slow", None)) == EXIT_UNAVAILABLE
    assert exit_code_for(FileNotFoundError("x.jpg")) == EXIT_INVALID


def test_messages_are_one_line_and_helpful() -> None:
    credits = error_from_problem(402, {"code": "insufficient_credits", "detail": "d", "required": 9, "balance": 5})
    assert message_for(credits) == (
        "Insufficient credits: this needs 9 credits but the balance is 5 (short by 4). "
        "Ask for a grant, e.g. `make grant USER=<you> CREDITS=9`."
    )
    auth = message_for(error_from_problem(401, {"code": "unauthorized", "detail": "Missing token"}))
    assert auth.startswith("Authentication failed: Missing token.") and "BGREMOVER_TOKEN" in auth
    server = message_for(error_from_problem(500, {"code": "internal_error", "detail": "boom\nline", "requestId": "r9"}))
    assert server == "Server error: boom line [request id r9]"
    down = error_from_problem(503, {"code": "service_unavailable", "detail": "down"}, retry_after=5)
    assert message_for(down) == "Service unavailable: down Retry in 5s."
    assert message_for(error_from_problem(422, {"code": "never_seen", "detail": "odd"})) == "odd"
    assert "\n" not in message_for(TransportError("Request to http://x failed: refused"))


def test_every_exit_code_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for code, meaning in EXIT_CODES.items():
        assert f"  {code}  {meaning}" in help_text
    assert main(["remove"]) == EXIT_USAGE
    assert main(["frobnicate"]) == EXIT_USAGE
    args = build_parser().parse_args(["remove", "a.jpg", "--crop", "--size", "800"])
    assert (args.crop, args.size, args.tier, args.format) == (True, 800, "basic", None)


def test_missing_input_is_invalid(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "http://127.0.0.1:9", "remove", "/nonexistent/photo.jpg"]) == EXIT_INVALID
    assert capsys.readouterr().err.strip() == "No such file or folder: /nonexistent/photo.jpg: no such file or folder"


@pytest.mark.parametrize(
    ("count", "limit", "sizes"),
    [(0, 500, []), (2, 500, [2]), (500, 500, [500]), (501, 500, [251, 250]), (1001, 500, [334, 334, 333])],
)
def test_split_evenly(count: int, limit: int, sizes: list[int]) -> None:
    chunks = split_evenly(list(range(count)), limit)
    assert [len(c) for c in chunks] == sizes
    assert [x for c in chunks for x in c] == list(range(count))


def test_renumber() -> None:
    assert renumber("001_cat.png", 0) == "001_cat.png"
    assert renumber("003_cat.png", 251, 4) == "0254_cat.png"
    assert renumber("cat.png", 10) == "cat.png"


def test_render_bar() -> None:
    assert render_bar(0, 4, width=8) == "[--------] 0/4   0%"
    assert render_bar(3, 4, width=8, failed=1, label="batch") == "batch [######--] 3/4  75% (1 failed)"
    assert render_bar(9, 4, width=4) == "[####] 4/4 100%"
    assert render_bar(0, 0, width=4) == "[####] 0/0 100%"


def test_progress_bar_redraws_in_place_only_on_a_tty() -> None:
    tty = io.StringIO()
    bar = ProgressBar(2, stream=tty, width=2, interactive=True)
    bar.update(0)
    bar.update(0)
    bar.update(2)
    bar.close()
    assert tty.getvalue() == "\r[--] 0/2   0%\r[##] 2/2 100%\n"
    log = io.StringIO()
    plain = ProgressBar(2, stream=log, width=2, interactive=False)
    plain.update(1)
    plain.update(1)
    plain.update(2, failed=1)
    plain.close()
    assert log.getvalue().splitlines() == ["[#-] 1/2  50%", "[##] 2/2 100% (1 failed)"]
