"""Administration pages for an organisation's admins."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.access import AdminDep
from app.web import render

router = APIRouter(prefix="/{org}/admin", include_in_schema=False)


@router.get("")
def admin_index(request: Request, m: AdminDep) -> Response:
    return render(request, "admin/index.html")
