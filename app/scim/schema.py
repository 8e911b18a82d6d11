"""What the SCIM service is: its resource models, the attributes it keeps, its capabilities.

The models are scim2-models' own (`User[EnterpriseUser]`, `Group`); the schemas published on
/Schemas are the library's, narrowed to the attributes this app keeps, so that a client (Entra
ID, a compliance tester) knows that a phone number or an address is not stored here.
"""

from typing import Any

from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    InvalidFilterException,
    Mutability,
    Patch,
    Required,
    ResourceType,
    Schema,
    ScimFilter,
    ScimPolicy,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)

UserModel: Any = User[EnterpriseUser]  # a parameterised generic: a value for mypy, not a type
GroupModel = Group
ENTERPRISE = str(EnterpriseUser.__schema__)
USER_SCHEMA = str(User.__schema__)
GROUP_SCHEMA = str(Group.__schema__)
MAX_RESULTS = 200  # one page at most (ServiceProviderConfig.filter.maxResults)
DEFAULT_COUNT = 100

# The attributes kept (and their sub-attributes); everything else a client sends is dropped.
USER_ATTRIBUTES: dict[str, set[str] | None] = {
    "userName": None,
    "name": {"formatted", "familyName", "givenName"},
    "displayName": None,
    "title": None,
    "active": None,
    "emails": {"value", "type", "primary"},
    "groups": {"value", "$ref", "display", "type"},
}
ENTERPRISE_ATTRIBUTES: dict[str, set[str] | None] = {
    "department": None,
    "manager": {"value", "$ref"},
}
GROUP_ATTRIBUTES: dict[str, set[str] | None] = {
    "displayName": None,
    "members": {"value", "$ref", "type"},
}

# How much of what Entra ID sends departs from RFC 7644, tolerated on purpose:
# - an attribute we do not keep (or a custom extension an admin mapped) is dropped, not refused;
# - `{"op": "Remove", "path": "members", "value": [{"value": id}]}` removes that member;
# - `replace emails[type eq "work"].value` creates the work address when there is none.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


# The app reaches people by e-mail (login links, notifications): a user needs an address. A
# userName that is one is taken when `emails` is missing, but the schema says what is needed.
# `active` too: removing it cannot mean anything for a person, who is active or not (a missing
# `active` on creation still means active, as RFC 7643 leaves it to the service).
REQUIRED = {"emails", "active"}
# Sub-attributes the service fills itself.
READ_ONLY = {("groups", "display")}


def parse_filter(model: Any, text: str) -> ScimFilter[Any]:
    """The filter bound to the endpoint's model; an unknown attribute is an invalidFilter too
    (RFC 7644 §3.4.2.2: false only where one endpoint serves several resource types)."""
    try:
        search = SearchRequest[model].model_validate({"filter": text})
    except (ValidationError, ValueError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        detail = str(errors[0].get("msg")) if errors else str(exc)
        raise InvalidFilterException(detail=detail[:300], filter=text) from exc
    assert search.filter is not None
    return search.filter


def _narrowed(schema: Schema, keep: dict[str, set[str] | None]) -> Schema:
    attributes = []
    for attribute in schema.attributes or []:
        if str(attribute.name) not in keep:
            continue
        if attribute.name in REQUIRED:
            subs_required = [
                s.model_copy(update={"required": Required.true}) if s.name == "value" else s
                for s in attribute.sub_attributes or []
            ]
            attribute = attribute.model_copy(
                update={"required": Required.true, "sub_attributes": subs_required or None}
            )
        subs = keep[str(attribute.name)]
        if subs is not None and attribute.sub_attributes:
            kept = [
                s.model_copy(update={"mutability": Mutability.read_only})
                if (attribute.name, s.name) in READ_ONLY
                else s
                for s in attribute.sub_attributes
                if s.name in subs
            ]
            attribute = attribute.model_copy(update={"sub_attributes": kept})
        attributes.append(attribute)
    return schema.model_copy(update={"attributes": attributes})


def schemas() -> list[Schema]:
    return [
        _narrowed(User.to_schema(), USER_ATTRIBUTES),
        _narrowed(EnterpriseUser.to_schema(), ENTERPRISE_ATTRIBUTES),
        _narrowed(Group.to_schema(), GROUP_ATTRIBUTES),
    ]


def resource_types() -> list[ResourceType]:
    return [ResourceType.from_resource(UserModel), ResourceType.from_resource(Group)]


def service_provider_config(documentation_uri: str | None = None) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=documentation_uri,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="A secret token made for this organisation on the admin page.",
                primary=True,
            )
        ],
    )
