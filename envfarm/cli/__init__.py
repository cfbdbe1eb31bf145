"""envfarm.cli (see DESIGN.md)."""
