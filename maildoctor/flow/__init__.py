"""Flows: decision trees as data (YAML), validated as a model and as a graph."""
