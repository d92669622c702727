"""Errors of the archive and restore (apart from the archive code, so the CLI's error handling
does not import pyarrow)."""


class ArchiveError(RuntimeError):
    """An archive or restore refused: the message names the table, partition or file and the rule."""


class ChecksumError(ArchiveError):
    """A file or its rows differ from what the manifest (or the catalogue) recorded."""
