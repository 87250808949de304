"""Every format through its real parser; every kind of bad input gives a LoadError with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from genloom.ingest.errors import LoadError
from genloom.ingest.loaders import loader_for
from kbfixtures import HTML, make_docx, make_pdf


def load(path: Path):
    loader = loader_for(path)
    assert loader is not None
    return loader(path.read_bytes(), path)


def heading_of(ex, needle: str) -> list[str]:
    pos = ex.text.index(needle)
    return next(p for s, e, p in ex.spans() if s <= pos < e)


def test_markdown_headings_and_code_fences(tmp_path):
    p = tmp_path / "guide.md"
    p.write_text(
        "# Guide\n\nIntro.\n\n## Install\n\n```\n# not a heading\n```\n\n### Linux\n\napt install.\n\n## Use\n\nRun it.\n"
    )
    ex = load(p)
    assert ex.title == "Guide"
    assert heading_of(ex, "apt install") == ["Guide", "Install", "Linux"]
    assert heading_of(ex, "not a heading") == ["Guide", "Install"]
    assert heading_of(ex, "Run it") == ["Guide", "Use"]
    assert ex.text == p.read_text()  # markdown keeps its source: offsets point into the file


def test_html_keeps_headings_drops_scripts(tmp_path):
    p = tmp_path / "v.html"
    p.write_text(HTML)
    ex = load(p)
    assert ex.title == "Vacuuming Guide"
    assert "tracking" not in ex.text and "color:red" not in ex.text and "Home | Next" not in ex.text
    assert "Prev" not in ex.text and ex.text.count("Recovering Disk Space") == 1  # navheader and toc dropped
    assert heading_of(ex, "Autovacuum helps") == ["Routine Vacuuming", "Recovering Disk Space"]  # callout
    assert heading_of(ex, "VACUUM FULL") == ["Routine Vacuuming", "Recovering Disk Space"]
    assert "maintenance known as vacuuming." in ex.text  # inline tags joined, whitespace collapsed
    assert "VACUUM FULL mytable;\nANALYZE mytable;" in ex.text  # <pre> keeps lines
    assert heading_of(ex, "Dead row") == ["Routine Vacuuming", "Recovering Disk Space"]
    assert heading_of(ex, "planner") == ["Routine Vacuuming", "Updating Statistics"]


def test_html_with_xml_declaration_and_latin1(tmp_path):
    p = tmp_path / "old.htm"
    p.write_bytes(
        '<?xml version="1.0" encoding="ISO-8859-1"?><html><body><h1>Caf\xe9</h1><p>cr\xe8me br\xfbl\xe9e</p></body></html>'.encode(
            "latin-1"
        )
    )
    ex = load(p)
    assert "Café" in ex.text and "crème brûlée" in ex.text


def test_pdf_pages_become_sections(tmp_path):
    p = make_pdf(tmp_path / "r.pdf", ["Quarterly revenue grew.", "Costs were flat."], title="Report")
    ex = load(p)
    assert ex.title == "Report"
    assert heading_of(ex, "Costs were flat") == ["page 2"]
    assert ex.metadata["pages"] == 2


def test_docx_headings_paragraphs_tables(tmp_path):
    p = make_docx(
        tmp_path / "h.docx", "Handbook", [("Leave", ["Take 25 days."]), ("Travel", ["Book early."])]
    )
    ex = load(p)
    assert ex.title == "Handbook"
    assert heading_of(ex, "Book early") == ["Handbook", "Travel"]
    assert "cell one | cell two" in ex.text


def test_text_encodings(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Les élèves étudient à l'école. Déjà vu, façade, garçon, naïve, cœur.".encode("cp1252"))
    ex = load(p)
    assert "élèves" in ex.text and ex.metadata["encoding"] != "utf-8"
    p2 = tmp_path / "bom.txt"
    p2.write_bytes("hello utf16".encode("utf-16"))  # with a BOM
    assert load(p2).text == "hello utf16"
    p3 = tmp_path / "crlf.txt"
    p3.write_bytes(b"a\r\nb\r\n")
    assert load(p3).text == "a\nb\n"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n ", "empty"),
        ("bin.txt", bytes(range(256)) * 4, "binary"),
        ("bad.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
        ("empty.pdf", b"", "empty"),
        ("bad.docx", b"PK\x03\x04 definitely not a zip", "DOCX"),
        ("notzip.docx", b"just text", "DOCX"),
        ("empty.html", b"<html><body><script>x</script></body></html>", "no text"),
    ],
)
def test_bad_input_is_a_load_error_with_reason(tmp_path, name, data, reason):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(LoadError) as e:
        load(p)
    assert reason.lower() in e.value.message.lower()
    assert e.value.hint


def test_encrypted_pdf(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", ["top secret"], password="s3cret")
    with pytest.raises(LoadError, match="encrypted"):
        load(locked)
    # encrypted with an empty user password: readable
    open_ = make_pdf(tmp_path / "open.pdf", ["readable anyway"], password="")
    assert "readable anyway" in load(open_).text


def test_pdf_without_text_layer(tmp_path):
    from reportlab.pdfgen import canvas

    p = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(p))
    c.rect(10, 10, 100, 100, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(LoadError, match="no text layer"):
        load(p)


def test_unknown_extension_has_no_loader():
    assert loader_for(Path("x.xlsx")) is None and loader_for(Path("README")) is None
    assert loader_for(Path("X.HTML")) is not None
