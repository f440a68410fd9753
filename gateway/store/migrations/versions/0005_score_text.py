"""an exact score is as long as its fraction: results.score becomes text

A score is kept exact, as a fraction. Inputs are bounded at the boundary (4 decimals, below a billion), but the
denominators of several indicators multiply: the exact score of a plan of ten indicators with admissible targets
can need well over 64 characters, which the old varchar(64) refused on PostgreSQL (a crashed tick).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.alter_column("score", type_=sa.Text(), existing_type=sa.String(64), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.alter_column("score", type_=sa.String(64), existing_type=sa.Text(), existing_nullable=False)
