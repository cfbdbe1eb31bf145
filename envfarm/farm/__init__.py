"""envfarm.farm (see DESIGN.md)."""
