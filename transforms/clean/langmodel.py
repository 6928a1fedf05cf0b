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
from array import array
from importlib.metadata import version
from pathlib import Path

# Where a copy is kept: $STORYWIRE_CACHE, else storywire/ in the XDG cache folder.
CACHE_ENV = "STORYWIRE_CACHE"
_ARRAY_TYPES = {2: "H", 4: "I", 8: "L"}  # unsigned NumPy item size -> array typecode


def cache_folder() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "storywire"


def copy_path(languages: frozenset[str]) -> Path:
    """The copy of the model narrowed to `languages`, for the py3langid installed."""
    key = hashlib.sha256(" ".join(sorted(languages)).encode()).hexdigest()[:16]
    return cache_folder() / f"py3langid-{version('py3langid')}-{key}.npz"


def language_identifier(languages: frozenset[str]):
    """py3langid's identifier with probabilities that add up to one, choosing among those of
    `languages` it knows: from the cached copy, or made from the packaged model (and the
    copy written)."""
    path = copy_path(languages)
    try:
        return _read_copy(path)
    except Exception:  # noqa: BLE001 - none yet, or unreadable: a cache never stops a run
        pass
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.nb_classes if code in languages])
    try:
        _write_copy(identifier, path)
    except OSError:
        pass  # a read-only home or a full disk: the next process reads the packaged model
    return identifier


def _write_copy(identifier, path: Path) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own, then renamed: a reader sees the whole copy or none, whatever
    # other processes write at the same time.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".langid-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, ptc=np.ascontiguousarray(identifier.nb_ptc),
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


def _read_copy(path: Path):
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    with np.load(path, allow_pickle=False) as data:
        return LanguageIdentifier(
            data["ptc"], data["pc"], data["classes"].tolist(), _as_array(data["nextmove"]),
            data["output"].tolist(), norm_probs=True, tk_row=_as_array(data["row"]))


def _as_array(values) -> array:
    """A NumPy array of unsigned integers as the stdlib array py3langid indexes."""
    out = array(_ARRAY_TYPES[values.dtype.itemsize])
    out.frombytes(values.tobytes())
    return out
