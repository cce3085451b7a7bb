"""Alembic environment: migrations run against the URL the caller configured."""

from __future__ import annotations

from alembic import context

from db.models import Base
from db.search import outside_the_models
from db.session import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
engine = make_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=lambda name, kind, _: kind != "table" or not outside_the_models(name or ""),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
