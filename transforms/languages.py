"""Language codes as storywire uses them: detected or given, and as wordfreq knows them.

Kept apart from the story steps so that the cleaning child process (timelimit.py), which
detects languages, does not import Beam."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

# Codes a detector or a feed gives for what wordfreq tables under another code: Chinese
# varieties (py3langid says "wuu" or "yue" for Chinese with Latin words or from Hong Kong),
# Norwegian, the Serbo-Croatian standards, Tagalog.
WORDFREQ_CODES = {"wuu": "zh", "yue": "zh", "no": "nb", "nn": "nb", "hr": "sh", "bs": "sh",
                  "sr": "sh", "tl": "fil"}


def wordfreq_code(language: str) -> str:
    """The code wordfreq knows a language by."""
    return WORDFREQ_CODES.get(language, language)


# wordfreq's word lists are its data files "<list>_<language>.msgpack.gz"; its "best"
# list of a language is the large one or else the small one.
_WORD_LIST_FILE = re.compile(r"(?:small|large)_([^._]+)\.msgpack\.gz")


@functools.cache
def wordfreq_languages() -> frozenset[str]:
    """The languages wordfreq has word frequencies for (its "best" word lists), as
    `wordfreq.available_languages` finds them: the files in its data folder. Found here
    without importing wordfreq (its import takes about 0.14 s of CPU, paid by every worker
    and cleaning process that only needs this list), in the copy of wordfreq an import
    would load; where that copy cannot be found, wordfreq is asked."""
    spec = importlib.util.find_spec("wordfreq")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        from wordfreq import available_languages

        return frozenset(available_languages(wordlist="best"))
    data = Path(folders[0]) / "data"
    return frozenset(match.group(1) for file in data.glob("*.msgpack.gz")
                     if (match := _WORD_LIST_FILE.fullmatch(file.name)))


def weighed_languages() -> frozenset[str]:
    """The languages whose words wordfreq has frequencies for, under any of their codes."""
    known = wordfreq_languages()
    return frozenset(known | {code for code, target in WORDFREQ_CODES.items()
                              if target in known})


# Letters of the scripts the weighed languages are written in: Latin, Greek, Cyrillic,
# Hebrew, Arabic (Arabic, Persian, Urdu), Devanagari (Hindi), Bengali, Tamil, Chinese,
# Japanese and Korean. A language wordfreq comes to weigh in another script is added here.
_WEIGHED_SCRIPT_LETTERS = re.compile(
    "[A-Za-z\u00aa\u00b5\u00ba\u00c0-\u024f\u1e00-\u1eff"  # Latin
    "\u0370-\u03ff\u1f00-\u1fff\u0400-\u052f"  # Greek, Cyrillic
    "\u0590-\u05ff\ufb1d-\ufb4f"  # Hebrew
    "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefc"  # Arabic
    "\u0900-\u09ff\u0b80-\u0bff"  # Devanagari, Bengali, Tamil
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff21-\uff3a\uff41-\uff5a"
    "\uff66-\uffdc\U00020000-\U0003134f]")  # CJK, kana, Hangul
_LETTERS = re.compile(r"[^\W\d_]")


def in_weighed_scripts(text: str) -> bool:
    """Whether most of the letters of `text` are in the scripts of the weighed languages
    (True for text without letters). A detector that chooses among those languages names
    one of them for Thai or Georgian too, with confidence."""
    letters = len(_LETTERS.findall(text))
    return 2 * len(_WEIGHED_SCRIPT_LETTERS.findall(text)) >= letters
