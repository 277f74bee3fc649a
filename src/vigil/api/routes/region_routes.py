"""Administrative regions and the region tree with point counts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.routes import API_PREFIX
from vigil.registry import regions

router = APIRouter(prefix=API_PREFIX, tags=["regions"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Permission.REGISTRY_WRITE))]


class RegionBody(BaseModel):
    code: str = Field(min_length=2, max_length=8)
    name: str = Field(min_length=1, max_length=100)


@router.get("/regions/tree")
async def region_tree(ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Regions in scope (with their ancestors) and point counts aggregated up the tree."""
    async with ctx.engine.connect() as conn:
        nodes = await regions.region_tree(conn, scope_of(principal))
    return {"nodes": [asdict(node) for node in nodes]}


@router.get("/regions")
async def list_regions(ctx: Ctx, principal: Reader, parent: str | None = None) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        items = await regions.list_regions(conn, scope_of(principal), parent=parent)
    return {"items": [asdict(item) for item in items]}


@router.get("/regions/{code}")
async def get_region(code: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        return asdict(await regions.get_region(conn, scope_of(principal), code))


@router.post("/regions", status_code=201)
async def upsert_region(
    body: RegionBody, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    """Create a region, or rename it if the code exists."""
    async with ctx.engine.begin() as conn:
        region = await regions.upsert_region(conn, scope_of(principal), body.code, body.name)
        await record_audit(
            conn, ctx, request, principal.username, "region.create", region.code,
            {"name": region.name},
        )  # fmt: skip
    return asdict(region)


@router.delete("/regions/{code}", status_code=204)
async def delete_region(code: str, request: Request, ctx: Ctx, principal: Writer) -> Response:
    async with ctx.engine.begin() as conn:
        await regions.delete_region(conn, scope_of(principal), code)
        await record_audit(conn, ctx, request, principal.username, "region.delete", code)
    return Response(status_code=204)
