"""Build a labelled news corpus of any size by simulating syndication of real articles.

Source: news_articles.csv.gz (3,824 real articles, 2016-2017). Each real article is an event;
its versions are what a feed receives when a story is syndicated:

- the original, as a clean record of its outlet;
- copies on other sites, as page text with that site's furniture around the body (section
  label, share widgets, a "READ ALSO" promo, tags, a "Recent Posts" list);
- an edited version (a paragraph dropped, a few words changed), a truncated one (the first
  half), and an update (a paragraph added, a few hours later).

To grow past the real events without repeating them, each further epoch rewrites every
word rarer than common English through a cipher of its own (names and content words become
new made-up words, common words stay) and moves the dates forward, so epoch events are new
events with realistic word statistics. Every record carries its event as `story`, so the
corpus scores story tagging as well as timing it.

    python benchmarks/syndicate.py --size 10000 --out corpus.jsonl
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "news_articles.csv.gz"
SITES = [f"{name} {kind}" for name in ("Valley", "Harbour", "Metro", "Capital", "Coastal",
                                       "Northern", "Daily", "Evening", "Union", "Lakeside")
         for kind in ("Herald", "Post", "Times", "Wire")]
EPOCH_DAYS = 120
_WORD = re.compile(r"[A-Za-z]+")
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def load_events(source: Path) -> list[dict]:
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    events = []
    for row in rows:
        text = (row.get("text") or "").strip()
        date = (row.get("publish_date") or "").strip()
        if len(text) < 400 or not re.match(r"\d{4}/\d{1,2}/\d{1,2}$", date):
            continue
        y, m, d = map(int, date.split("/"))
        paragraphs = [p.strip() for p in re.split(r"\n+", text) if p.strip()]
        if len(paragraphs) < 3:  # one block of text: split it into paragraphs of 3 sentences
            sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", text)
            paragraphs = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        events.append({
            "title": (row.get("title") or "").strip(),
            "paragraphs": paragraphs,
            "published": datetime(y, m, d, 9, tzinfo=timezone.utc),
            "outlet": re.sub(r"^https?://(www\.)?([^/]+).*$", r"\2",
                             row.get("article_source_link") or "") or "unknown",
        })
    return events


class Cipher:
    """Rewrites words rarer than common English into made-up words, one mapping per epoch."""

    def __init__(self, epoch: int, frequencies: dict[str, float]):
        self._epoch = epoch
        self._frequencies = frequencies

    def word(self, match: re.Match) -> str:
        word = match.group(0)
        if self._epoch == 0 or self._frequencies.get(word.lower(), 0.0) >= 1e-5:
            return word
        digest = hashlib.blake2b(f"{self._epoch}:{word.lower()}".encode(), digest_size=8).digest()
        made_up = "".join(_SYLLABLES[b % len(_SYLLABLES)] for b in digest[: 2 + len(word) // 4])
        return made_up.capitalize() if word[0].isupper() else made_up

    def text(self, text: str) -> str:
        return _WORD.sub(self.word, text)


def page_copy(title: str, paragraphs: list[str], site: str, when: datetime,
              other_titles: list[str]) -> str:
    """The page text a person copies from a site that republished the article."""
    lines = ["World News", "", title, "", f"Published {when:%B %d, %Y | %I:%M %p}", ""]
    for i, paragraph in enumerate(paragraphs):
        lines += [paragraph, ""]
        if i == 1 and other_titles:
            lines += [f"READ ALSO: {other_titles[0]}", ""]
    lines += [site, "Share", "Tweet", f"Tags: {title.split()[0] if title else 'News'}", "",
              "Recent Posts", ""]
    for i, other in enumerate(other_titles[1:4]):
        lines += [other, f"{i + 1} hours ago", ""]
    return "\n".join(lines)


def versions(event: dict, event_id: str, rng: random.Random, cipher: Cipher,
             shift: timedelta, other_titles: list[str]) -> list[dict]:
    title = cipher.text(event["title"])
    paragraphs = [cipher.text(p) for p in event["paragraphs"]]
    others = [cipher.text(t) for t in other_titles]
    when = event["published"] + shift + timedelta(minutes=rng.randrange(600))
    out = [{"source": event["outlet"], "title": title, "published": when,
            "text": "\n\n".join(paragraphs)}]
    for _ in range(rng.choice((1, 1, 2, 3))):
        site = rng.choice(SITES)
        later = when + timedelta(minutes=rng.randrange(30, 1440))
        out.append({"source": site, "published": later,
                    "text": page_copy(title, paragraphs, site, later, rng.sample(others, 4))})
    if len(paragraphs) > 3 and rng.random() < 0.6:
        edited = paragraphs[:]
        del edited[rng.randrange(1, len(edited))]
        edited[0] = edited[0].replace(" said ", " told reporters ", 1)
        out.append({"source": rng.choice(SITES), "title": title,
                    "published": when + timedelta(hours=rng.randrange(1, 12)),
                    "text": "\n\n".join(edited)})
    if len(paragraphs) > 4 and rng.random() < 0.4:
        out.append({"source": rng.choice(SITES), "title": title,
                    "published": when + timedelta(hours=rng.randrange(1, 24)),
                    "text": "\n\n".join(paragraphs[: len(paragraphs) // 2])})
    if rng.random() < 0.4:
        update = f"Update: {paragraphs[-1]} Officials said more details would follow."
        out.append({"source": event["outlet"], "title": f"UPDATE: {title}",
                    "published": when + timedelta(hours=rng.randrange(3, 30)),
                    "text": "\n\n".join(paragraphs + [update])})
    for i, record in enumerate(out):
        record["id"] = f"{event_id}-v{i}"
        record["story"] = event_id
        record["published"] = record["published"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def build(size: int, source: Path = DEFAULT_SOURCE, seed: int = 7):
    """Yield `size` labelled records."""
    from wordfreq import get_frequency_dict

    frequencies = get_frequency_dict("en", wordlist="best")
    events = load_events(source)
    titles = [e["title"] for e in events if e["title"]]
    produced, epoch = 0, 0
    while True:
        cipher = Cipher(epoch, frequencies)
        shift = timedelta(days=EPOCH_DAYS * epoch)
        for index, event in enumerate(events):
            rng = random.Random(f"{seed}:{epoch}:{index}")
            records = versions(event, f"e{epoch}-{index}", rng, cipher, shift,
                               rng.sample(titles, 5))
            for record in records:
                yield record
                produced += 1
                if produced == size:
                    return
        epoch += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as handle:
        for record in build(args.size, args.source):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
