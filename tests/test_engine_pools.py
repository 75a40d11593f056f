"""The engine's own buffer pools, output slots and run loop against simpy's Container, Resource and run.

The engine replaced ``simpy.Container`` (weight buffer, activation staging), ``simpy.Resource`` (output slots)
and ``Environment.run(until=...)`` by lighter code that must schedule the very same events in the same order
(the event count is a report key). Each test drives the same random scenario once with simpy's class and once
with the engine's, and requires the same log of (time, actor, what) and the same number of scheduled events.
Also: the timing path's collector pause (``sim.simulate.collector_paused``) gives the collector back as it was.
"""

from __future__ import annotations

import random

import pytest
import simpy

from sim.engine.des import _Env, _Pool, _Slots


def _pool_scenario(env: simpy.Environment, pool, seed: int, log: list) -> None:
    rng = random.Random(seed)
    cap = 10

    def taker(name: str, amounts: list[int]):
        for a in amounts:
            yield env.timeout(rng.randint(0, 2))
            yield pool.get(a)
            log.append((env.now, name, "got", a))

    def giver(name: str, amounts: list[int]):
        for a in amounts:
            yield env.timeout(rng.randint(0, 3))
            yield pool.put(a)
            log.append((env.now, name, "put", a))

    takes = [rng.randint(1, cap) for _ in range(12)]
    env.process(taker("loader", takes))
    env.process(taker("other", [rng.randint(1, 4) for _ in range(4)]))
    env.process(giver("executor", takes[:10]))


@pytest.mark.parametrize("seed", range(8))
def test_pool_schedules_the_containers_events(seed: int) -> None:
    logs = []
    for make in (lambda env: simpy.Container(env, capacity=10, init=10), lambda env: _Pool(env, 10)):
        env = simpy.Environment()
        log: list = []
        pool = make(env)
        _pool_scenario(env, pool, seed, log)
        env.run()
        logs.append((log, next(env._eid), pool.level))
    assert logs[0] == logs[1]
    assert logs[0][0], "the scenario did something"


def _burst_scenario(env: simpy.Environment, pool, log: list) -> None:
    def taker(name: str, amount: int, delay: int):
        yield env.timeout(delay)
        yield pool.get(amount)
        log.append((env.now, name))

    def giver():
        yield env.timeout(5)
        yield pool.put(10)
        log.append((env.now, "put"))

    env.process(taker("all", 10, 0))
    env.process(taker("a", 3, 1))
    env.process(taker("b", 3, 2))
    env.process(taker("c", 5, 3))  # 10 back: a and b, then c waits (3 + 3 + 5 > 10)
    env.process(giver())


def test_pool_serves_every_waiting_get_a_put_allows() -> None:
    logs = []
    for make in (lambda env: simpy.Container(env, capacity=10, init=10), lambda env: _Pool(env, 10)):
        env = simpy.Environment()
        log: list = []
        pool = make(env)
        _burst_scenario(env, pool, log)
        env.run()
        logs.append((log, next(env._eid), pool.level))
    assert logs[0] == logs[1]
    assert logs[0][0] == [(0, "all"), (5, "put"), (5, "a"), (5, "b")]


def _slot_scenario(env: simpy.Environment, slots, seed: int, log: list) -> None:
    rng = random.Random(seed)

    def user(name: str):
        for _ in range(6):
            yield env.timeout(rng.randint(0, 2))
            req = slots.request()
            yield req
            log.append((env.now, name, "granted"))
            env.process(holder(name, req, rng.randint(0, 3)))

    def holder(name: str, req, hold: int):
        yield env.timeout(hold)
        log.append((env.now, name, "release"))
        slots.release(req)

    env.process(user("a"))
    env.process(user("b"))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("capacity", [1, 2])
def test_slots_schedule_the_resources_events(seed: int, capacity: int) -> None:
    logs = []
    for make in (lambda env: simpy.Resource(env, capacity), lambda env: _Slots(env, capacity)):
        env = simpy.Environment()
        log: list = []
        _slot_scenario(env, make(env), seed, log)
        env.run()
        logs.append((log, next(env._eid)))
    assert logs[0] == logs[1]
    assert any(what == "granted" for _, _, what in logs[0][0])


def _run_scenario(env: simpy.Environment, seed: int, log: list, fail: str | None = None) -> simpy.Process:
    rng = random.Random(seed)

    def worker(name: str):
        for _ in range(5):
            yield env.timeout(rng.randint(0, 3))
            log.append((env.now, name))
        if fail == name:
            raise ValueError(f"{name} failed at {env.now}")

    env.process(worker("side"))
    return env.process(worker("main"))


@pytest.mark.parametrize("seed", range(6))
def test_run_until_is_simpys_run(seed: int) -> None:
    results = []
    for env in (simpy.Environment(), _Env()):
        log: list = []
        done = _run_scenario(env, seed, log)
        if isinstance(env, _Env):
            env.run_until(done)
        else:
            env.run(until=done)
        results.append((log, env.now, next(env._eid)))
    assert results[0] == results[1]


@pytest.mark.parametrize("who", ["main", "side"])
def test_run_until_raises_like_simpy(who: str) -> None:
    errors = []
    for env in (simpy.Environment(), _Env()):
        done = _run_scenario(env, 3, [], fail=who)
        with pytest.raises(ValueError) as info:
            if isinstance(env, _Env):
                env.run_until(done)
            else:
                env.run(until=done)
        # simpy raises the failed ``until`` event's own exception, any other unhandled one as a copy (caused by it)
        errors.append((type(info.value), str(info.value), type(info.value.__cause__), env.now))
    assert errors[0] == errors[1]


def test_run_until_an_event_never_triggered() -> None:
    env = _Env()

    def one():
        yield env.timeout(1)

    env.process(one())
    with pytest.raises(RuntimeError, match="No scheduled events left"):
        env.run_until(env.event())


def test_collector_paused_restores_the_collector() -> None:
    import gc

    from sim.simulate import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()  # back on after an error too
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller's disabled collector stays off
    finally:
        gc.enable()
