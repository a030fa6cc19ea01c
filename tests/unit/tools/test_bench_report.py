"""``make bench``'s report: each tier's time as a multiple of one bare U²-Net-p run, against issue 18's targets."""

from __future__ import annotations

from tools.bench import _markdown


def _result(tier: str, median: float, bare: float) -> dict[str, object]:
    row = {
        "megapixels": 2,
        "width": 1728,
        "height": 1157,
        "median": median,
        "p95": median,
        "bare_model": bare,
        "overhead": 0.1,
        "stages": {"model": bare, "decode": 0.01, "render": 0.01},
        "png_kb": 100,
    }
    return {
        "tier": tier,
        "model": "m.onnx",
        "threads": 2,
        "peak_rss_mb": 1,
        "rss_first_mb": 1,
        "rss_last_mb": 1,
        "rows": [row],
    }


def test_the_report_prints_each_tier_against_one_bare_u2netp_run() -> None:
    report = _markdown([_result("basic", 0.26, 0.2), _result("standard", 0.8, 0.4), _result("industry", 2.0, 1.4)], 3)
    assert "basic at 2 MP: 0.260 s = 1.30× one bare U²-Net-p run (0.200 s; target ≤ 1.5×): met" in report
    assert "standard at 2 MP: 0.800 s = 4.00× one bare U²-Net-p run (0.200 s; target ≤ 3.5×): NOT met" in report
    assert "industry at 2 MP: 2.000 s = 10.00× one bare U²-Net-p run (0.200 s; target ≤ 13.5×): met" in report
