"""py3langid's model, narrowed to the languages storywire weighs, kept uncompressed in the
user's cache folder.

Every process that tells languages (a worker, an HTML cleaning child, a small run in one
process) loads the model. py3langid's packaged model is LZMA-compressed: decompressing it
and narrowing it to these languages take about 0.4 s of CPU in each, reading the narrowed
copy 0.08 s (benchmarks/results/language-model.txt). The copy is plain NumPy arrays
(read without pickle), named after py3langid's version and the languages it holds, and
written whole or not at all; without a writable cache folder the packaged model is read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from array import array
from importlib.metadata import version
from pathlib import Path

# Where a copy is kept: $STORYWIRE_CACHE, else storywire/ in the XDG cache folder.
CACHE_ENV = "STORYWIRE_CACHE"
_ARRAY_TYPES = {2: "H", 4: "I", 8: "L"}  # unsigned NumPy item size -> array typecode


# A half-written copy of a process killed while writing it (a worker is killed without
# clean-up): removed by the next writer once it is this old.
STALE_SECONDS = 600


def cache_folder() -> Path | None:
    """$STORYWIRE_CACHE, else storywire/ in the XDG cache folder; None without a home to
    put it in (a relative XDG_CACHE_HOME is ignored, as the XDG specification says)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "storywire"
    home = os.path.expanduser("~")
    if not os.path.isabs(home) or home == os.sep:
        return None  # HOME unset or empty: no folder of this user's to write into
    return Path(home) / ".cache" / "storywire"


def copy_path(languages: frozenset[str]) -> Path | None:
    """The copy of the model narrowed to `languages`, for the py3langid installed."""
    folder = cache_folder()
    if folder is None:
        return None
    key = hashlib.sha256(" ".join(sorted(languages)).encode()).hexdigest()[:16]
    return folder / f"py3langid-{version('py3langid')}-{key}.npz"


def language_identifier(languages: frozenset[str]):
    """py3langid's identifier with probabilities that add up to one, choosing among those of
    `languages` it knows: from the cached copy, or made from the packaged model (and the
    copy written)."""
    path = copy_path(languages)
    if path is not None:
        try:
            return _read_copy(path, languages)
        except Exception:  # noqa: BLE001 - none yet, or unreadable: a cache never stops a run
            pass
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.nb_classes if code in languages])
    if path is not None:
        try:
            _write_copy(identifier, languages, path)
        except OSError:
            pass  # a read-only home or a full disk: the next process reads the package
    return identifier


def _write_copy(identifier, languages: frozenset[str], path: Path) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent)
    # A name of its own, then renamed: a reader sees the whole copy or none, whatever
    # other processes write at the same time.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".langid-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, languages=np.array(sorted(languages)),
                     ptc=np.ascontiguousarray(identifier.nb_ptc),
                     pc=np.asarray(identifier.nb_pc),
                     classes=np.array(identifier.nb_classes),
                     nextmove=np.frombuffer(identifier.tk_nextmove,
                                            dtype=f"u{identifier.tk_nextmove.itemsize}"),
                     row=np.frombuffer(identifier.tk_row,
                                       dtype=f"u{identifier.tk_row.itemsize}"),
                     output=np.asarray(identifier.tk_output, dtype=np.int32))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _remove_stale(folder: Path) -> None:
    now = time.time()
    for stale in folder.glob(".langid-*.npz"):
        try:
            if now - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _read_copy(path: Path, languages: frozenset[str]):
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    with np.load(path, allow_pickle=False) as data:
        if data["languages"].tolist() != sorted(languages):
            raise ValueError(f"{path} holds the model of other languages")
        return LanguageIdentifier(
            data["ptc"], data["pc"], data["classes"].tolist(), _as_array(data["nextmove"]),
            data["output"].tolist(), norm_probs=True, tk_row=_as_array(data["row"]))


def _as_array(values) -> array:
    """A NumPy array of unsigned integers as the stdlib array py3langid indexes."""
    out = array(_ARRAY_TYPES[values.dtype.itemsize])
    out.frombytes(values.tobytes())
    return out
