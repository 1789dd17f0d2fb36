"""The TUI's screens: flow picker → form → walk → remedy, and the help and export dialogs."""
