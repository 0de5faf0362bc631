"""gateway/operator/alerts.py: one alert per (kind, reason, dev) per interval, carrying how many it stands for."""

from gateway.operator.alerts import Alert, AlertLimiter


def test_first_alert_passes_with_count_one() -> None:
    limiter = AlertLimiter(interval_ms=10_000)
    alert = limiter.raise_alert(1_000, "reject", "bad_signature", "shelf-1", "signature does not verify")
    assert alert == Alert(1_000, "reject", "bad_signature", "shelf-1", "signature does not verify", 1)


def test_repeats_within_the_interval_are_held_and_counted() -> None:
    limiter = AlertLimiter(interval_ms=10_000)
    assert limiter.raise_alert(0, "reject", "replay", "d1", "first") is not None
    assert limiter.raise_alert(1, "reject", "replay", "d1", "x") is None
    assert limiter.raise_alert(5_000, "reject", "replay", "d1", "x") is None
    assert limiter.raise_alert(9_999, "reject", "replay", "d1", "x") is None
    alert = limiter.raise_alert(10_000, "reject", "replay", "d1", "latest")
    assert alert is not None
    assert alert.count == 4
    assert alert.ts_ms == 10_000
    assert alert.detail == "latest"


def test_count_restarts_after_an_alert_is_published() -> None:
    limiter = AlertLimiter(interval_ms=100)
    assert limiter.raise_alert(0, "door_held", "r", "d", "") is not None
    assert limiter.raise_alert(50, "door_held", "r", "d", "") is None
    second = limiter.raise_alert(100, "door_held", "r", "d", "")
    assert second is not None and second.count == 2
    third = limiter.raise_alert(250, "door_held", "r", "d", "")
    assert third is not None and third.count == 1


def test_interval_is_measured_from_the_last_published_alert() -> None:
    limiter = AlertLimiter(interval_ms=100)
    assert limiter.raise_alert(0, "door_held", "r", "d", "") is not None
    assert limiter.raise_alert(90, "door_held", "r", "d", "") is None
    assert limiter.raise_alert(150, "door_held", "r", "d", "") is not None
    assert limiter.raise_alert(240, "door_held", "r", "d", "") is None


def test_keys_are_per_kind_reason_and_dev() -> None:
    limiter = AlertLimiter(interval_ms=10_000)
    assert limiter.raise_alert(0, "reject", "replay", "d1", "") is not None
    assert limiter.raise_alert(1, "reject", "replay", "d2", "") is not None
    assert limiter.raise_alert(2, "reject", "bad_signature", "d1", "") is not None
    assert limiter.raise_alert(3, "device", "replay", "d1", "") is not None
    assert limiter.raise_alert(4, "reject", "replay", "d1", "") is None
    held = limiter.raise_alert(20_000, "reject", "replay", "d2", "")
    assert held is not None and held.count == 1
    other = limiter.raise_alert(20_000, "reject", "replay", "d1", "")
    assert other is not None and other.count == 2


def test_zero_interval_lets_every_alert_through() -> None:
    limiter = AlertLimiter(interval_ms=0)
    counts = [limiter.raise_alert(7, "door_held", "r", "d", "") for _ in range(3)]
    assert [alert.count if alert else None for alert in counts] == [1, 1, 1]


def test_a_burst_is_reported_whole_even_when_nothing_follows_it() -> None:
    limiter = AlertLimiter(interval_ms=10_000)
    first = limiter.raise_alert(1_000, "reject", "float", "shelf-1", "d0")
    assert first is not None and first.count == 1
    for n in range(99):
        assert limiter.raise_alert(1_001 + n, "reject", "float", "shelf-1", f"d{n + 1}") is None
    assert limiter.flush(10_999) == []
    held = limiter.flush(11_000)
    assert [(a.reason, a.dev, a.count, a.detail) for a in held] == [("float", "shelf-1", 99, "d99")]
    assert limiter.flush(30_000) == []
