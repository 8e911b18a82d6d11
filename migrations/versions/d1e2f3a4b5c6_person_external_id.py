"""person external id: the identity system's stable id (SCIM externalId, HR number)

Revision ID: d1e2f3a4b5c6
Revises: c33af673330c
Create Date: 2026-12-04 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "d1e2f3a4b5c6"
down_revision: str | None = "c33af673330c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_person_org_id_external_id", ["org_id", "external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint("uq_person_org_id_external_id", type_="unique")
        batch_op.drop_column("external_id")
