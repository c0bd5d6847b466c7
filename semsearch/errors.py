"""Domain errors. Each carries a one-line message that names the fix.

The CLI turns any :class:`SemsearchError` into that line on stderr and its exit
code; the core only raises.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes, grep-like."""

    OK = 0
    NO_RESULTS = 1
    ERROR = 2
    INTERRUPTED = 130
    PIPE_CLOSED = 141  # the reader of stdout went away (`| head -1`), as a shell reports SIGPIPE


class SemsearchError(Exception):
    """A problem the user can fix; the message says how."""

    exit_status: ExitStatus = ExitStatus.ERROR


class BadInputError(SemsearchError):
    """A path, option or query the command cannot use."""


class NoTextFilesError(SemsearchError):
    """The folder holds nothing to index."""


class IndexNotFoundError(SemsearchError):
    """No index where one was expected."""


class CorruptIndexError(SemsearchError):
    """The index on disk cannot be read, or is not a semsearch index."""


class IndexUnreadableError(SemsearchError):
    """The index is there, but the user may not read it."""


class NewerIndexError(CorruptIndexError):
    """The index was made by a newer semsearch: never to be rebuilt or changed by this one."""


class SettingsMismatchError(SemsearchError):
    """The request disagrees with what the index was built with (model, chunking)."""


class ModelUnavailableError(SemsearchError):
    """The model cannot be loaded offline."""


class IndexLockedError(SemsearchError):
    """Another process is writing the index."""


class UnsafeFolderError(SemsearchError):
    """A place semsearch would write to is a link, or is someone else's."""


class NotFoundError(BadInputError):
    """What was asked for is not in the index (a file, a passage)."""


class OutsideRootError(BadInputError):
    """A path that leads out of the indexed folder (``../``, an absolute path elsewhere, a link)."""
