"""The chore_common.testing plugin is enabled in pyproject.toml (addopts)."""
