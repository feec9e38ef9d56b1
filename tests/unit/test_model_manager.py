"""Hot-swap and memory budget of the model manager, on fake providers (real ones: integration)."""

import threading
import time

import pytest

from veil.errors import ProviderError
from veil.models.manager import MemoryBudgetExceeded, ModelManager, ModelSource, SlotProvider
from veil.schemas import ChatMessage, GenerationRequest, GenerationResponse

REQUEST = GenerationRequest(messages=[ChatMessage(role="user", content="hi")])


class Slow:
    backend = "fake"

    def __init__(self, name, version, delay=0.0, healthy=True):
        self.name, self.version, self.delay, self.healthy = name, version, delay, healthy
        self.closed = False
        self.calls = 0

    def generate(self, request):
        if self.closed:
            raise ProviderError("closed")
        self.calls += 1
        time.sleep(self.delay)
        if self.closed:
            raise ProviderError("closed while generating")
        return GenerationResponse(text="x", model=self.name, model_version=self.version, prompt_tokens=1,
                                  completion_tokens=1, seconds=self.delay)

    def health(self):
        if not self.healthy:
            raise ProviderError("unhealthy")

    def close(self):
        self.closed = True


def source(name, version, mb=0.0, made=None, **kw):
    def load():
        p = Slow(name, version, **kw)
        if made is not None:
            made.append(p)
        return p
    return ModelSource(name=name, version=version, load=load, memory_mb=mb)


def test_swap_under_concurrent_calls_fails_no_call_and_drains_the_old_version():
    made: list[Slow] = []
    m = ModelManager()
    m.register("security", source("judge", "v1", made=made, delay=0.01), load_now=True)
    view = SlotProvider(m, "security")
    results, errors, stop = [], [], threading.Event()

    def caller():
        while not stop.is_set():
            try:
                results.append(view.generate(REQUEST).model_version)
            except Exception as err:  # noqa: BLE001 - any failure fails the test
                errors.append(err)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    m.swap("security", source("judge", "v2", made=made, delay=0.01))
    time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert "v1" in results and "v2" in results
    assert results.index("v2") > 0 and "v1" not in results[results.index("v2") + 8:]  # no v1 after the switch settles
    old, new = made
    assert old.closed and not new.closed and m.draining() == 0
    assert view.version == "v2"


def test_swap_to_a_version_that_fails_its_check_keeps_the_old_one():
    m = ModelManager()
    m.register("general", source("g", "v1"), load_now=True)
    made: list[Slow] = []
    with pytest.raises(ProviderError, match="unhealthy"):
        m.swap("general", source("g", "v2", made=made, healthy=False))
    assert m.current("general").version == "v1" and made[0].closed
    with pytest.raises(AssertionError):
        m.swap("general", source("g", "v3"), check=lambda p: (_ for _ in ()).throw(AssertionError("eval failed")))
    assert SlotProvider(m, "general").generate(REQUEST).model_version == "v1"


def test_budget_unloads_the_least_recently_used_idle_model_and_reloads_on_demand():
    made: list[Slow] = []
    m = ModelManager(budget_mb=1000)
    m.register("general", source("g", "v1", mb=600, made=made))
    m.register("security", source("s", "v1", mb=600, made=made))
    SlotProvider(m, "general").generate(REQUEST)
    assert m.loaded_mb() == 600
    SlotProvider(m, "security").generate(REQUEST)  # does not fit beside "g": g is unloaded
    assert made[0].closed and m.loaded_mb() == 600
    SlotProvider(m, "general").generate(REQUEST)  # loads g again, unloading s
    assert len(made) == 3 and made[1].closed and not made[2].closed


def test_both_models_stay_loaded_when_the_budget_allows():
    made: list[Slow] = []
    m = ModelManager(budget_mb=1300)
    m.register("general", source("g", "v1", mb=600, made=made), load_now=True)
    m.register("security", source("s", "v1", mb=600, made=made), load_now=True)
    assert m.loaded_mb() == 1200 and not any(p.closed for p in made)


def test_a_model_larger_than_the_budget_is_refused():
    m = ModelManager(budget_mb=100)
    m.register("general", source("g", "v1", mb=600))
    with pytest.raises(MemoryBudgetExceeded, match="budget is 100 MB"):
        SlotProvider(m, "general").generate(REQUEST)


def test_busy_models_are_not_unloaded_and_the_load_gives_up_after_waiting():
    m = ModelManager(budget_mb=1000, wait_s=0.2)
    m.register("general", source("g", "v1", mb=600), load_now=True)
    m.register("security", source("s", "v1", mb=600))
    with m.use("general"), pytest.raises(MemoryBudgetExceeded, match="busy"):  # g is busy
        SlotProvider(m, "security").generate(REQUEST)
    assert m.loaded_mb() == 600
