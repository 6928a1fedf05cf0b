"""Where a path lives: on this machine's filesystem, or on an object store (gs://, s3://)
reached through Beam's filesystems."""

from __future__ import annotations


def is_local(path: str) -> bool:
    """A path of this machine's filesystem (no scheme): walked, locked and renamed with the
    operating system's own calls, where object stores need Beam's filesystems."""
    return "://" not in path
