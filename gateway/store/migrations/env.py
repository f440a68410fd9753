from alembic import context
from sqlalchemy import text

from gateway.store.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":  # replicas starting together: one migrates, the others wait
        connection.execute(text("SELECT pg_advisory_xact_lock(7201612)"))
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
