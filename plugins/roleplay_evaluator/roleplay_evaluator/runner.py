"""Running evaluations off the request path, safely across processes and restarts.

An evaluation is claimed with a lease written by compare-and-swap on its
record: the process whose write wins runs it; another process only takes over
once the lease has expired (the first one died). The lease is short
(``evaluator.lease_seconds``) and the running process renews it every third of
that while it works (a heartbeat), so a slow judge never loses its claim and a
crashed process's claim lapses quickly. Pending evaluations are
indexed, and every process scans that index at startup and every
``evaluator.resume_interval`` seconds, so one that was running when a process
stopped is picked up again.

The only in-process state is the set of running asyncio tasks, kept so a
shutdown can cancel them (releasing their leases) and so a request can wait
briefly for the result.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from typing import Any

import attrs

from roleplay_core import NotFound, PreconditionFailed, Transcript, metrics

from .evaluate import evaluate
from .report import DONE, FAILED, PENDING, Evaluation, Report
from .store import EvaluationStore

logger = logging.getLogger("roleplay.evaluator")

def runner_of(kernel) -> Runner:
    """The kernel's runner (one per kernel, in ``kernel.state("evaluator")``: two apps in one process stay apart)."""
    return kernel.state("evaluator").setdefault("runner", lambda: Runner(kernel))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def fetch_transcript(kernel, session_id: str) -> Transcript | None:
    """The transcript, through the kernel hook only (whoever owns sessions answers)."""
    return await kernel.transcript(session_id)


class Runner:
    def __init__(self, kernel) -> None:
        self.kernel = kernel
        self.store = EvaluationStore(kernel.storage)
        #: Who holds a lease: unique per process and kernel.
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self.tasks: dict[str, asyncio.Task] = {}
        self._sweeper: asyncio.Task | None = None
        self._started: dict[str, float] = {}

    @property
    def settings(self) -> Any:
        """The kernel's typed ``evaluator`` settings (``EvaluatorSettings``)."""
        return self.kernel.typed_settings("evaluator")

    # -- starting -------------------------------------------------------------

    def start(self, evaluation_id: str) -> asyncio.Task:
        """Run the evaluation in the background (or return the task already running it here)."""
        task = self.tasks.get(evaluation_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self.run(evaluation_id), name=f"evaluate-{evaluation_id}")
            self.tasks[evaluation_id] = task
            task.add_done_callback(lambda t, key=evaluation_id: self._forget(key, t))
        return task

    def _forget(self, evaluation_id: str, task: asyncio.Task) -> None:
        if self.tasks.get(evaluation_id) is task:
            del self.tasks[evaluation_id]

    async def wait(self, evaluation_id: str, seconds: float) -> None:
        """Wait up to ``seconds`` for the evaluation's task here to finish (never cancels it)."""
        task = self.tasks.get(evaluation_id)
        if task is not None and seconds > 0:
            await asyncio.wait({task}, timeout=seconds)

    async def resume_pending(self) -> list[str]:
        """Start every pending evaluation not leased by a live process; return the ids started."""
        started = []
        for evaluation_id in await self.store.pending_ids():
            try:
                evaluation, _ = await self.store.get(evaluation_id)
            except NotFound:
                await self.store.unmark_pending(evaluation_id)  # index written, record never was
                continue
            if evaluation.status != PENDING:
                await self.store.unmark_pending(evaluation_id)
                continue
            if evaluation.lease_owner is not None and evaluation.lease_until > time.time():
                continue  # a live run holds it (here or in another process)
            if evaluation_id not in self.tasks:
                self.start(evaluation_id)
                started.append(evaluation_id)
        return started

    async def startup(self) -> None:
        await self.resume_pending()
        interval = self.settings.resume_interval
        if interval > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(interval), name="evaluator-sweeper")

    async def _sweep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.resume_pending()
            except Exception:  # storage hiccup: try again next round
                logger.exception("evaluator: scanning pending evaluations failed")

    async def shutdown(self) -> None:
        """Cancel running work; each cancelled run releases its lease so the next process can take it."""
        tasks = list(self.tasks.values()) + ([self._sweeper] if self._sweeper else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()

    # -- running ----------------------------------------------------------------

    async def claim(self, evaluation_id: str) -> Evaluation | None:
        """Take the lease by compare-and-swap; ``None`` when it is done or someone else holds it."""
        lease = self.settings.lease_seconds
        while True:
            try:
                evaluation, version = await self.store.get(evaluation_id)
            except NotFound:
                return None
            if evaluation.status != PENDING:
                return None
            # A live lease stops everyone, this process included: one run at a time, whoever asks.
            if evaluation.lease_owner is not None and evaluation.lease_until > time.time():
                return None
            mine = attrs.evolve(evaluation, lease_owner=self.owner, lease_until=time.time() + lease,
                                attempts=evaluation.attempts + 1)
            try:
                await self.store.swap(mine, version)
                return mine
            except PreconditionFailed:
                continue  # someone wrote in between: look again

    async def finish(self, evaluation_id: str, **changes) -> Evaluation | None:
        """Write the final state, only while we still hold the lease."""
        while True:
            try:
                evaluation, version = await self.store.get(evaluation_id)
            except NotFound:  # deleted under us: nothing left to finish
                await self.store.unmark_pending(evaluation_id)
                return None
            if evaluation.status != PENDING or evaluation.lease_owner != self.owner:
                return None
            final = attrs.evolve(evaluation, lease_owner=None, lease_until=0.0, finished_at=now(), **changes)
            try:
                await self.store.swap(final, version)
            except PreconditionFailed:
                continue
            await self.store.unmark_pending(evaluation_id)
            started = self._started.get(evaluation_id)
            if started is not None:
                metrics.evaluation(final.status, time.perf_counter() - started)
            return final

    async def keep(self, evaluation_id: str) -> None:
        """Renew our lease every third of ``lease_seconds`` until cancelled or lost (the heartbeat)."""
        lease = self.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                evaluation, version = await self.store.get(evaluation_id)
                if evaluation.status != PENDING or evaluation.lease_owner != self.owner:
                    return  # finished, or lost to another process after a stall: finish() will see it
                await self.store.swap(attrs.evolve(evaluation, lease_until=time.time() + lease), version)
            except NotFound:
                return
            except PreconditionFailed:
                continue  # written in between (by us finishing, or a stale view): look again next beat
            except Exception:  # a storage hiccup: two thirds of the lease are left, try again
                logger.warning("evaluator: could not renew the lease of %s", evaluation_id, exc_info=True)

    async def release(self, evaluation_id: str) -> None:
        try:
            evaluation, version = await self.store.get(evaluation_id)
            if evaluation.lease_owner == self.owner and evaluation.status == PENDING:
                await self.store.swap(attrs.evolve(evaluation, lease_owner=None, lease_until=0.0), version)
        except Exception:  # best effort: the lease expires anyway
            logger.debug("evaluator: could not release lease of %s", evaluation_id, exc_info=True)

    async def run(self, evaluation_id: str) -> None:
        evaluation = await self.claim(evaluation_id)
        if evaluation is None:
            return
        heartbeat = asyncio.get_running_loop().create_task(self.keep(evaluation_id), name=f"lease-{evaluation_id}")
        self._started[evaluation_id] = time.perf_counter()  # finish() reports the duration (metrics)
        try:
            await self._run_claimed(evaluation_id, evaluation)
        finally:
            self._started.pop(evaluation_id, None)
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _run_claimed(self, evaluation_id: str, evaluation: Evaluation) -> None:
        try:
            if evaluation.attempts > self.settings.max_attempts:
                await self.finish(evaluation_id, status=FAILED,
                                  reason=f"gave up after {evaluation.attempts - 1} interrupted attempts")
                return
            transcript = await fetch_transcript(self.kernel, evaluation.session_id)
            if transcript is None:
                await self.finish(evaluation_id, status=FAILED, reason="the practice session no longer exists")
                return
            model = self.settings.model.strip() or None
            report = await evaluate(
                self.kernel, transcript, evaluation.upto_seq,
                model=model,
                judge_timeout=self.settings.judge_timeout,
                review_below=self.settings.review_below,
            )
            report = await self.store.save_report(evaluation_id, report)
            await self.finish(evaluation_id, **summary(report))
        except asyncio.CancelledError:
            await asyncio.shield(self.release(evaluation_id))
            raise
        except Exception as exc:
            logger.exception("evaluator: evaluation %s failed", evaluation_id)
            await self.finish(evaluation_id, status=FAILED, reason=f"the evaluator hit an error: {type(exc).__name__}")


def summary(report: Report) -> dict:
    """What the evaluation record keeps of its report, for listings and progress."""
    return {
        "status": DONE,
        "overall_score": report.overall_score,
        "passed": report.passed,
        "scores": {r.criterion_id: r.score for r in report.criteria if r.score is not None},
        "titles": {r.criterion_id: r.title for r in report.criteria},
    }
