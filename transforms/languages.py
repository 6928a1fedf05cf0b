"""Language codes as storywire uses them: detected or given, and as wordfreq knows them.

Kept apart from the story steps so that the cleaning child process (timelimit.py), which
detects languages, does not import Beam."""

from __future__ import annotations

# Codes a detector or a feed gives for what wordfreq tables under another code: Chinese
# varieties (py3langid says "wuu" or "yue" for Chinese with Latin words or from Hong Kong),
# Norwegian, the Serbo-Croatian standards, Tagalog.
WORDFREQ_CODES = {"wuu": "zh", "yue": "zh", "no": "nb", "nn": "nb", "hr": "sh", "bs": "sh",
                  "sr": "sh", "tl": "fil"}


def wordfreq_code(language: str) -> str:
    """The code wordfreq knows a language by."""
    return WORDFREQ_CODES.get(language, language)


def weighed_languages() -> frozenset[str]:
    """The languages whose words wordfreq has frequencies for, under any of their codes."""
    from wordfreq import available_languages

    known = set(available_languages(wordlist="best"))
    return frozenset(known | {code for code, target in WORDFREQ_CODES.items()
                              if target in known})
