"""Checks, registered by name when their module is imported: ``registry.default_registry()`` imports
the modules of ``registry.CHECK_MODULES``; add a new module there. Importing this package alone loads
no check (the TUI's first frame and the flow loader need only the registry's types)."""
