"""Who may join the queue: each kind of work (a *lane*) has its own concurrency and its own budget of
waiting requests, and each client a limit on its requests waiting or running, so that no tab and no
client can fill the queue for the others (Gradio's own ``max_size`` counts every tab together).

>>> demo.queue(max_size=total_waiting()); install(demo)   # after build_app has wired lane(...) events
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio import route_utils


@dataclass(frozen=True)
class Lane:
    """One kind of work: its tab's name, the events it runs at once and the requests it keeps waiting."""

    title: str
    concurrency: int
    waiting: int


#: Inference is CPU-bound and the model serialises its calls: 2 photos at once let one decode or
#: draw while the other runs the model; Many photos, the costliest, runs one request at a time.
LANES = {
    "photo": Lane("Photo", 2, 48),
    "feedback": Lane("feedback", 4, 100),  # quick work: a database write
    "live": Lane("Live webcam", 2, 4),
    "crowd": Lane("Many photos", 1, 8),
    "video": Lane("Video", 1, 4),  # minutes of work each
}
#: Requests one client may have waiting or running at once, over all the lanes.
PER_CLIENT = 6


def lane(name: str) -> dict[str, Any]:
    """The options an event listener of lane ``name`` takes (``concurrency_id``, ``concurrency_limit``)."""
    return dict(concurrency_id=name, concurrency_limit=LANES[name].concurrency)


def total_waiting() -> int:
    """The queue's overall size: every lane's budget (each lane refuses before the queue is full)."""
    return sum(each.waiting for each in LANES.values())


def install(demo: gr.Blocks, per_client: int = PER_CLIENT) -> None:
    """Check every request against its lane and its client before it joins ``demo``'s queue."""
    queue = demo._queue
    push = queue.push

    async def admitted(body, request, username):
        fn = route_utils.get_fn(demo, None, body)
        refusal = refusal_for(queue, fn.concurrency_id, client_of(request), per_client)
        if refusal:
            return False, refusal, "queue_full"
        return await push(body, request, username)

    queue.push = admitted  # type: ignore[method-assign]  # Gradio has no hook before its queue


def refusal_for(queue, lane_name: str, client: str, per_client: int = PER_CLIENT) -> str:
    """Why a request of ``client`` for lane ``lane_name`` may not join ``queue`` now ("" if it may)."""
    if sum(1 for event in _events(queue) if client_of(event.request) == client) >= per_client:
        return f"You have {per_client} requests waiting or running already; wait for their answers first."
    limit = LANES.get(lane_name)
    waiting = queue.event_queue_per_concurrency_id.get(lane_name)
    if limit and waiting is not None and len(waiting.queue) >= limit.waiting:
        return f"The {limit.title} tab is busy ({limit.waiting} requests waiting); please try again in a minute."
    return ""


def client_of(request) -> str:
    """Who sent ``request``: the address it came from, or, behind a proxy that says so (a Hugging
    Face Space, or ``FACEAGE_TRUST_FORWARDED=1``), the first address of its ``X-Forwarded-For``."""
    forwarded = request.headers.get("x-forwarded-for", "") if request is not None else ""
    if forwarded and (os.environ.get("SPACE_ID") or os.environ.get("FACEAGE_TRUST_FORWARDED") == "1"):
        return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return client.host if client else ""


def _events(queue) -> Iterator:
    """Every event waiting in ``queue`` or running."""
    for waiting in queue.event_queue_per_concurrency_id.values():
        yield from waiting.queue
    for job in queue.active_jobs:
        yield from job or ()
