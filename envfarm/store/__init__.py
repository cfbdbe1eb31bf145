"""envfarm.store (see DESIGN.md)."""
