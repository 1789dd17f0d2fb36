"""Widgets of the TUI: the walk's step tree, the detail pane and the form's fields."""
