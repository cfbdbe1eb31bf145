"""envfarm.agent (see DESIGN.md)."""
