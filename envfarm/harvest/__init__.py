"""envfarm.harvest (see DESIGN.md)."""
