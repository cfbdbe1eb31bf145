"""envfarm.train (see DESIGN.md)."""
