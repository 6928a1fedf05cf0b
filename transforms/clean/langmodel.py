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
from array import array
from importlib.metadata import version

from storywire.transforms.cache import from_copy

_ARRAY_TYPES = {2: "H", 4: "I", 8: "L"}  # unsigned NumPy item size -> array typecode
# Temporary files of copies being written (cache.py removes those left by killed writers).
_WRITING = ".langid-"


def copy_name(languages: frozenset[str]) -> str:
    """The name of the copy of the model narrowed to `languages`, for the py3langid
    installed."""
    key = hashlib.sha256(" ".join(sorted(languages)).encode()).hexdigest()[:16]
    return f"py3langid-{version('py3langid')}-{key}.npz"


def language_identifier(languages: frozenset[str]):
    """py3langid's identifier with probabilities that add up to one, choosing among those of
    `languages` it knows: from the cached copy, or made from the packaged model (and the
    copy written)."""
    return from_copy(copy_name(languages), _WRITING, lambda arrays: _read(arrays, languages),
                     lambda: _narrowed(languages), lambda made: _arrays(made, languages))


def _narrowed(languages: frozenset[str]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.nb_classes if code in languages])
    return identifier


def _arrays(identifier, languages: frozenset[str]) -> dict:
    import numpy as np

    return dict(languages=np.array(sorted(languages)),
                ptc=np.ascontiguousarray(identifier.nb_ptc),
                pc=np.asarray(identifier.nb_pc),
                classes=np.array(identifier.nb_classes),
                nextmove=np.frombuffer(identifier.tk_nextmove,
                                       dtype=f"u{identifier.tk_nextmove.itemsize}"),
                row=np.frombuffer(identifier.tk_row, dtype=f"u{identifier.tk_row.itemsize}"),
                output=np.asarray(identifier.tk_output, dtype=np.int32))


def _read(data: dict, languages: frozenset[str]):
    from py3langid.langid import LanguageIdentifier

    if data["languages"].tolist() != sorted(languages):
        raise ValueError("the copy holds the model of other languages")
    return LanguageIdentifier(
        data["ptc"], data["pc"], data["classes"].tolist(), _as_array(data["nextmove"]),
        data["output"].tolist(), norm_probs=True, tk_row=_as_array(data["row"]))


def _as_array(values) -> array:
    """A NumPy array of unsigned integers as the stdlib array py3langid indexes."""
    out = array(_ARRAY_TYPES[values.dtype.itemsize])
    out.frombytes(values.tobytes())
    return out
