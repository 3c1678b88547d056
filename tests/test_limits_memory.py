"""The one-process rate-limit store (service.api.limits_memory): limits as limits'
MemoryStorage does, without a timer thread per expiry."""

from __future__ import annotations

import threading
import time


def test_counts_expire_and_no_timer_thread_is_started_per_hit(monkeypatch):
    from limits import RateLimitItemPerSecond
    from limits.strategies import FixedWindowRateLimiter

    from service.api.limits_memory import SweepingMemoryStorage

    storage = SweepingMemoryStorage()
    started = []
    real = threading.Timer

    def counting(*args, **kwargs):
        started.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(threading, "Timer", counting)
    limiter = FixedWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(3)
    assert [limiter.hit(item, "who") for _ in range(4)] == [True, True, True, False]
    for _ in range(200):
        storage.incr("other", 1)
    assert started == []  # limits' MemoryStorage starts one whenever the last one ended
    time.sleep(1.1)
    assert limiter.hit(item, "who")  # the window expired
    storage.incr("third", 1)  # a sweep runs inline: expired counters are gone
    assert "other" not in storage.storage and "third" in storage.storage


def test_memory_uri_is_this_store_and_the_app_limits_with_it(tmp_path):
    from service import create_app
    from service.api.limits_memory import storage_uri

    assert storage_uri("memory://") == "chipao-memory://"
    assert storage_uri("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    app = create_app({"testing": True, "data_dir": str(tmp_path / "var"),
                      "rate_limit": "3 per minute"})
    c = app.test_client()
    codes = [c.get("/api/v1/datasets").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
