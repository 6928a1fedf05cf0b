"""The README's queries, pasted as a user would, against a run on the seeds."""

import os
import re

import duckdb
from conftest import ROOT, SEEDS

from storywire.pipeline.cli import main
from storywire.schemas import ARTICLES, REJECTS, STORIES, STORY_INDEX

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_readme_queries_run_on_a_seed_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--input", str(SEEDS), "--output", "output",
                 "--direct_num_workers=1", "--direct_running_mode=in_memory"]) == 0
    sql, python = blocks("sql"), blocks("python")
    assert len(sql) == 3 and len(python) == 1
    current = duckdb.sql(sql[0]).fetchall()  # each article with its current story
    assert len(current) == 5 and len({row[3] for row in current}) == 1
    top = duckdb.sql(sql[1]).fetchall()
    assert len(top) == 1 and top[0][1] == 5
    per_day = duckdb.sql(sql[2]).fetchall()
    assert sum(row[1] for row in per_day) == 5
    capsys.readouterr()
    exec(python[0], {})  # noqa: S102 - the README's own example
    assert "versions" in capsys.readouterr().out


def test_readme_names_every_column():
    for schema in (ARTICLES, STORIES, REJECTS, STORY_INDEX):
        for name in schema.names:
            assert f"`{name}`" in README, name


def test_readme_commands_exist():
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in README and re.search(r"^demo:", makefile, re.MULTILINE)
    assert "make test" in README and re.search(r"^test:", makefile, re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
