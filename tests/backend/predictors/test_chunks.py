"""map_chunks: chunks side by side on the CPU's threads, the values and torch's state as before."""

from __future__ import annotations

import threading

import pytest
import torch

from backend.predictors import chunks
from backend.predictors.chunks import map_chunks


@pytest.fixture()
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.GELU(), torch.nn.Linear(64, 1))


def test_same_values_in_order_on_several_threads(two_threads):
    net = small_net()
    points = torch.randn(10_000, 3)
    seen: set[int] = set()
    inside: list[int] = []
    # The first two chunks wait for each other: they pass only when they run at the same time
    # on two threads (a fast chunk could otherwise finish before the second thread starts).
    meet = threading.Barrier(2, timeout=30)

    def fn(part: torch.Tensor) -> torch.Tensor:
        seen.add(threading.get_ident())
        inside.append(torch.get_num_threads())
        if len(inside) <= 2:
            meet.wait()
        return net(part)[:, 0]

    with torch.no_grad():
        serial = torch.cat([net(points[i : i + 1024])[:, 0] for i in range(0, 10_000, 1024)])
        out = map_chunks(fn, points, 1024)
    assert [len(o) for o in out] == [1024] * 9 + [784]
    assert torch.equal(torch.cat(out), serial)  # bit for bit, in order
    assert len(seen) == 2 and threading.get_ident() not in seen
    assert set(inside) == {1}  # each op on one thread while the chunks run side by side
    assert torch.get_num_threads() == 2
    assert torch.cat(out).grad_fn is None  # the caller's no_grad went with every chunk


def test_a_new_pool_starts_all_its_threads_even_when_its_first_chunks_are_instant(
        two_threads, monkeypatch):
    # ThreadPoolExecutor alone would start a second thread only if the first were still busy
    monkeypatch.setattr(chunks, "_pools", {})
    map_chunks(lambda p: p, torch.zeros(10, 3), 4)
    pool_threads = chunks._pools[2]._threads
    assert len(pool_threads) == 2
    assert all(t.name.startswith(chunks.THREAD_PREFIX) and t.is_alive() for t in pool_threads)


def test_one_thread_or_one_chunk_runs_in_the_callers_thread(two_threads):
    torch.set_num_threads(1)
    idents: list[int] = []
    map_chunks(lambda p: idents.append(threading.get_ident()) or p, torch.zeros(10, 3), 4)
    assert idents == [threading.get_ident()] * 3
    torch.set_num_threads(2)
    idents.clear()
    map_chunks(lambda p: idents.append(threading.get_ident()) or p, torch.zeros(10, 3), 16)
    assert idents == [threading.get_ident()]


def test_an_error_in_a_chunk_reaches_the_caller_and_the_threads_are_restored(two_threads):
    def fn(part: torch.Tensor) -> torch.Tensor:
        if part[0, 0] > 5:
            raise ValueError("bad chunk")
        return part

    points = torch.arange(30.0).repeat(3, 1).T.contiguous()
    with pytest.raises(ValueError, match="bad chunk"):
        map_chunks(fn, points, 4)
    assert torch.get_num_threads() == 2
