"""organisation country: whose accessibility law and supervisory body apply

Revision ID: e14000000001
Revises: d1e2f3a4b5c6
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e14000000001"
down_revision: str | None = "d1e2f3a4b5c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country", sa.String(length=2), nullable=False, server_default="NO")
        )
    # Organisations that speak Swedish are Swedish public bodies (Avesta); the rest Norwegian.
    op.execute("UPDATE organisation SET country = 'SE' WHERE locale = 'sv'")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.alter_column("country", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("country")
