"""Settings, read from the environment (``WORKFLOW_*``) once and passed to whatever needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """How this installation runs. Every field can be set as ``WORKFLOW_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_", frozen=True, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str | None = None
    definitions_dir: Path = Path("definitions")
    sqlite_busy_timeout_seconds: float = 30.0
    pool_size: int = 5

    @property
    def effective_database_url(self) -> str:
        """The database to use: ``database_url`` if set, otherwise a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'workflow.db').as_posix()}"
