"""A whole draw ceremony through the generated client, as an integrating
system would run it. Run with the client's own Python; prints one JSON line.

Environment: BASE (the service's URL), OPERATOR and WITNESS (API keys).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from urllib.parse import quote

from shuangsui_client import AuthenticatedClient, Client
from shuangsui_client.api.draws import (
    draws_bundle,
    draws_fairness,
    draws_freeze,
    draws_seed,
    draws_seed_confirm,
)
from shuangsui_client.api.enterprises import enterprises_list
from shuangsui_client.api.inspectors import inspectors_list
from shuangsui_client.api.log import log_consistency, log_entry
from shuangsui_client.api.plans import plans_create_from_template, plans_history
from shuangsui_client.api.reference import reference_read
from shuangsui_client.models import (
    ConsistencyProof,
    DiceAnnouncement,
    DiceReveal,
    DrawBundle,
    DrawFairness,
    DrawOut,
    DrawResult,
    DrawStatus,
    FreezeRequest,
    LogEntryWithProof,
    PageChangeOut,
    PageEnterpriseOut,
    PageInspectorOut,
    PlanOut,
    Problem,
    SeedConfirmation,
    SeedDetail,
)

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
DIGITS = "3827 4619 2837 4652 9183"  # as read out, in groups


def _keyed(key: str) -> AuthenticatedClient:
    base = os.environ["BASE"]
    return AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key")


def main() -> None:
    public = Client(base_url=os.environ["BASE"])
    operator = _keyed(os.environ["OPERATOR"])
    witness = _keyed(os.environ["WITNESS"])
    # HTTP header values are Latin-1 to httpx: the name travels percent-encoded.
    actor = quote("张三")
    out: dict[str, object] = {}

    reference = reference_read.sync(client=public)
    assert reference is not None and not isinstance(reference, Problem)
    out["counties"] = len(reference.to_dict()["counties"])
    enterprises = enterprises_list.sync(client=operator, page_size=5)
    assert isinstance(enterprises, PageEnterpriseOut), enterprises
    inspectors = inspectors_list.sync(client=operator, page_size=5)
    assert isinstance(inspectors, PageInspectorOut), inspectors
    out["directories"] = [enterprises.total, inspectors.total]

    plan = plans_create_from_template.sync(key="2025-training", client=operator, x_actor=actor)
    assert isinstance(plan, PlanOut), plan
    announcement = DiceAnnouncement(ceremony_at=datetime.now(UTC), witnesses=WITNESSES)
    frozen = draws_freeze.sync(
        plan_id=plan.id, client=operator, body=FreezeRequest(seed=announcement), x_actor=actor
    )
    assert isinstance(frozen, DrawOut), frozen
    entered = draws_seed.sync(
        public_id=frozen.public_id,
        client=operator,
        body=DiceReveal(digits=DIGITS, witnesses=WITNESSES),
        x_actor=actor,
    )
    assert isinstance(entered, DrawOut), entered

    wrong = draws_seed_confirm.sync_detailed(
        public_id=frozen.public_id,
        client=witness,
        body=SeedConfirmation(digits="1" * 20),
        x_actor=quote("李公证"),
    )
    assert isinstance(wrong.parsed, Problem), wrong
    out["mismatch"] = [int(wrong.status_code), wrong.parsed.status, wrong.parsed.code]
    out["mismatch_title"] = wrong.parsed.title

    done = draws_seed_confirm.sync(
        public_id=frozen.public_id,
        client=witness,
        body=SeedConfirmation(digits=DIGITS.replace(" ", "")),
        x_actor=quote("李公证"),
    )
    assert isinstance(done, DrawOut), done
    out["public_id"] = done.public_id
    out["status"] = str(done.status)
    out["seed"] = done.seed

    assert done.status == DrawStatus.DONE
    assert isinstance(done.seed_detail, SeedDetail), done.seed_detail
    out["confirmed_by"] = done.seed_detail.confirmed_by

    # The bundle, read as typed classes: its result, its log entries with their proofs.
    bundle = draws_bundle.sync(public_id=frozen.public_id, client=public)
    assert isinstance(bundle, DrawBundle), bundle
    out["bundle_keys"] = sorted(bundle.to_dict())
    assert isinstance(bundle.result, DrawResult), bundle.result
    out["selected"] = [unit.key for stratum in bundle.result.strata for unit in stratum.selected]
    out["tickets"] = [u.ticket for stratum in bundle.result.strata for u in stratum.selected]
    out["frame_units"] = sum(len(stratum.units) for stratum in bundle.frame.strata)
    out["log_kinds"] = [item.entry.kind for item in bundle.log.entries]
    out["bundle_status"] = str(bundle.status)
    out["announced_witnesses"] = bundle.announcement.witnesses
    fairness = draws_fairness.sync(public_id=frozen.public_id, client=public)
    assert isinstance(fairness, DrawFairness), fairness
    out["probabilities"] = [unit.probability for unit in fairness.strata[0].units]
    last = bundle.log.entries[-1]
    entry = log_entry.sync(index=last.index, client=public)
    assert isinstance(entry, LogEntryWithProof), entry
    out["entry"] = [entry.entry.kind, entry.entry_b64 == last.entry_b64, entry.tree_size]
    proof = log_consistency.sync(first=1, second=bundle.log.tree_size, client=public)
    assert isinstance(proof, ConsistencyProof), proof
    out["consistency_root"] = proof.second_root == bundle.log.root_hash
    history = plans_history.sync(plan_id=plan.id, client=operator)
    assert isinstance(history, PageChangeOut), history
    out["plan_actors"] = [change.actor for change in history.items]
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
