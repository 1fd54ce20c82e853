"""The static web leaderboard (``leaderboard --html``), tested in a real headless Chromium.

The browser is Debian's ``chromium`` driven through its ``chromedriver`` by Selenium (.ci/run
installs both). Pages are loaded from files (``file://``), with no server and no network.
"""

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rlbench_icl import load_registry
from rlbench_icl.cli import main
from rlbench_icl.leaderboard import build_leaderboard
from rlbench_icl.scoring import BootstrapConfig

FAST = BootstrapConfig(resamples=200)
SEEDS = 3
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
INJECTED = "<script>window.__pwned = 1</script>"
INJECTED_NAME = "<script>window.__pwned=3</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_tasks) -> Path:
    """A site from three submissions on two tiny tasks, with a script injected in ucbvi's
    description and authors, a refused file whose submission name is a script, and vi-lcb
    incomplete (one run missing)."""
    root = tmp_path_factory.mktemp("site")
    results = root / "results"
    for agent in ("random", "ucbvi", "vi-lcb"):
        assert main(["run", "--agent", agent, "--tasks", "tiny", "--seeds", str(SEEDS),
                     "--jobs", "1", "--quiet", "--out", str(results),
                     "--task-path", str(tiny_tasks)]) == 0
    for path in (results / "ucbvi").rglob("seed-*.json"):
        record = json.loads(path.read_text())
        record["submission"].update(description=INJECTED,
                                    authors='<img src=x onerror="window.__pwned=2">')
        path.write_text(json.dumps(record))
    for path in (results / "random").rglob("seed-*.json"):  # two versions of its code
        record = json.loads(path.read_text())
        record["code"] = {"sha256": "a" * 64 if "Chain" in str(path) else "b" * 64,
                          "files": {}}
        path.write_text(json.dumps(record))
    evil = results / "evil" / "online" / "TinyChain-v0" / "seed-0.json"
    evil.parent.mkdir(parents=True)
    record = json.loads((results / "random/online/TinyChain-v0/seed-0.json").read_text())
    record["submission"]["name"] = INJECTED_NAME
    evil.write_text(json.dumps(record))
    (results / "vi-lcb/offline/TinyChain-v0/seed-2.json").unlink()
    out = root / "board"
    build_leaderboard(results, out, load_registry([tiny_tasks]), FAST, suite_tag="tiny",
                      seeds=SEEDS, html_dir=out)
    return out


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "chromium and chromium-driver are not installed (apt-get install -y " \
                  "chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def open_page(browser, path: Path):
    browser.get(path.resolve().as_uri())
    return browser


def column(browser, table_id: str, name: str) -> list[str]:
    """The ``data-sort`` values of a column, in the order the rows are shown."""
    from selenium.webdriver.common.by import By

    table = browser.find_element(By.ID, table_id)
    headers = [th.text.strip(" ▲▼") for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    index = headers.index(name) + 1
    return [td.get_attribute("data-sort") for td in table.find_elements(
        By.CSS_SELECTOR, f"tbody tr:not([hidden]) td:nth-child({index})")]


def table_with(browser, caption: str) -> str:
    from selenium.webdriver.common.by import By

    for table in browser.find_elements(By.CSS_SELECTOR, "table.sortable"):
        text = table.find_element(By.TAG_NAME, "caption").get_attribute("textContent")
        if text.startswith(caption):
            return table.get_attribute("id")
    raise AssertionError(f"no table captioned {caption!r}")


def click_header(browser, table_id: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    for th in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th"):
        if th.text.strip(" ▲▼") == name:
            th.find_element(By.TAG_NAME, "button").click()
            return
    raise AssertionError(f"no column {name!r}")


def test_sorting_a_column_orders_its_rows(site, browser):
    open_page(browser, site / "index.html")
    table = table_with(browser, "Dev suite. Online")
    assert [float(v) for v in column(browser, table, "IQM")] == sorted(
        [float(v) for v in column(browser, table, "IQM")], reverse=True)  # ranked order
    click_header(browser, table, "IQM")
    ascending = [float(v) for v in column(browser, table, "IQM")]
    assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
    click_header(browser, table, "IQM")
    assert [float(v) for v in column(browser, table, "IQM")] == ascending[::-1]
    click_header(browser, table, "submission")
    assert column(browser, table, "submission") == ["random", "ucbvi"]


def test_filtering_tasks(site, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, site / "tasks.html")
    assert sorted(column(browser, "tasks", "id")) == ["TinyBandit-v0", "TinyChain-v0"]
    browser.find_element(By.CSS_SELECTOR, "input.filter[data-table=tasks]").send_keys("bandit")
    assert column(browser, "tasks", "id") == ["TinyBandit-v0"]
    per_task = table_with(browser, "Per-task online")
    browser.find_element(By.CSS_SELECTOR, f"input.filter[data-table={per_task}]"
                         ).send_keys("chain")
    assert column(browser, per_task, "task") == ["TinyChain-v0"]


def test_following_links_to_a_submission_and_a_task(site, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, site / "index.html")
    table = table_with(browser, "Dev suite. Offline")
    browser.find_element(By.CSS_SELECTOR, f"#{table} a[href$='submissions/vi-lcb.html']"
                         ).click()
    assert browser.current_url.endswith("/submissions/vi-lcb.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "vi-lcb"
    assert "Reference submission" in browser.page_source
    assert "Incomplete, not ranked" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.LINK_TEXT, "TinyBandit-v0").click()
    assert browser.current_url.endswith("/tasks/TinyBandit-v0.html")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "V*(μ0), exact" in text and "Learning curves" in text
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart polyline")


def test_a_submission_page_shows_its_code_hashes(site, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, site / "submissions" / "random.html")
    meta = browser.find_element(By.CSS_SELECTOR, "dl.meta").text
    assert f"2 different code hashes among its runs: {'a' * 64}, {'b' * 64}" in meta
    assert "(incomplete)" not in meta and "random.html" in browser.current_url


def test_an_injected_script_is_shown_as_text_and_never_runs(site, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, site / "index.html")
    refused = browser.find_element(By.ID, "refused").text
    assert INJECTED_NAME in refused  # the refused file's reason names it, as text
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.execute_script("return document.scripts.length") == 1  # site.js alone
    open_page(browser, site / "submissions" / "ucbvi.html")
    meta = browser.find_element(By.CSS_SELECTOR, "dl.meta").text
    assert INJECTED in meta and 'onerror="window.__pwned=2"' in meta
    assert browser.execute_script("return window.__pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script")


def test_readable_at_phone_width_and_a_screenshot(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.set_window_size(390, 844)
    try:
        for page in ("index.html", "tasks.html", "submissions/ucbvi.html",
                     "tasks/TinyChain-v0.html"):
            open_page(browser, site / page)
            width = browser.execute_script("return window.innerWidth")
            # wide tables scroll inside their box; the page itself never scrolls sideways
            assert browser.execute_script(
                "return document.documentElement.scrollWidth") <= width, page
            assert browser.find_element(By.TAG_NAME, "h1").size["width"] <= width
        shot = Path(os.environ.get("RLBENCH_SCREENSHOTS", tmp_path)) / "site-phone.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    finally:
        browser.set_window_size(1280, 1000)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, k, v) for k, v in attrs if k in ("href", "src") and v]


def test_the_site_is_self_contained_and_every_link_resolves(site):
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} >= {
        "index.html", "tasks.html", "submissions/ucbvi.html", "submissions/vi-lcb.html",
        "tasks/TinyChain-v0.html"}
    for page in pages:
        parser = Links()
        parser.feed(page.read_text())
        for tag, attribute, value in parser.links:
            if tag == "a" and re.match(r"https?://", value):
                continue  # a submission's own link, followed only by a reader
            assert not re.match(r"[a-z]+:", value), f"{page}: {tag} {attribute}={value}"
            target = (page.parent / value.split("#")[0]).resolve()
            assert target.exists(), f"{page}: {value} does not exist"


def test_a_site_elsewhere_copies_its_files_and_has_the_same_bytes(site, tiny_tasks, tmp_path):
    """Rebuilt with the site in its own directory: the CSVs and figures are copied there,
    and every file (pages, assets, copies) equals the first build's byte for byte."""
    html = tmp_path / "html"
    build_leaderboard(site.parent / "results", tmp_path / "board", load_registry([tiny_tasks]),
                      FAST, suite_tag="tiny", seeds=SEEDS, html_dir=html)
    files = sorted(p.relative_to(html) for p in html.rglob("*") if p.is_file())
    assert Path("scores.csv") in files and Path("figures/online_heatmap.svg") in files
    assert Path("README.md") not in files
    for name in files:
        assert (html / name).read_bytes() == (site / name).read_bytes(), name


def test_a_numeric_csv_becomes_a_sortable_table_of_intervals():
    from rlbench_icl.leaderboard.web import csv_table

    table = csv_table("submission,status,IQM,IQM low,IQM high,runs\nx,ranked,0.5,0.25,0.75,6\n"
                      "y,incomplete,,,,2\n", "t", "c", "", linked={"submissions": {"x"}})
    assert [(c["name"], c["type"]) for c in table.columns] == [
        ("submission", "text"), ("status", "text"), ("IQM", "number"), ("runs", "number")]
    x, y = table.rows
    assert x["cells"][0].href == "submissions/x.html" and y["cells"][0].href == ""
    assert (x["cells"][2].text, x["cells"][2].ci, x["cells"][2].sort) == (
        "0.500", "[0.250, 0.750]", "0.5")
    assert y["incomplete"] and not x["incomplete"] and y["cells"][2].sort == ""


def test_a_table_escapes_every_text_it_joins():
    from rlbench_icl.leaderboard.web import Cell, Table, table_html

    bad = "<script>\"x\"&'y'</script>"
    html = str(table_html(Table(bad, bad, [{"name": bad, "type": bad}], [
        {"cells": [Cell(bad, bad, bad, bad)], "incomplete": True}], show_caption=False)))
    assert "<script>" not in html and html.count("&lt;script&gt;&#34;x&#34;&amp;&#39;y&#39;") == 10
    assert '<caption class="hidden">' in html and '<tr class="incomplete"><td' in html
