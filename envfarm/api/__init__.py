"""envfarm.api (see DESIGN.md)."""
