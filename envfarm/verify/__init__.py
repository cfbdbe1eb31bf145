"""envfarm.verify (see DESIGN.md)."""
