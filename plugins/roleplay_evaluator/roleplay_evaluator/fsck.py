"""The evaluator's part of ``roleplay storage fsck``: its indexes against its evaluation records.

- Every evaluation still pending is in the pending index (the startup scan finds it);
  ``--repair`` adds a missing entry. An entry of an evaluation that is finished or gone
  is reported; ``--repair`` removes it, as the runner itself would on its next scan.
- Every evaluation is in its owner's index (``--repair`` adds it); an owner's entry of an
  evaluation that does not exist is reported and left alone (listings skip it).
- A finished (``done``) evaluation has its report (not repairable: reported).
"""

from __future__ import annotations

import json
from typing import Any

from roleplay_core import converter

from .report import DONE, PENDING, Evaluation
from .store import ROOT, EvaluationStore, evaluation_key, pending_key, report_key, user_prefix, valid_id


async def check(kernel: Any, fsck: Any) -> None:
    keys = set(fsck.keys)
    store = EvaluationStore(kernel.storage)
    evaluations: dict[str, Evaluation] = {}
    prefix = f"{ROOT}/evaluations/"
    for key in fsck.under(prefix):
        evaluation_id = key[len(prefix):]
        if "/" in evaluation_id or not valid_id(evaluation_id):
            continue
        try:
            evaluations[evaluation_id] = converter.structure(json.loads((await kernel.storage.get(key)).data),
                                                             Evaluation)
        except (ValueError, TypeError, KeyError) as exc:
            fsck.problem(key, f"evaluation record cannot be read: {type(exc).__name__}: {exc}")
    fsck.checked["evaluations"] = len(evaluations)
    for evaluation_id, evaluation in evaluations.items():
        if evaluation.status == PENDING and pending_key(evaluation_id) not in keys:
            if fsck.repair:
                await kernel.storage.put(pending_key(evaluation_id), b"{}")
            fsck.problem(pending_key(evaluation_id), "pending evaluation missing from the pending index "
                         "(no process would resume it)", repaired=fsck.repair)
        owner = user_prefix(evaluation.user_id) + evaluation_id
        if owner not in keys:
            if fsck.repair:
                await kernel.storage.put(owner, b"{}")
            fsck.problem(owner, "evaluation missing from its owner's index", repaired=fsck.repair)
        if evaluation.status == DONE and report_key(evaluation_id) not in keys:
            fsck.problem(report_key(evaluation_id), "a done evaluation without its report")
    for key in fsck.under(f"{ROOT}/pending/"):
        evaluation_id = key.rsplit("/", 1)[-1]
        evaluation = evaluations.get(evaluation_id)
        if evaluation is None or evaluation.status != PENDING:
            state = "does not exist" if evaluation is None else f"is {evaluation.status}"
            if fsck.repair:
                await store.unmark_pending(evaluation_id)
            fsck.problem(key, f"pending index entry of an evaluation that {state}", repaired=fsck.repair)
    for key in fsck.under(f"{ROOT}/users/"):
        evaluation_id = key.rsplit("/", 1)[-1]
        if evaluation_id not in evaluations and evaluation_key(evaluation_id) not in keys:
            fsck.problem(key, "owner's index entry of an evaluation that does not exist; listings skip it")
