"""layerbuild: a BitBake-style layered build system."""

__version__ = "0.1.0"
