"""``make bench-service``'s report: the side-by-side table with its ratios and a verdict per target."""

from __future__ import annotations

from tools.bench_service import RoundResult, markdown, summarise


def _round(side: str, tier: str, clients: int, images: int, seconds: float, latency: float) -> RoundResult:
    return RoundResult(
        side=side,
        tier=tier,
        clients=clients,
        images=images,
        seconds=seconds,
        latencies=[latency] * images,
        cpu_seconds=images * 0.5,
        cpu_by_process={"api": images * 0.05, "worker": images * 0.45} if side == "ours" else {"rembg": images * 0.5},
        peak_rss_mb=300.0,
        output_bytes=[900_000] * images,
        client_cpu_seconds=images * (0.03 if side == "ours" else 0.01),
    )


def test_the_table_gives_each_ratio_and_says_which_targets_are_met() -> None:
    rounds = [
        _round("ours", "basic", 4, 16, 4.0, 0.9),  # 4.0 img/s
        _round("rembg", "basic", 4, 16, 5.0, 1.1),  # 3.2 img/s → 1.25×: below 1.5×
        _round("ours", "basic", 1, 4, 1.4, 0.35),
        _round("rembg", "basic", 1, 4, 1.6, 0.40),
    ]
    bare = {"u2netp.onnx": {"serial_all_threads": 5.0, "parallel_one_thread_each": 4.5, "limit": 5.0}}
    meta = {"cores": 2, "load_note": "test", "rounds": 1, "per_client": 4, "poll_s": 0.1, "our_worker": "defaults"}
    report = markdown(summarise(rounds, bare), meta)
    assert "| basic vs u2netp | 4 | 4.00 (4.00) | 3.20 (3.20) | 1.25× |" in report
    assert "basic vs u2netp, 4 clients: 1.25× rembg's images/s (target ≥ 1.5×): NOT met." in report
    assert "basic, 4 clients: 80% of the bare-model limit (5.00 img/s) (target ≥ 80%): met." in report
    assert "basic vs u2netp, 1 client: p50 0.35 s vs rembg's 0.40 s (target ≤ rembg's): met." in report
    assert "basic, 4 client(s): api 0.050, worker 0.450 (API 10% of ours)" in report
    assert "the clients themselves (this process, on the same cores), basic, 4 client(s), ours: 0.030" in report
    assert "the clients themselves (this process, on the same cores), basic, 4 client(s), rembg: 0.010" in report
