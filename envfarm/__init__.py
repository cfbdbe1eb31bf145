"""envfarm: an open environment farm for agentic RL on software engineering."""

__version__ = "0.1.0"
