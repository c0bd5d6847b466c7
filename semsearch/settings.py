"""One set of settings, and the one way they are resolved.

Configuration flows: command-line flag > environment variable (``SEMSEARCH_*``) >
the index's own recorded settings > built-in default (``defaults``). Each field says
which environment variable sets it and what kind of setting it is:

- ``shape``: shapes the index (model, backend, chunking); a change needs ``--rebuild``.
- ``remember``: recorded and reused by later runs, but may change (filters, links).
- ``run``: how this run works (batch size, device, file size limit); never recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from . import defaults
from .errors import BadInputError

SHAPE, REMEMBER, RUN = "shape", "remember", "run"

# The catalog has always called the model ``model_id``; everything else calls it ``model``.
_RECORD_NAMES = {"model": "model_id"}


def _setting(default: Any, kind: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"kind": kind, "env": env})


@dataclass(frozen=True)
class Settings:
    """Everything that decides how an index is built and searched.

    ``model`` is the model's recorded id once an index is made (a name or folder
    before); ``chunk_tokens`` None means the default capped to the model's window;
    ``dimension`` is the model's, recorded when the index is made. ``vector_index``
    may change on any run: the vector index is rebuilt from the stored vectors.
    """

    model: str = _setting(defaults.DEFAULT_MODEL, SHAPE, "SEMSEARCH_MODEL")
    backend: str = _setting(defaults.DEFAULT_BACKEND, SHAPE, "SEMSEARCH_BACKEND")
    dimension: int = _setting(0, SHAPE)
    chunk_tokens: int | None = _setting(None, SHAPE)
    overlap: int = _setting(defaults.OVERLAP_TOKENS, SHAPE)
    include: tuple[str, ...] = _setting((), REMEMBER)
    exclude: tuple[str, ...] = _setting((), REMEMBER)
    follow_symlinks: bool = _setting(False, REMEMBER)
    # How passages are searched: auto (exact up to a size, then approximate), flat, ivf, hnsw.
    vector_index: str = _setting(defaults.VECTOR_INDEX, REMEMBER, "SEMSEARCH_VECTOR_INDEX")
    batch_size: int = _setting(defaults.BATCH_SIZE, RUN, "SEMSEARCH_BATCH_SIZE")
    device: str | None = _setting(None, RUN, "SEMSEARCH_DEVICE")
    max_file_size: int = _setting(defaults.MAX_FILE_SIZE, RUN)

    def recorded(self) -> dict[str, Any]:
        """What an index records of these settings (its machine form, e.g. for ``info``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.metadata["kind"] != RUN}

    def to_record(self) -> dict[str, Any]:
        """The catalog's form of :meth:`recorded`."""
        return {_RECORD_NAMES.get(k, k): v for k, v in self.recorded().items()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Settings:
        """Settings as an index recorded them (the inverse of :meth:`to_record`).

        Raises:
            ValueError, TypeError: the record is not a settings record.
        """
        names = {v: k for k, v in _RECORD_NAMES.items()}
        values = {names.get(k, k): v for k, v in record.items()}
        known = {f.name: f for f in fields(cls) if f.metadata["kind"] != RUN}
        values = _typed({k: v for k, v in values.items() if k in known})
        for name, value in values.items():
            _check_recorded(name, value, known[name].default)
        return cls(**values)


def names(kind: str | None = None) -> list[str]:
    """The settings' names, all or of one kind."""
    return [f.name for f in fields(Settings) if kind is None or f.metadata["kind"] == kind]


def resolve(
    flags: Mapping[str, Any] | None = None,
    recorded: Settings | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Each setting from the first source that has it: flag, environment, record, default.

    Args:
        flags: values the caller gave (None or absent: not given).
        recorded: the index's own settings, if there is an index.
        env: the environment (default ``os.environ``).

    Raises:
        BadInputError: an unknown setting, or an environment value of the wrong type.
    """
    flags = dict(flags or {})
    unknown = set(flags) - set(names())
    if unknown:
        raise BadInputError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        var = f.metadata["env"]
        if flags.get(f.name) is not None:
            values[f.name] = flags[f.name]
        elif var and env.get(var):
            values[f.name] = _from_env(var, env[var], f.default)
        elif recorded is not None and f.metadata["kind"] != RUN:
            values[f.name] = getattr(recorded, f.name)
    return Settings(**_typed(values))


def diff(wanted: Settings, recorded: Settings) -> list[str]:
    """The names of the index-shaping settings on which ``wanted`` and ``recorded`` differ."""
    return [name for name in names(SHAPE) if getattr(wanted, name) != getattr(recorded, name)]


def with_(settings: Settings, **changes: Any) -> Settings:
    """A copy with some settings changed (lists become tuples)."""
    return replace(settings, **_typed(changes))


def _typed(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for name in ("include", "exclude"):
        if name in out and out[name] is not None:
            out[name] = tuple(out[name])
    return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_recorded(name: str, value: Any, default: Any) -> None:
    """A recorded value must be of its setting's kind (a catalog can be edited by hand).

    Raises:
        ValueError: it is not.
    """
    if name == "chunk_tokens":
        ok = value is None or (type(value) is int and value > 0)
    elif isinstance(default, tuple):
        ok = all(isinstance(v, str) for v in value)
    elif type(default) is int:
        ok = type(value) is int and value >= 0
    else:
        ok = type(value) is type(default)
    if not ok:
        raise ValueError(f"{name} is {value!r}")


def _from_env(var: str, raw: str, default: Any) -> Any:
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(raw)
        except ValueError:
            raise BadInputError(f"{var}={raw!r} is not a whole number; unset it or give one") from None
    return raw


def check_dimension(recorded: Settings, dimension: int, root: object) -> None:
    """Refuse an embedder whose vectors are not the size the index holds.

    Raises:
        SettingsMismatchError: the model changed under its name.
    """
    from .errors import SettingsMismatchError

    if dimension != recorded.dimension:
        raise SettingsMismatchError(
            f"model {recorded.model} now gives {dimension}-dimensional vectors, the index holds "
            f"{recorded.dimension}; rebuild with `semsearch index {root} --rebuild`"
        )
