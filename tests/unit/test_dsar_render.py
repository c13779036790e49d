"""The readable forms of a response bundle: an HTML page that escapes what items say, a
PDF that takes any text the core fonts cannot hold, and `ledger verify bundle`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from ledger.dsar import render
from ledger.dsar.bundle import ResponseBundle, build_bundle
from ledger.dsar.render import latin1
from tests.support.dsar import ALEX, CASE, DWP, NAMES, SIGNER, alex_bundle, small_log

# Curly quotes, dashes, an ellipsis, the pound and euro signs, and Chinese.
HOSTILE = "<script>alert('x')</script> \u201cquoted\u201d \u2014 £5 \u2026 €2 \u2018x\u2019 你好"


def bundle_saying(sentence: str) -> ResponseBundle:
    """Alex's bundle, its newest record saying ``sentence``."""
    log = small_log()
    items = sorted(log.items(ALEX, "DWP"), key=lambda i: i.occurred_at)
    items[-1] = dataclasses.replace(items[-1], sentence=sentence)
    return build_bundle(
        controller=DWP,
        case=CASE,
        items=items,
        head=log.head,
        signer=SIGNER,
        names=NAMES,
        generated_at=datetime(2026, 3, 25, 10, 0, tzinfo=UTC),
    )


def test_the_page_has_a_heading_per_article_15_item_and_the_records_newest_first() -> None:
    page = alex_bundle().html()

    for number, title in ((1, "Whether your personal data is used"), (8, "How to complain")):
        assert f'<h2 id="section-{number}">{number}. {title}</h2>' in page
    assert page.count("<tr>") == 1 + 5  # the header row and five records
    assert page.index("7 March 2026") < page.index("3 March 2026")
    assert "Withheld: the identity of the official who did this (see" in page
    assert "Details withheld: in 3 records, the identity of the official" in page
    assert "ledger verify bundle response.json --key log.vkey" in page
    assert "<script" not in page and "http" not in page.split("</style>")[0]


def test_what_an_item_says_cannot_become_markup() -> None:
    page = bundle_saying(HOSTILE).html()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "“quoted” — £5" in page  # the page is UTF-8: nothing is lost


def test_text_is_mapped_to_latin_1_for_the_core_fonts() -> None:
    typed = "\u201cquoted\u201d \u2014 £5 \u2026 €2 \u2018x\u2019"
    assert latin1(typed) == "\"quoted\" - £5 ... EUR2 'x'"
    assert latin1("Zoë, café, 你好\tand\nmore") == "Zoë, café, ?? and more"


def test_the_pdf_is_a_pdf_even_with_text_latin_1_lacks_and_long_words() -> None:
    long_word = "x" * 600
    pdf = bundle_saying(f"{HOSTILE} {long_word}").pdf()

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 2000


def test_a_long_response_runs_over_pages_with_the_table_header_repeated() -> None:
    bundle = alex_bundle()
    document = json.loads(bundle.json_bytes)
    document["items"] = document["items"] * 200  # rendering reads, it does not verify

    pdf = render.pdf(document, bundle.sha256)
    streams = [zlib.decompress(s) for s in re.findall(rb"stream\n(.*?)\nendstream", pdf, re.S)]
    with_records = [s for s in streams if re.search(rb"Td \(\d{1,2} March 2026\) Tj", s)]
    assert len(with_records) > 10
    assert all(b"(What happened) Tj" in page for page in with_records)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    bundle = alex_bundle()
    (tmp_path / "response.json").write_bytes(bundle.json_bytes)
    (tmp_path / "log.vkey").write_text(SIGNER.key.verifier_key + "\n")
    return tmp_path / "response.json", tmp_path / "log.vkey"


def test_ledger_verify_bundle_answers_0_1_or_2(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(files[0].parent)
    response, key = (str(f) for f in files)

    assert main(["verify", "bundle", response, "--key", key]) == 0
    assert capsys.readouterr().out.startswith("OK: 5 items")

    document = json.loads(files[0].read_text())
    document["items"][0]["sentence"] = "Nothing to see."
    files[0].write_text(json.dumps(document))
    assert main(["verify", "bundle", response, "--key", key]) == 1
    assert "'sentence' is not what the ledger signed" in capsys.readouterr().err

    files[0].write_text("{not json")
    assert main(["verify", "bundle", response, "--key", key]) == 2
    assert main(["verify", "bundle", response]) == 2  # no key, and no ledger here
    assert "--key is required" in capsys.readouterr().err
