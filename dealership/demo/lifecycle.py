"""The lifecycle rules of customers.services, applied in memory so that a history can be written in bulk.

Every method mirrors one service and must stay in step with it: tests/demo/test_demo_history.py
replays the same events through the services and compares the results row by row.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Plain strings, not the model enums: this module is imported by the benchmark generator too and must
# not need the app registry. They are the values of customers.models.Stage.
STAGES = ["market", "potential", "target", "real", "lifetime", "loyal"]
RANK = {s: i for i, s in enumerate(STAGES)}
PRE_PURCHASE = {"market", "potential", "target"}

# A StageChange row: (kind, from_stage, to_stage, at, by, reason).
Change = tuple[str, str, str, dt.datetime, "int | None", str]


@dataclass(slots=True)
class CustomerState:
    stage: str = "market"
    is_lost: bool = False
    lost_reason: str = ""
    lost_at: dt.datetime | None = None
    entered: dict[str, dt.datetime] = field(default_factory=dict)
    last_contact_at: dt.datetime | None = None
    orders: list[dt.datetime] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def is_buyer(self) -> bool:
        return RANK[self.stage] >= RANK["real"]

    # --- customer_create ---
    def create(self, *, at: dt.datetime, by: int | None) -> None:
        self.entered["market"] = at
        self.changes.append(("move", "", "market", at, by, "created"))

    # --- _move / customer_advance / customer_move_stage ---
    def _move(self, stage: str, *, at: dt.datetime, by: int | None, reason: str) -> None:
        current, goal = RANK[self.stage], RANK[stage]
        if goal == current:
            return
        if goal > current:
            path = STAGES[current: goal + 1]
            for passed in path[1:]:
                first = self.entered.get(passed)
                if first is None or at < first:
                    self.entered[passed] = at
            self.changes.extend(("move", a, b, at, by, reason) for a, b in zip(path, path[1:]))
        else:
            self.changes.append(("move", self.stage, stage, at, by, reason))
        self.stage = stage
        if self.is_lost and stage not in PRE_PURCHASE:
            self._reactivate(at=at, by=by)

    def advance(self, stage: str, *, at: dt.datetime, by: int | None, reason: str) -> None:
        if RANK[stage] > RANK[self.stage]:
            self._move(stage, at=at, by=by, reason=reason)

    def move(self, stage: str, *, at: dt.datetime, by: int | None, reason: str = "hand move") -> None:
        self._move(stage, at=at, by=by, reason=reason)

    # --- customer_mark_lost / customer_reactivate ---
    def mark_lost(self, *, reason: str, at: dt.datetime, by: int | None) -> None:
        if self.stage not in PRE_PURCHASE or self.is_lost:
            raise ValueError(f"cannot mark a {self.stage} customer lost (lost={self.is_lost})")
        self.is_lost, self.lost_reason, self.lost_at = True, reason, at
        self.changes.append(("lost", self.stage, self.stage, at, by, reason))

    def _reactivate(self, *, at: dt.datetime, by: int | None) -> None:
        self.changes.append(("reactivated", self.stage, self.stage, at, by, "reactivated"))
        self.is_lost, self.lost_reason, self.lost_at = False, "", None

    def reactivate(self, *, at: dt.datetime, by: int | None) -> None:
        if not self.is_lost:
            raise ValueError("cannot reactivate a customer who is not lost")
        self._reactivate(at=at, by=by)

    # --- customer_touch ---
    def touch(self, at: dt.datetime) -> None:
        if self.last_contact_at is None or at > self.last_contact_at:
            self.last_contact_at = at

    # --- the events of sales.services and aftersales.services ---
    def visit(self, *, at: dt.datetime, kind: str, by: int | None) -> None:
        self.advance("potential", at=at, by=by, reason=f"visit:{kind}")
        self.touch(at)

    def test_drive(self, *, at: dt.datetime, by: int | None) -> None:
        self.advance("target", at=at, by=by, reason="test_drive")
        self.touch(at)

    def order(self, *, at: dt.datetime, by: int | None) -> None:
        repeat = any(o <= at for o in self.orders)
        self.orders.append(at)
        self.advance("loyal" if repeat else "real", at=at, by=by, reason="repeat_order" if repeat else "order")
        self.touch(at)

    def service(self, *, at: dt.datetime, in_warranty: bool, by: int | None) -> None:
        if self.is_buyer:
            self.advance("lifetime" if in_warranty else "loyal", at=at, by=by,
                         reason="service_in_warranty" if in_warranty else "service")
        self.touch(at)
