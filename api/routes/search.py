"""Searching the cases a person may see: GET /search?q=..."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import allowed, read_only
from api.pages import render_page
from api.security import Visitor
from api.views import search_results
from core.access import Action
from core.search import MAX_QUERY, QueryProblem, parse_query
from db.session import Session

router = APIRouter()
# Searching finds exactly the cases the person could find in the case list.
lister = allowed(Action.LIST_CASES)


@router.get("/search")
def search(
    request: Request,
    q: str = "",
    seen: Visitor = Depends(lister),
    session: Session = Depends(read_only),
) -> Response:
    """The search page: the box, then the best matches (the newest, when very many match),
    or why the search cannot run."""
    typed = q.strip()
    if not typed:
        return render_page(request, "pages/search.html", query="", found=None, problem="")
    try:
        terms = parse_query(typed)
    except QueryProblem as problem:
        return render_page(
            request,
            "pages/search.html",
            status_code=400,
            query=typed[:MAX_QUERY],
            found=None,
            problem=str(problem),
        )
    return render_page(
        request,
        "pages/search.html",
        query=typed,
        found=search_results(session, seen.actor, seen.school_id, terms),
        problem="",
    )
