"""What an output's stories depend on beyond its tables: the main language that weighs its
story vectors (stories/vectors.py: terms of other languages carry their language in their
ids, the main language's do not). A run with another main language would compare its
vectors with stored ones that cannot match, and silently start every story anew, so the
output keeps the language it was written with, in `<output>/_storywire.json`.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from storywire.transforms.languages import wordfreq_code, wordfreq_languages

SETTINGS_FILE = "_storywire.json"


class SettingsError(ValueError):
    """An output's settings file that this version cannot read: one line saying why."""


def stored_language(output: str) -> str | None:
    """The main language an output's stories were weighed with; None when it does not say
    (a new output, or one written before outputs kept it). SettingsError for a settings
    file that is there but not as storywire writes it: taken as "none", it would be
    overwritten with this run's language, and an output weighed in German silently
    continued in English."""
    path = FileSystems.join(output, SETTINGS_FILE)
    if not FileSystems.exists(path):
        return None
    try:
        with FileSystems.open(path) as handle:
            settings = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as err:  # a folder, unreadable, not JSON or not UTF-8
        raise SettingsError(_damaged(path, " ".join(str(err).split()))) from None
    language = settings.get("language") if isinstance(settings, dict) else None
    if not isinstance(language, str):
        raise SettingsError(_damaged(path, f"it holds {json.dumps(settings)[:80]}, not "
                                           '{"language": CODE}'))
    if wordfreq_code(language) not in wordfreq_languages():
        raise SettingsError(_damaged(path, f"its language {language!r} has no word "
                                           "frequencies here"))
    return language


def _damaged(path: str, why: str) -> str:
    return (f"{path} is not a settings file this version of storywire wrote ({why}); it "
            "says which --language the output's stories were weighed with: restore it, or "
            'write {"language": "CODE"} into it with the language of the runs that wrote '
            "the output")


def language_problem(output: str, language: str) -> str | None:
    """Why a run with main `language` must not write into `output`; None when it may."""
    try:
        stored = stored_language(output)
    except SettingsError as err:
        return str(err)
    if (stored is None or wordfreq_code(stored) == wordfreq_code(language)
            or not _holds_stories(output)):
        return None
    return (f"{output} holds stories whose words were weighed with --language {stored}; "
            f"with --language {language} no new article would continue them. Run with "
            f"--language {wordfreq_code(stored)}, or write to a new --output")


def _holds_stories(output: str) -> bool:
    """Whether an output holds articles weighed in its language: a first run that stored
    nothing (a mistyped --input) leaves the language free."""
    import pyarrow.parquet as pq

    from storywire.transforms.paths import is_local
    from storywire.transforms.write.parquet import table_files

    if not is_local(output):
        return True  # an object store's output is not listed here: taken as holding some
    # The first file with a row answers; a run that stored nothing left empty files.
    return any(pq.ParquetFile(path).metadata.num_rows
               for path in table_files(output, "story_index"))


def keep_language(output: str, language: str) -> None:
    """Record the main language of an output (language_problem found none recorded, the
    same, or one that no stored article was weighed with)."""
    if stored_language(output) == language:
        return
    path = FileSystems.join(output, SETTINGS_FILE)
    with FileSystems.create(path + ".tmp") as handle:
        handle.write(json.dumps({"language": language}).encode("utf-8"))
    FileSystems.rename([path + ".tmp"], [path])
