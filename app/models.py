"""Every table, imported in one place for Alembic and the tests."""

from sqlmodel import SQLModel

from app.auth.models import ApiToken, LoginSession, MagicLink, RateLimitHit
from app.contests.models import Contest, ContestEntry, ContestVote
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
    "LiveAnswer",
    "LiveSession",
    "LoginSession",
    "MagicLink",
    "MediaImage",
    "Notification",
    "Organisation",
    "Person",
    "RateLimitHit",
    "Reaction",
    "Recognition",
    "RecognitionRecipient",
    "RecognitionValue",
    "Role",
    "Value",
    "Webhook",
    "WebhookDelivery",
    "metadata",
]
