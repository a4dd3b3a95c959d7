"""A launched credential in the standard forms badge platforms and registries read: the Open Badges 3.0
``Achievement`` (1EdTech), as a JSON-LD document whose context the project ships (``workflow/standards/``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta

from workflow.services.summary import Summary
from workflow.services.views import CredentialDetail

STANDARDS = Path(__file__).resolve().parent.parent / "standards"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
# Each context an export names, and the copy shipped with the project that it resolves to (no network).
CONTEXTS = {OB_CONTEXT: "ob_v3p0_context-3.0.3.json"}


@cache
def context_document(url: str) -> dict[str, Any]:
    """The JSON-LD context document at ``url``, read from the copy shipped with the project.

    Raises:
        KeyError: for a context the project does not ship.
    """
    return json.loads((STANDARDS / CONTEXTS[url]).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Issuer:
    """Who issues the credential: the institution (the top of the org tree) and the faculty offering it."""

    key: str
    name: str
    faculty: str = ""


def achievement(detail: CredentialDetail, summary: Summary, issuer: Issuer, base_url: str) -> dict[str, Any]:
    """The Open Badges 3.0 ``Achievement`` of a credential, with the JSON-LD context of the standard.

    The Achievement class holds no dates of its own: the content review cycle, the hard expiry of the offer and
    the expiry of issued credentials are said in the criteria; :func:`awarded` turns the last into the
    ``expirationDate`` of each credential awarded.
    """
    base = base_url.rstrip("/")
    data = detail.data
    page = f"{base}/credentials/{detail.id}"
    outcomes = [str(o) for o in data.get("learning_outcomes") or []]
    narrative = ["Learners who complete it show that they can:", *(f"- {o}" for o in outcomes)]
    for item in summary.items:
        if item.key in ("assessment_type", "identity_verification", "prerequisites", "time_period") and item.text:
            narrative.append(f"{item.title}: {item.text}.")
    for item in summary.also:
        if item.text and item.key != "notional_hours":
            narrative.append(f"{item.title}: {item.text}.")
    document: dict[str, Any] = {
        "@context": [OB_CONTEXT],
        "id": f"{base}/api/v1/credentials/{detail.id}/achievement",
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": detail.title,
        "description": str(data.get("description") or data.get("purpose") or detail.title),
        "criteria": {"id": f"{page}/summary", "narrative": "\n".join(narrative)},
        "creator": profile(issuer, base),
        "humanCode": f"MC-{detail.id}",
    }
    if outcomes:
        document["alignment"] = [
            {"type": ["Alignment"], "targetName": outcome, "targetUrl": f"{page}/summary#outcome-{n}",
             "targetType": "ext:LearningOutcome", "targetFramework": detail.title}
            for n, outcome in enumerate(outcomes, start=1)]
    if data.get("credit_bearing") and isinstance(data.get("credits"), (int, float)):
        document["creditsAvailable"] = float(data["credits"])
    if data.get("pass_mark"):
        document["resultDescription"] = [{
            "id": f"{page}/summary#pass-mark", "type": ["ResultDescription"], "name": "Pass mark",
            "resultType": "Status" if not str(data["pass_mark"]).rstrip().endswith("%") else "Percent",
            "requiredValue": str(data["pass_mark"]).strip().rstrip("%").strip()
            if str(data["pass_mark"]).rstrip().endswith("%") else str(data["pass_mark"]),
        }]
    if issuer.faculty:
        document["fieldOfStudy"] = issuer.faculty
    if data.get("participation_mode"):
        document["tag"] = [str(data["participation_mode"])]
    return document


def profile(issuer: Issuer, base_url: str) -> dict[str, Any]:
    """The issuer's ``Profile``: the institution, at the service's address."""
    return {"id": f"{base_url.rstrip('/')}/issuers/{issuer.key}", "type": ["Profile"], "name": issuer.name,
            "url": base_url.rstrip("/")}


def awarded(document: dict[str, Any], *, learner: str, on: date, expiry_months: int | None) -> dict[str, Any]:
    """A minimal ``AchievementCredential`` awarding ``document`` to ``learner`` (an IRI) on ``on``, expiring
    ``expiry_months`` later when issued credentials expire; unsigned (a badge platform signs what it issues)."""
    achievement_only = {k: v for k, v in document.items() if k != "@context"}
    issued = datetime.combine(on, time(), tzinfo=UTC)
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"{document['id']}/awarded/{on.isoformat()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": document["name"],
        "issuer": document["creator"],
        "issuanceDate": issued.isoformat().replace("+00:00", "Z"),
        "credentialSubject": {"id": learner, "type": ["AchievementSubject"], "achievement": achievement_only},
    }
    if expiry_months:
        until = issued + relativedelta(months=expiry_months)
        credential["expirationDate"] = until.isoformat().replace("+00:00", "Z")
    return credential
