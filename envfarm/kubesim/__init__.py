"""envfarm.kubesim (see DESIGN.md)."""
