"""The pathway graph: which credentials stack into, require or are equivalent to which."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from workflow.services.pathways import WORDS
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(prefix="/pathways", tags=["credentials"])


@router.get("", responses=responses(401))
def pathway_graph(caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """The credentials you may see that name one another, and each link (``relation``: stacks_into, requires,
    equivalent_to)."""
    nodes, links = services.pathways.graph(by=caller)
    return {"credentials": [{"id": n.id, "title": n.title, "state": n.state, "state_title": n.state_title}
                            for n in nodes],
            "links": [{"from": link.source, "to": link.target, "relation": link.relation,
                       "words": WORDS[link.relation]} for link in links]}
