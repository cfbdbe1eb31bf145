"""envfarm.sandbox (see DESIGN.md)."""
