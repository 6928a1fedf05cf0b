"""The language model's cached copy: the same answers as py3langid's packaged model, and
a cache that cannot be read or written never stops a run."""

import os
import subprocess
import sys

from storywire.transforms import cache
from storywire.transforms.cache import CACHE_ENV, cached_path
from storywire.transforms.clean.langmodel import copy_name, language_identifier
from storywire.transforms.languages import weighed_languages

TEXTS = [
    "The central bank raised interest rates again on Thursday, citing inflation.",
    "Die Zentralbank hat die Zinsen am Donnerstag erneut angehoben.",
    "La banque centrale a relevé ses taux jeudi, invoquant l'inflation.",
    "El banco central volvió a subir los tipos de interés el jueves.",
    "中央银行周四再次提高利率，理由是通货膨胀。",
    "البنك المركزي رفع أسعار الفائدة مرة أخرى يوم الخميس",
    "Центральный банк в четверг снова повысил процентные ставки.",
    "ok",
]


def copy_path(languages):
    return cached_path(copy_name(languages))


def _packaged():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    languages = weighed_languages()
    identifier.set_languages([c for c in identifier.nb_classes if c in languages])
    return identifier


def test_the_cached_copy_ranks_every_language_as_the_packaged_model(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    languages = weighed_languages()
    made = language_identifier(languages)  # no copy yet: made from the package, and written
    assert copy_path(languages).is_file()
    read = language_identifier(languages)  # from the copy
    packaged = _packaged()
    assert read.nb_classes == packaged.nb_classes
    for text in TEXTS:
        assert read.rank(text) == packaged.rank(text) == made.rank(text), text
    # Another set of languages is another copy, not this one read wrongly.
    assert copy_path(languages - {"de"}) != copy_path(languages)


def test_a_broken_or_unwritable_cache_is_passed_by(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    languages = weighed_languages()
    path = copy_path(languages)
    cache.mkdir()
    path.write_bytes(b"PK\x03\x04 cut short")  # a copy cut short (a full disk)
    assert language_identifier(languages).rank(TEXTS[1])[0][0] == "de"
    assert language_identifier(languages).rank(TEXTS[0])[0][0] == "en"  # written again
    assert path.stat().st_size > 1_000_000
    # A cache "folder" that is a file: nothing can be written, and the model still loads.
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocked))
    assert language_identifier(languages).rank(TEXTS[2])[0][0] == "fr"
    assert [p.name for p in cache.iterdir()] == [path.name]  # no half-written copy left


def test_processes_writing_the_copy_at_once_leave_one_whole_copy(tmp_path):
    env = dict(os.environ, **{CACHE_ENV: str(tmp_path / "cache")})
    code = ("from storywire.transforms.clean.cleaning import detect_language;"
            "print(detect_language('Die Zentralbank hat die Zinsen erneut angehoben.'))")
    started = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                text=True, env=env) for _ in range(3)]
    assert [p.communicate()[0].strip() for p in started] == ["de"] * 3
    (copy,) = (tmp_path / "cache").iterdir()
    assert copy.name.startswith("py3langid-") and copy.suffix == ".npz"


def test_a_copy_of_other_languages_is_not_read_as_this_one(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    languages = weighed_languages()
    few = frozenset({"en", "de"})
    language_identifier(few)
    copy_path(few).rename(copy_path(languages))  # under the name of all the languages
    spanish = "El banco central volvió a subir los tipos de interés el jueves."
    assert language_identifier(languages).rank(spanish)[0][0] == "es"


def test_the_cache_folder_is_one_of_this_user_or_none(tmp_path, monkeypatch):
    import time


    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as XDG says
    assert cache.cache_folder() == tmp_path / "home" / ".cache" / "storywire"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_folder() == tmp_path / "xdg" / "storywire"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "")
    assert cache.cache_folder() is None  # no home: the packaged model, nothing written
    assert language_identifier(weighed_languages()).rank(TEXTS[0])[0][0] == "en"
    # A copy half written by a process killed as it wrote goes once it is old.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    old, recent = tmp_path / "cache" / ".langid-old.npz", tmp_path / "cache" / ".langid-new.npz"
    for half in (old, recent):
        half.write_bytes(b"PK half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    language_identifier(frozenset({"en", "fr"}))
    assert not old.exists() and recent.exists()  # one being written now is left alone
