"""envfarm.testing (see DESIGN.md)."""
