"""Every table, imported in one place for Alembic and the tests."""

from sqlmodel import SQLModel

from app.auth.models import (
    ApiToken,
    LoginSession,
    MagicLink,
    OidcIdentity,
    OidcLogin,
    OidcProvider,
    RateLimitHit,
)
from app.contests.models import Contest, ContestEntry, ContestVote
from app.insights.models import (
    InsightActivity,
    InsightCount,
    InsightPeriod,
    InsightPeriodPair,
    InsightPeriodValue,
)
from app.kernel.audit import AuditEvent
from app.live.models import HeldWord, LiveAnswer, LiveSession
from app.media.models import MediaImage
from app.orgs.models import (
    Department,
    DepartmentLeader,
    ImportJob,
    Organisation,
    Person,
    Role,
    Value,
)
from app.recognition.models import (
    Notification,
    Reaction,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
)
from app.scim.models import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from app.stories.models import Leg, Relay, Story, StoryConsent, StoryMail, StoryValue  # noqa: F401
from app.weekly.models import (
    Feature,
    FeatureConsent,
    Webhook,
    WebhookDelivery,
)

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Contest",
    "ContestEntry",
    "ContestVote",
    "Department",
    "DepartmentLeader",
    "Feature",
    "FeatureConsent",
    "HeldWord",
    "ImportJob",
    "InsightActivity",
    "InsightCount",
    "InsightPeriod",
    "InsightPeriodPair",
    "InsightPeriodValue",
    "LiveAnswer",
    "LiveSession",
    "LoginSession",
    "MagicLink",
    "MediaImage",
    "Notification",
    "OidcIdentity",
    "OidcLogin",
    "OidcProvider",
    "Organisation",
    "Person",
    "RateLimitHit",
    "Reaction",
    "Recognition",
    "RecognitionRecipient",
    "RecognitionValue",
    "Role",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "ScimUser",
    "Value",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
