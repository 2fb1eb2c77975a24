"""The whole flow through the CLI, against the scripted server, ending in a few SFT steps and
the run's report, which a real browser then opens."""

import json
import os
import shutil
from pathlib import Path

import pytest

from curate.io import read_records

SEEDS = ["Write a haiku about autumn leaves.", "Explain what a hash table is.", "EQUAL Give a synonym for happy.",
         "SORRY Tell me a joke about cats.", "STOPWORDS List three colours.", "LEAK Summarise the plot of Hamlet.",
         "Suggest a name for a bakery.", "Describe the water cycle in two sentences.",
         "Explain </script><script>alert(1)</script> in HTML."]  # records are untrusted: the page must not run it


def cli(prog, *argv):
    from curate.cli import main as curate_main
    from train.cli import main as train_main

    with pytest.raises(SystemExit) as exit_info:
        (curate_main if prog == "curate" else train_main)(list(argv))
    assert exit_info.value.code == 0, f"{prog} {argv[0]} exited {exit_info.value.code}"


@pytest.fixture(scope="module")
def run(_server_process_wide, tiny_model_dir, tmp_path_factory):
    """Every stage, each leaving its summary in w/run; then the report of the run."""
    server = _server_process_wide
    server.reset()
    w = tmp_path_factory.mktemp("e2e")
    (w / "seeds.json").write_text(json.dumps(SEEDS))
    llm = ["--base-url", server.url, "--no-cache", "--concurrency", "4"]

    def stage(*argv):
        cli("curate", *argv, "--summary-json", str(w / "run"))

    stage("evol", "--seeds", str(w / "seeds.json"), "-o", str(w / "evol.jsonl"), "--rounds", "2",
          "--rejects", str(w / "evol_rejects.jsonl"), *llm)
    stage("respond", str(w / "evol.jsonl"), "-o", str(w / "answered.jsonl"), "--n", "2", *llm)
    stage("dedup", str(w / "answered.jsonl"), "-o", str(w / "deduped.jsonl"), "--rejects", str(w / "dups.jsonl"))
    stage("judge", str(w / "deduped.jsonl"), "-o", str(w / "judged.jsonl"), "--rejects",
          str(w / "judge_rejects.jsonl"), *llm)
    stage("pii", str(w / "judged.jsonl"), "-o", str(w / "clean.jsonl"), "--workers", "1")
    stage("split", str(w / "clean.jsonl"), "--out-dir", str(w / "splits"), "--missing", "singleton",
          "--splits", "train=0.7999,validation=0.0001,test=0.2")
    stage("export", str(w / "splits" / "train.jsonl"), "-o", str(w / "data" / "sft.jsonl"), "--format", "trl")
    cli("train", "sft", "--data", str(w / "data" / "sft.jsonl"), "-o", str(w / "model"), "--model",
        str(tiny_model_dir), "--max-steps", "3", "--batch-size", "4", "--summary-json", str(w / "run"))
    cli("curate", "report", str(w / "run"), "-o", str(w / "report"), "--tokenizer", str(tiny_model_dir))
    return w


def test_seeds_to_trained_model(run):
    w = run
    evolved = list(read_records(w / "evol.jsonl"))
    assert {r.meta["evol"]["round"] for r in evolved} == {0, 1, 2}
    judged = list(read_records(w / "judged.jsonl"))
    assert judged and all(r.meta["judge"]["score"] >= 4 for r in judged)
    splits = {name: list(read_records(w / "splits" / f"{name}.jsonl")) if (w / "splits" / f"{name}.jsonl").stat().st_size
              else [] for name in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == len(judged)
    for record in splits["train"]:  # provenance survives every stage
        assert {"evol", "responses", "dedup", "judge", "split"} <= set(record.meta)
    log = json.loads((w / "model" / "training_args.json").read_text())
    assert log["trainer"] == "sft" and any("loss" in entry for entry in log["log"])


def test_the_report_is_one_page_with_charts_and_no_secrets(run):
    report = run / "report"
    page = (report / "index.html").read_text()
    for image in ("instruction_lengths", "output_lengths", "funnel", "drops", "judge_scores", "dedup_clusters",
                  "splits", "evol_rounds", "evol_operations"):
        assert (report / f"{image}.png").stat().st_size > 1000 and f'"{image}.png"' in page
    assert "equal_to_parent" in page  # drops by reason, read from the rejects files
    assert "<script>alert(1)" not in page  # the record's </script> cannot end the data element
    assert page.count("<script") == 2 and "api_key" not in page
    summaries = [json.loads(p.read_text()) for p in sorted((run / "run").glob("*.summary.json"))]
    assert {s["stage"] for s in summaries} == {"evol", "respond", "dedup", "judge", "pii", "split", "export", "sft"}
    assert all(s["started_at"] and s["ended_at"] and s["files"]["input"] for s in summaries)


def _chromium() -> str | None:
    return os.environ.get("CURATE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_report_in_a_real_browser(run):
    """Headless Chromium (Debian's) opens the page: the funnel's numbers are the summaries',
    a reject reason shows its examples, a lineage opens, and nothing is logged as an error."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                                   "playwright; CI installs it with the dev extra)")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium: apt-get install chromium (CI installs it; or set CURATE_CHROMIUM)")
    summaries = {s["stage"]: s for s in (json.loads(p.read_text()) for p in (run / "run").glob("*.summary.json"))
                 if s["stage"] != "sft"}  # a trainer writes a model: it is in the run facts, not the funnel
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"a dialog opened: {dialog.message}"))
        page.goto((run / "report" / "index.html").as_uri())

        rows = page.locator("#funnel-table tr[data-stage]")
        shown = [rows.nth(i).get_attribute("data-stage") for i in range(rows.count())]
        assert shown == ["evol", "respond", "dedup", "judge", "pii", "split", "export"]  # in data-flow order
        for stage, summary in summaries.items():
            row = page.locator(f'#funnel-table tr[data-stage="{stage}"]')
            totals = summary["totals"]
            out = totals["written"] if totals else summary["written"]
            went_in = summary["read"] or summary["counts"]["seeds"]  # a generator's input: its seeds
            assert row.locator("td.in").inner_text() == f"{went_in:,}"
            assert row.locator("td.out").inner_text() == f"{out:,}"
            dropped = sum(n for r, n in totals.items() if r != "written") if totals else \
                sum(summary["dropped"].values()) + sum(summary["failed"].values())
            assert row.locator("td.dropped").inner_text() == f"{dropped:,}"

        reason = page.locator('button.reason[data-stage="evol"][data-reason="equal_to_parent"]')
        assert reason.count() == 1
        reason.click()
        examples = page.locator("#examples details.record")
        assert examples.count() >= 1
        examples.first.locator("summary").click()
        assert '"equal_to_parent"' in examples.first.locator("pre").inner_text()  # the whole record, meta too

        tree = page.locator("details.lineage").first
        tree.locator("summary").click()
        assert tree.locator("ul.tree li").count() >= 2
        assert tree.locator("ul.tree li li").count() >= 1  # a seed's evolutions hang under it

        page.fill("#search-box", "haiku")
        assert page.locator("#search-results details.record").count() >= 1
        page.locator("#facts").scroll_into_view_if_needed()
        facts = page.locator("#facts-table").inner_text()
        assert "scripted-model" in facts and "\nsft\t" in facts.replace("\r", "")
        assert page.locator("#distributions .chart").count() >= 5

        screenshots = Path(os.environ.get("CURATE_SCREENSHOTS", run / "screenshots"))
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / "report-1400.png"), full_page=True)
        browser.close()
    assert problems == []
