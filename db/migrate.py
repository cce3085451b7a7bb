"""Run Alembic migrations from code (the CLI, `make run` and the tests all use this)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from core.settings import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "db" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    command.upgrade(alembic_config(url), "head")


def schema_behind(url: str) -> str:
    """Empty if the database at `url` answers and has the newest schema; else what is wrong,
    in words (for the readiness probe: a process should not take work before migrations)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from db.session import engine_for

    newest = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    try:
        with engine_for(url).connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        return f"the database does not answer ({type(error).__name__})"
    if current != newest:
        return (
            f"the database's schema is at {current or 'nothing'}, not {newest}: run the migrations"
        )
    return ""
