"""privacy: erasure settings per organisation, when a person was deactivated, consent text

Revision ID: e12c00000001
Revises: e10b00000001
Create Date: 2026-12-04 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.kernel.types

revision: str = "e12c00000001"
down_revision: str | None = "e10b00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL columns get server defaults so that databases holding rows upgrade.
    with op.batch_alter_table("featureconsent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answered_text", sa.String(length=1000), nullable=False, server_default="")
        )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "erase_given", sa.String(length=10), nullable=False, server_default="anonymise"
            )
        )
        batch_op.add_column(sa.Column("erase_after_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deactivated_at", app.kernel.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("erase_after_days")
        batch_op.drop_column("erase_given")
    with op.batch_alter_table("featureconsent", schema=None) as batch_op:
        batch_op.drop_column("answered_text")
