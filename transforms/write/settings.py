"""What an output's stories depend on beyond its tables: the main language that weighs its
story vectors (stories/vectors.py: terms of other languages carry their language in their
ids, the main language's do not). A run with another main language would compare its
vectors with stored ones that cannot match, and silently start every story anew, so the
output keeps the language it was written with, in `<output>/_storywire.json`.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from storywire.transforms.languages import wordfreq_code

SETTINGS_FILE = "_storywire.json"


def stored_language(output: str) -> str | None:
    """The main language an output's stories were weighed with; None when it does not say
    (a new output, or one written before outputs kept it)."""
    path = FileSystems.join(output, SETTINGS_FILE)
    if not FileSystems.exists(path):
        return None
    try:
        with FileSystems.open(path) as handle:
            language = json.loads(handle.read().decode("utf-8")).get("language")
    except (OSError, ValueError, AttributeError):
        return None
    return language if isinstance(language, str) else None


def language_problem(output: str, language: str) -> str | None:
    """Why a run with main `language` must not write into `output`; None when it may."""
    stored = stored_language(output)
    if stored is None or wordfreq_code(stored) == wordfreq_code(language):
        return None
    return (f"{output} holds stories whose words were weighed with --language {stored}; "
            f"with --language {language} no new article would continue them. Run with "
            f"--language {stored}, or write to a new --output")


def keep_language(output: str, language: str) -> None:
    """Record the main language of an output that has none recorded yet."""
    if stored_language(output) is not None:
        return
    path = FileSystems.join(output, SETTINGS_FILE)
    with FileSystems.create(path + ".tmp") as handle:
        handle.write(json.dumps({"language": language}).encode("utf-8"))
    FileSystems.rename([path + ".tmp"], [path])
