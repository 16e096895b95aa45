"""Two users moving the same customer at the same moment: the row lock makes the history one chain."""
from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, connections

from customers.models import STAGE_ORDER, Customer, Stage, StageChange
from customers.services import customer_create, customer_move_stage

pytestmark = pytest.mark.django_db(transaction=True)

MOVES_PER_USER = 25


@pytest.fixture(autouse=True)
def _postgres_only():
    # SQLite locks the whole database file instead of rows: there is no race to lose there.
    if connection.vendor != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; set DATABASE_URL")


def _move_in_lockstep(customer: Customer, users: list, moves: int, seed: int) -> list[BaseException]:
    """Each user holds a stale copy of the customer, as two browsers would, and moves it `moves` times;
    a barrier releases both users at once for every move, so that they collide every time."""
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def work(user, rng: random.Random) -> None:
        stale = Customer.objects.get(pk=customer.pk)
        try:
            for _ in range(moves):
                barrier.wait(timeout=30)
                stage = rng.choice([s for s in STAGE_ORDER if s != Stage.MARKET])
                customer_move_stage(customer=stale, stage=stage, by=user, reason="concurrent hand move")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which fails on it
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u, random.Random(seed + i))) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def _chain_breaks(rows: list[StageChange]) -> list[str]:
    moves = [r for r in rows if r.kind == StageChange.Kind.MOVE]
    return [f"#{b.pk}: {b.from_stage}→{b.to_stage} follows #{a.pk}: {a.from_stage}→{a.to_stage}"
            for a, b in zip(moves, moves[1:]) if b.from_stage != a.to_stage]


def test_two_users_moving_one_customer_at_once_leave_a_single_unbroken_history(store, consultant, manager):
    customer = customer_create(dealership=store, name="张三", phone="13900001111", consultant=consultant)

    errors = _move_in_lockstep(customer, [consultant, manager], MOVES_PER_USER, seed=1)

    assert errors == []
    in_commit_order = list(StageChange.objects.filter(customer=customer).order_by("id"))
    assert _chain_breaks(in_commit_order) == []
    customer.refresh_from_db()
    assert customer.stage == in_commit_order[-1].to_stage
    # Every move that changed something left a row: nothing was lost between the two users.
    assert sum(1 for r in in_commit_order if r.reason == "concurrent hand move") >= MOVES_PER_USER


def test_the_history_as_shown_in_time_order_is_the_same_unbroken_chain(store, consultant, manager):
    """The history page and `/history/` list rows by `at`: a user who waited for the lock must not get a
    timestamp earlier than the move that went before him, or the listed chain is broken."""
    customer = customer_create(dealership=store, name="李四", phone="13900002222", consultant=consultant)

    errors = _move_in_lockstep(customer, [consultant, manager], MOVES_PER_USER, seed=2)

    assert errors == []
    as_listed = list(StageChange.objects.filter(customer=customer))  # the model's order: at, id
    assert _chain_breaks(as_listed) == []
