"""Insights in the browser, on a phone: a leader reads a chart's table, downloads the CSV and
prints the quarterly report to PDF (one A4 page per quarter, with the page's numbers); axe-core
finds nothing at phone and desktop size.

Elements are found by id, href or structure, never by their (translated) wording.
"""

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

A4 = (595.3, 841.9)  # points; Chromium rounds to whole pixels at 96 dpi (595.9 x 842.9)


def check(page: Page, name: str, found: dict[str, list[dict[str, Any]]]) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if violations := run_axe(page):
            found[f"{name} @{size['width']}"] = violations
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at 390 px ({width} px)"


def test_leader_reads_exports_and_prints_insights(new_context, live_server):
    found: dict[str, list[dict[str, Any]]] = {}
    context = new_context(bypass_csp=True, accept_downloads=True, viewport=PHONE)
    page = context.new_page()
    log_in_as(page, live_server.person("asnes", "leader").email)

    page.goto("/asnes/insights")
    charts = page.locator("svg.chart-svg[role=img]")
    assert charts.count() >= 3
    for i in range(charts.count()):
        assert charts.nth(i).locator("title").text_content(), "every chart has a title"
    # The first chart is followed by its data as a table a screen reader can read.
    table = page.locator(
        "#chart-recognitions-cap ~ *, section:has(#chart-recognitions-title) table"
    ).first
    expect(table).to_be_visible()
    first_row = page.locator("section:has(#chart-recognitions-title) table tbody tr").first
    cells = first_row.locator("td").all_text_contents()
    assert cells and all(re.fullmatch(r"[\d\s  ,.%]+|–.*", c.strip()) for c in cells), cells
    screenshot(page, "insights-phone")
    check(page, "insights", found)

    page.goto("/asnes/insights/rarely-seen")
    check(page, "rarely seen", found)
    page.goto("/asnes/insights")

    with page.expect_download() as download_info:
        page.locator('a[href^="/asnes/insights/export.csv"]').click()
    with open(download_info.value.path(), encoding="utf-8-sig") as exported:
        text = exported.read()
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(rows[0]) == 6 and len(rows) > 10
    assert all(len(r) == 6 for r in rows)

    page.goto("/asnes/insights/report")
    quarters = page.locator("section.report-page")
    expected_pages = quarters.count()
    assert expected_pages >= 1
    check(page, "report", found)
    screenshot(page, "insights-report-phone")
    page.emulate_media(media="print")
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4", print_background=True)))
    assert len(pdf.pages) == expected_pages, "one A4 page per quarter"
    for number, pdf_page in enumerate(pdf.pages):
        box = pdf_page.mediabox
        assert abs(float(box.width) - A4[0]) < 1.5 and abs(float(box.height) - A4[1]) < 1.5
        printed = " ".join(pdf_page.extract_text().split())
        heading = quarters.nth(number).locator("h2").text_content() or ""
        assert heading.split(": ")[-1] in printed  # 2026-Q1 ...
        # The numbers of the quarter's first table are on its page.
        for cell in quarters.nth(number).locator("table").first.locator("td").all_text_contents():
            figure = cell.strip().split(" ")[0]
            if re.fullmatch(r"\d+(,\d)?", figure):
                assert figure in printed, (figure, printed[:300])

    assert not found, format_violations(found)
