"""/scim/v2/{org}/...: SCIM 2.0 for identity systems (Microsoft Entra ID), with a bearer token.

Every answer is `application/scim+json`; every error is SCIM's own Error message, never the
app's pages. The routes are thin: parse, check the token, call `users`/`groups`, commit once.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    NotImplementedException,
    PatchOp,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    UnauthorizedException,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import get_settings
from app.db import SAFE_METHODS, SessionDep, SessionFactoryDep
from app.errors import RateLimited
from app.orgs.models import Organisation
from app.scim import groups, tokens, users
from app.scim.schema import (
    DEFAULT_COUNT,
    ENTERPRISE,
    GROUP_SCHEMA,
    MAX_RESULTS,
    POLICY,
    USER_SCHEMA,
    UserModel,
    resource_types,
    schemas,
    service_provider_config,
)
from app.security import csrf_protect, hit

MEDIA_TYPE = "application/scim+json"
SCIM_WRITES_PER_MINUTE = 3000  # per token: a stop for a runaway client, not for Entra
KNOWN_SCHEMAS = {USER_SCHEMA.lower(), ENTERPRISE.lower(), GROUP_SCHEMA.lower()}


def scim_response(payload: Any, status_code: int = 200, **headers: str) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status_code=status_code,
        media_type=MEDIA_TYPE,
        headers=headers or None,
    )


def error_response(exc: SCIMException) -> Response:
    error: Error = exc.to_error()
    response = scim_response(error.model_dump(), status_code=exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


class ScimRoute(APIRoute):
    """Turns every error of a SCIM route (its dependencies included) into a SCIM Error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SCIMException as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                where = ", ".join(
                    ".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3]
                )
                return error_response(InvalidValueException(detail=f"invalid value: {where}"))
            except StarletteHTTPException as exc:  # 413 from the body limit
                failure = SCIMException(detail=str(exc.detail))
                failure.status = exc.status_code
                return error_response(failure)
            except RateLimited as exc:
                too_many = SCIMException(detail="Too many requests: wait and try again")
                too_many.status = 429
                response = error_response(too_many)
                response.headers["Retry-After"] = str(exc.retry_after)
                return response

        return scim_handler


# --- who is calling ----------------------------------------------------------------------------


def scim_org(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    org: Annotated[str, Path(max_length=40)],
) -> Organisation:
    """The organisation whose token came in `Authorization: Bearer`; 401 without a valid one,
    404 when the URL names another organisation (as if it did not exist)."""
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise UnauthorizedException(detail="Send the organisation's SCIM token as a Bearer token")
    token = tokens.token_for(session, raw.strip())
    if token is None:
        raise UnauthorizedException(detail="The SCIM token is not valid (revoked or mistyped)")
    found = session.get(Organisation, token.org_id)
    if found is None or found.slug != org:
        raise NotFoundException(detail="No such organisation for this token")
    request.state.org = found
    if request.method not in SAFE_METHODS:
        hit(session, f"scim:t{token.id}", limit=SCIM_WRITES_PER_MINUTE, per_seconds=60)
    if tokens.stale(token) and token.id is not None:
        if request.method in SAFE_METHODS:
            with factory() as writer:  # GETs read without the write lock: a short write
                tokens.record_use(writer, token.id)
                writer.commit()
        else:
            tokens.record_use(session, token.id)
    return found


ScimOrg = Annotated[Organisation, Depends(scim_org)]
# The token check first (a request without one is a 401), then the app's CSRF rule, which a
# bearer-token request passes: no cookie ever reaches a SCIM handler.
router = APIRouter(
    prefix="/scim/v2/{org}",
    route_class=ScimRoute,
    dependencies=[Depends(scim_org), Depends(csrf_protect)],
    include_in_schema=False,
)


def urls(request: Request, org: Organisation) -> users.Urls:
    return users.Urls(f"{get_settings().base_url.rstrip('/')}/scim/v2/{org.slug}")


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSyntaxException(detail="The body is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object")
    return payload


Body = Annotated[dict[str, Any], Depends(json_body)]


def _paging(request: Request) -> tuple[str | None, int, int]:
    params = request.query_params
    try:
        start = int(params.get("startIndex", "1"))
        count = int(params.get("count", str(DEFAULT_COUNT)))
    except ValueError as exc:
        raise InvalidValueException(detail="startIndex and count are numbers") from exc
    filter_text = params.get("filter") or None
    if filter_text is not None and len(filter_text) > 1000:
        raise InvalidValueException(detail="filter is too long")
    return filter_text, max(1, min(start, 2_147_483_647)), max(0, min(count, MAX_RESULTS))


def _parameters(request: Request, model: Any) -> Any:
    params = request.query_params
    try:
        return ResponseParameters[model].model_validate(
            {
                "attributes": params.get("attributes") or None,
                "excludedAttributes": params.get("excludedAttributes") or None,
            }
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidValueException(detail="attributes or excludedAttributes not valid") from exc


def _dump(resource: Any, context: Context, parameters: Any = None) -> dict[str, Any]:
    return resource.model_dump(scim_ctx=context, response_parameters=parameters)


def _clean_schemas(payload: dict[str, Any], base: str) -> dict[str, Any]:
    """Drop schema URNs nobody here knows (Entra adds its own to Groups) and give a manager
    sent as a bare id (`"manager": "id"` or `{"value": id}`) the `$ref` RFC 7643 asks for."""
    listed = payload.get("schemas")
    if isinstance(listed, list):
        payload["schemas"] = [
            s for s in listed if isinstance(s, str) and s.lower() in KNOWN_SCHEMAS
        ]
    ext = payload.get(ENTERPRISE)
    if isinstance(ext, dict):
        ext["manager"] = _manager_value(ext.get("manager"), base)
        if ext["manager"] is None:
            del ext["manager"]
    return payload


def _manager_value(value: Any, base: str) -> Any:
    if isinstance(value, str):
        value = {"value": value} if value else None
    if isinstance(value, dict):
        if not value.get("value"):
            return None
        if not value.get("$ref"):
            value = {**value, "$ref": f"{base}/Users/{value['value']}"}
    return value


def _validate(model: Any, payload: dict[str, Any], context: Context) -> Any:
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
    except SCIMException:
        raise
    except ValidationError as exc:
        errors = Error.from_validation_errors(exc.errors())
        first = errors[0] if errors else None
        failure = InvalidValueException(detail=first.detail if first else str(exc)[:300])
        if first is not None and first.scim_type:
            failure.scim_type = first.scim_type
        raise failure from exc


def _patch_payload(payload: dict[str, Any], base: str) -> dict[str, Any]:
    """What Entra sends, made readable by scim2-models: a manager as a bare id, a member
    `$ref` of null (it would otherwise have to match)."""
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    for op in operations:
        if not isinstance(op, dict):
            continue
        path = op.get("path")
        if isinstance(path, str) and path.lower().endswith("manager"):
            op["value"] = _manager_value(op.get("value"), base)
        value = op.get("value")
        if isinstance(value, list):
            op["value"] = [
                {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
                for item in value
            ]
        elif isinstance(value, dict) and not path:
            for key in list(value):
                if key.lower().endswith("manager"):
                    value[key] = _manager_value(value[key], base)
    return payload


# --- discovery -------------------------------------------------------------------------------


def _list(items: list[dict[str, Any]], total: int | None = None, start: int = 1) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(items) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(items),
        "Resources": items,
    }


@router.get("/ServiceProviderConfig")
def get_service_provider_config(request: Request, org: ScimOrg) -> Response:
    config = service_provider_config()
    body = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    body["meta"] = {
        "resourceType": "ServiceProviderConfig",
        "location": f"{urls(request, org).base}/ServiceProviderConfig",
    }
    return scim_response(body)


def _schema_dicts(request: Request, org: Organisation) -> list[dict[str, Any]]:
    out = []
    for schema in schemas():
        body = schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {
            "resourceType": "Schema",
            "location": f"{urls(request, org).base}/Schemas/{schema.id}",
        }
        out.append(body)
    return out


def _resource_type_dicts(request: Request, org: Organisation) -> list[dict[str, Any]]:
    out = []
    for resource_type in resource_types():
        body = resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {
            "resourceType": "ResourceType",
            "location": f"{urls(request, org).base}/ResourceTypes/{resource_type.id}",
        }
        out.append(body)
    return out


@router.get("/Schemas")
def list_schemas(request: Request, org: ScimOrg) -> Response:
    return scim_response(_list(_schema_dicts(request, org)))


@router.get("/Schemas/{schema_id}")
def get_schema(request: Request, org: ScimOrg, schema_id: str) -> Response:
    found = [s for s in _schema_dicts(request, org) if s["id"].lower() == schema_id.lower()]
    if not found:
        raise NotFoundException(detail=f"Schema {schema_id[:100]} not found")
    return scim_response(found[0])


@router.get("/ResourceTypes")
def list_resource_types(request: Request, org: ScimOrg) -> Response:
    return scim_response(_list(_resource_type_dicts(request, org)))


@router.get("/ResourceTypes/{type_id}")
def get_resource_type(request: Request, org: ScimOrg, type_id: str) -> Response:
    found = [t for t in _resource_type_dicts(request, org) if t["id"].lower() == type_id.lower()]
    if not found:
        raise NotFoundException(detail=f"ResourceType {type_id[:100]} not found")
    return scim_response(found[0])


# --- Users -----------------------------------------------------------------------------------


@router.get("/Users")
def list_users(request: Request, session: SessionDep, org: ScimOrg) -> Response:
    filter_text, start, count = _paging(request)
    parameters = _parameters(request, UserModel)
    total, page = users.query_users(
        session, org, urls(request, org), filter_text=filter_text, start_index=start, count=count
    )
    items = [_dump(u, Context.SEARCH_RESPONSE, parameters) for u in page]
    return scim_response(_list(items, total, start))


@router.post("/Users")
def create_user(request: Request, session: SessionDep, org: ScimOrg, body: Body) -> Response:
    here = urls(request, org)
    user = _validate(UserModel, _clean_schemas(body, here.base), Context.RESOURCE_CREATION_REQUEST)
    created = users.create_user(session, org, user, here)
    session.commit()
    return scim_response(
        _dump(created, Context.RESOURCE_CREATION_RESPONSE),
        201,
        Location=created.meta.location,
    )


@router.get("/Users/{user_id}")
def get_user(request: Request, session: SessionDep, org: ScimOrg, user_id: str) -> Response:
    parameters = _parameters(request, UserModel)
    user = users.get_user(session, org, user_id, urls(request, org))
    return scim_response(_dump(user, Context.RESOURCE_QUERY_RESPONSE, parameters))


@router.put("/Users/{user_id}")
def replace_user(
    request: Request, session: SessionDep, org: ScimOrg, user_id: str, body: Body
) -> Response:
    here = urls(request, org)
    users.user_row(session, org, user_id)  # another organisation's id: 404 before any check
    user = _validate(
        UserModel, _clean_schemas(body, here.base), Context.RESOURCE_REPLACEMENT_REQUEST
    )
    replaced = users.replace_user(session, org, user_id, user, here)
    session.commit()
    return scim_response(_dump(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Users/{user_id}")
def patch_user(
    request: Request, session: SessionDep, org: ScimOrg, user_id: str, body: Body
) -> Response:
    here = urls(request, org)
    current = users.get_user(session, org, user_id, here)
    patch = _validate(
        PatchOp[UserModel], _patch_payload(body, here.base), Context.RESOURCE_PATCH_REQUEST
    )
    patch.patch(current, scim_policy=POLICY)
    patched = users.replace_user(session, org, user_id, current, here)
    session.commit()
    return scim_response(_dump(patched, Context.RESOURCE_PATCH_RESPONSE))


@router.delete("/Users/{user_id}")
def delete_user(request: Request, session: SessionDep, org: ScimOrg, user_id: str) -> Response:
    users.delete_user(session, org, user_id)
    session.commit()
    return Response(status_code=204)


def _search_body(body: dict[str, Any], model: Any) -> tuple[str | None, int, int, Any]:
    try:
        search = SearchRequest[model].model_validate(body, scim_ctx=Context.SEARCH_REQUEST)
    except SCIMException:
        raise
    except (ValidationError, ValueError) as exc:
        raise InvalidValueException(detail="not a valid SearchRequest") from exc
    parameters = ResponseParameters[model](
        attributes=search.attributes, excluded_attributes=search.excluded_attributes
    )
    start = max(1, min(search.start_index or 1, 2_147_483_647))
    count = DEFAULT_COUNT if search.count is None else max(0, min(search.count, MAX_RESULTS))
    text = str(search.filter) if search.filter is not None else None
    return text, start, count, parameters


@router.post("/Users/.search")
def search_users(request: Request, session: SessionDep, org: ScimOrg, body: Body) -> Response:
    filter_text, start, count, parameters = _search_body(body, UserModel)
    total, page = users.query_users(
        session, org, urls(request, org), filter_text=filter_text, start_index=start, count=count
    )
    items = [_dump(u, Context.SEARCH_RESPONSE, parameters) for u in page]
    return scim_response(_list(items, total, start))


@router.post("/.search")
def search_everything(org: ScimOrg) -> Response:
    raise NotImplementedException(detail="Search /Users/.search or /Groups/.search")


# --- Groups ----------------------------------------------------------------------------------


@router.get("/Groups")
def list_groups(request: Request, session: SessionDep, org: ScimOrg) -> Response:
    filter_text, start, count = _paging(request)
    parameters = _parameters(request, Group)
    total, page = groups.query_groups(
        session, org, urls(request, org), filter_text=filter_text, start_index=start, count=count
    )
    items = [_dump(g, Context.SEARCH_RESPONSE, parameters) for g in page]
    return scim_response(_list(items, total, start))


@router.post("/Groups")
def create_group(request: Request, session: SessionDep, org: ScimOrg, body: Body) -> Response:
    here = urls(request, org)
    group = _validate(Group, _clean_schemas(body, here.base), Context.RESOURCE_CREATION_REQUEST)
    created = groups.create_group(session, org, group, here)
    session.commit()
    return scim_response(
        _dump(created, Context.RESOURCE_CREATION_RESPONSE),
        201,
        Location=str(created.meta.location) if created.meta else "",
    )


@router.post("/Groups/.search")
def search_groups(request: Request, session: SessionDep, org: ScimOrg, body: Body) -> Response:
    filter_text, start, count, parameters = _search_body(body, Group)
    total, page = groups.query_groups(
        session, org, urls(request, org), filter_text=filter_text, start_index=start, count=count
    )
    items = [_dump(g, Context.SEARCH_RESPONSE, parameters) for g in page]
    return scim_response(_list(items, total, start))


@router.get("/Groups/{group_id}")
def get_group(request: Request, session: SessionDep, org: ScimOrg, group_id: str) -> Response:
    parameters = _parameters(request, Group)
    group = groups.get_group(session, org, group_id, urls(request, org))
    return scim_response(_dump(group, Context.RESOURCE_QUERY_RESPONSE, parameters))


@router.put("/Groups/{group_id}")
def replace_group(
    request: Request, session: SessionDep, org: ScimOrg, group_id: str, body: Body
) -> Response:
    here = urls(request, org)
    groups.group_in_org(session, org, group_id)
    group = _validate(Group, _clean_schemas(body, here.base), Context.RESOURCE_REPLACEMENT_REQUEST)
    replaced = groups.replace_group(session, org, group_id, group, here)
    session.commit()
    return scim_response(_dump(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE))


@router.patch("/Groups/{group_id}")
def patch_group(
    request: Request, session: SessionDep, org: ScimOrg, group_id: str, body: Body
) -> Response:
    here = urls(request, org)
    current = groups.get_group(session, org, group_id, here)
    patch = _validate(
        PatchOp[Group], _patch_payload(body, here.base), Context.RESOURCE_PATCH_REQUEST
    )
    patch.patch(current, scim_policy=POLICY)
    groups.replace_group(session, org, group_id, current, here)
    session.commit()
    # RFC 7644 §3.5.2 allows 204; Microsoft asks for it (a big group's members are not sent back).
    return Response(status_code=204)


@router.delete("/Groups/{group_id}")
def delete_group(request: Request, session: SessionDep, org: ScimOrg, group_id: str) -> Response:
    groups.delete_group(session, org, group_id)
    session.commit()
    return Response(status_code=204)


# --- anything else under /scim/v2/{org}: SCIM's 404 or 405, not the app's pages --------------

_ENDPOINTS = ("serviceproviderconfig", "schemas", "resourcetypes", "users", "groups")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_here(request: Request, rest: str, org: ScimOrg) -> Response:
    parts = rest.strip("/").lower().split("/")
    if request.method != "GET" and parts[0] in _ENDPOINTS and len(parts) <= 2:
        not_allowed = SCIMException(detail="This method is not allowed here")
        not_allowed.status = 405
        return error_response(not_allowed)
    raise NotFoundException(detail="No such SCIM endpoint")
