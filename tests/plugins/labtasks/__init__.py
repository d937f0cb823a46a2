"""A package of tasks that lives outside the toolkit's tree (the plug-in tests import it from tests/plugins)."""
