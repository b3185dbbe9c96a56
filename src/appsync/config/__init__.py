"""appsync.yaml: environments, apps, defaults and bindings (DESIGN section 7)."""

from __future__ import annotations

from appsync.config.model import CONFIG_FILE, AppsyncConfig, Environment, load_config

__all__ = ["CONFIG_FILE", "AppsyncConfig", "Environment", "load_config"]
