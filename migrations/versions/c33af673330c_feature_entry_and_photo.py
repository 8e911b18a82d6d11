"""feature entry and photo: a competition's winning entry can be featured, with a chosen photo

Revision ID: c33af673330c
Revises: 55bd6a795955
Create Date: 2026-11-23 00:24:22.581460
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "c33af673330c"
down_revision: str | None = "55bd6a795955"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feature", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("image_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feature_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feature_image_id"), ["image_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_feature_entry_id_contestentry",
            "contestentry",
            ["entry_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_feature_image_id_mediaimage", "mediaimage", ["image_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("feature", schema=None) as batch_op:
        batch_op.drop_constraint("fk_feature_image_id_mediaimage", type_="foreignkey")
        batch_op.drop_constraint("fk_feature_entry_id_contestentry", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_feature_image_id"))
        batch_op.drop_index(batch_op.f("ix_feature_entry_id"))
        batch_op.drop_column("image_id")
        batch_op.drop_column("entry_id")
