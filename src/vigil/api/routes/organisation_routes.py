"""Owner organisations (建设/使用单位). Changes audited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.routes import API_PREFIX, page_json
from vigil.registry import organisations

router = APIRouter(prefix=API_PREFIX, tags=["organisations"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Permission.REGISTRY_WRITE))]


class OrganisationEdit(BaseModel):
    code: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    industry_code: str | None = Field(default=None, max_length=2)
    region_code: str | None = Field(default=None, max_length=8)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=40)
    sla_notes: str | None = Field(default=None, max_length=4000)


class OrganisationCreate(OrganisationEdit):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)


@router.get("/organisations")
async def list_organisations(
    ctx: Ctx,
    principal: Reader,
    region: Annotated[str | None, Query(max_length=8)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        page = await organisations.list_organisations(
            conn, scope_of(principal), region=region, text=q, offset=offset, limit=limit
        )
    return page_json(page)


@router.get("/organisations/{org_id}")
async def get_organisation(org_id: int, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        return asdict(await organisations.get_organisation(conn, scope_of(principal), org_id))


@router.post("/organisations", status_code=201)
async def create_organisation(
    body: OrganisationCreate, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True)
    async with ctx.engine.begin() as conn:
        item = await organisations.create_organisation(
            conn, scope_of(principal), organisations.OrganisationFields(**values)
        )
        await record_audit(
            conn, ctx, request, principal.username, "organisation.create", str(item.id), values
        )
    return asdict(item)


@router.patch("/organisations/{org_id}")
async def update_organisation(
    org_id: int, body: OrganisationEdit, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    async with ctx.engine.begin() as conn:
        item = await organisations.update_organisation(conn, scope_of(principal), org_id, changes)
        await record_audit(
            conn, ctx, request, principal.username, "organisation.update", str(org_id), changes
        )
    return asdict(item)


@router.delete("/organisations/{org_id}", status_code=204)
async def delete_organisation(
    org_id: int, request: Request, ctx: Ctx, principal: Writer
) -> Response:
    async with ctx.engine.begin() as conn:
        await organisations.delete_organisation(conn, scope_of(principal), org_id)
        await record_audit(
            conn, ctx, request, principal.username, "organisation.delete", str(org_id)
        )
    return Response(status_code=204)
