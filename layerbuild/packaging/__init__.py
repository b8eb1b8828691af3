"""Packages: splitting, shared-library dependencies, staging, Debian packages and feeds."""
