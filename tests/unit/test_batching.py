"""MicroBatcher: calls that queue while the slots are busy leave together; results and errors reach
the right callers; the bound on batches in flight holds."""

import asyncio

import pytest

from veil.streams.batching import MicroBatcher


class Recorder:
    def __init__(self, delay: float = 0.05, fail_on: int | None = None):
        self.delay, self.fail_on = delay, fail_on
        self.batches: list[list[int]] = []
        self.inflight = self.peak = 0

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail_on is not None and self.fail_on in items:
                raise ConnectionError("actor died")
            return [i * 10 for i in items]
        finally:
            self.inflight -= 1


def test_a_lone_call_goes_out_at_once_and_a_queue_leaves_as_one_batch():
    send = Recorder()

    async def main():
        b = MicroBatcher(send, max_items=8, max_batches=1)
        first = asyncio.create_task(b.submit(0))
        await asyncio.sleep(0.01)  # the first is in flight alone; these queue behind it
        rest = await asyncio.gather(*(b.submit(i) for i in range(1, 6)))
        return await first, rest

    first, rest = asyncio.run(main())
    assert first == 0 and rest == [10, 20, 30, 40, 50]
    assert send.batches == [[0], [1, 2, 3, 4, 5]]


def test_batches_are_capped_and_in_flight_batches_bounded():
    send = Recorder(delay=0.02)

    async def main():
        b = MicroBatcher(send, max_items=3, max_batches=2)
        return await asyncio.gather(*(b.submit(i) for i in range(20)))

    assert asyncio.run(main()) == [i * 10 for i in range(20)]
    assert max(len(x) for x in send.batches) == 3 and send.peak == 2
    assert sorted(i for x in send.batches for i in x) == list(range(20))


def test_a_failed_batch_fails_only_its_own_callers():
    send = Recorder(fail_on=3)

    async def main():
        b = MicroBatcher(send, max_items=2, max_batches=1)
        return await asyncio.gather(*(b.submit(i) for i in range(5)), return_exceptions=True)

    out = asyncio.run(main())
    failed = [i for i, r in enumerate(out) if isinstance(r, ConnectionError)]
    batch = next(x for x in send.batches if 3 in x)
    assert failed == batch and all(out[i] == i * 10 for i in range(5) if i not in batch)


def test_a_window_fills_a_batch_under_light_load():
    send = Recorder(delay=0.0)

    async def main():
        b = MicroBatcher(send, max_items=4, max_batches=4, window_s=0.2)
        calls = [asyncio.create_task(b.submit(0))]
        await asyncio.sleep(0.02)
        calls.append(asyncio.create_task(b.submit(1)))
        return await asyncio.gather(*calls)

    assert asyncio.run(main()) == [0, 10]
    assert send.batches == [[0, 1]]


def test_a_wrong_number_of_results_is_an_error_for_every_caller():
    async def short(items):
        return items[:-1]

    async def main():
        b = MicroBatcher(short, max_items=4, max_batches=1)
        first = asyncio.create_task(b.submit(0))
        await asyncio.sleep(0)
        return await asyncio.gather(first, b.submit(1), b.submit(2), return_exceptions=True)

    out = asyncio.run(main())
    assert len(out) == 3 and all(isinstance(r, RuntimeError) for r in out)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), max_items=0, max_batches=1)
