"""People, API keys, four-eyes approvals; holders get their registration code.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("holders") as batch:
        batch.add_column(sa.Column("code", sa.String(64)))
    op.create_index("uq_holders_code", "holders", ["code"], unique=True)
    op.create_table(
        "persons",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(64)),
        sa.Column("permissions", sa.String(200), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["holder"], ["holders.id"], name=op.f("fk_persons_holder_holders")),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger()),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.ForeignKeyConstraint(
            ["person"], ["persons.id"], name=op.f("fk_api_keys_person_persons")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_person", "api_keys", ["person"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.BigInteger()),
        sa.Column("reason", sa.Text()),
        sa.Column("code", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_state", "approvals", ["state"])


def downgrade() -> None:
    op.drop_table("approvals")
    op.drop_table("api_keys")
    op.drop_table("persons")
    op.drop_index("uq_holders_code", "holders")
    with op.batch_alter_table("holders") as batch:
        batch.drop_column("code")
