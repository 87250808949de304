"""Retrieval quality dev set: the Debian FAQ (Debian package debian-faq), hit@5 and MRR@10 per search mode.

    mkdir -p ~/.cache/genloom-bench/debs && cd ~/.cache/genloom-bench/debs && apt-get download debian-faq
    dpkg -x debian-faq_*.deb ~/.cache/genloom-bench/root
    .venv/bin/python bench/retrieval_quality.py [--embedder minilm:]

Every FAQ section heading is a question ("1.2. What is Debian GNU/Linux?") answered by the section's text.
We index copies of the chapters in which each question is replaced by its number only ("1.2.") and the
chapter tables of contents are removed, so the question text itself is nowhere in the index. Each question
is then a query; a hit is relevant when it lies in that question's section (heading path ends in "1.2.").
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.backends.store import SearchFilter
from genloom.kb import KnowledgeBase
from genloom.retrieve import rrf
from genloom.settings import Settings

FAQ = Path("~/.cache/genloom-bench/root/usr/share/doc/debian/FAQ").expanduser()
QUESTION = re.compile(r"^(\d+(?:\.\d+)+\.)\s+(.+\?)$")


def masked_corpus(out: Path) -> list[tuple[str, str]]:
    import lxml.html

    questions = []
    for f in sorted(FAQ.glob("*.en.html")):
        if f.name.startswith(("index", "faqinfo")):
            continue
        root = lxml.html.parse(str(f)).getroot()
        for toc in root.xpath("//div[contains(@class, 'toc')]"):
            toc.getparent().remove(toc)
        for h in root.xpath("//h2|//h3|//h4"):
            text = " ".join(h.text_content().split())
            m = QUESTION.match(text)
            if m:
                questions.append((m.group(1), m.group(2)))
                for child in list(h):
                    h.remove(child)
                h.text = m.group(1)
        (out / f.name).write_bytes(lxml.html.tostring(root))
    return questions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="minilm:")
    args = ap.parse_args()
    if not FAQ.is_dir():
        sys.exit(f"{FAQ} not found; see the instructions at the top of {__file__}")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "faq"
        corpus.mkdir()
        questions = masked_corpus(corpus)
        kb = KnowledgeBase.open(
            "faq", Settings.load(env={"GENLOOM_HOME": tmp}), create=True, embedder=args.embedder
        )
        report = kb.ingest([corpus])
        print(f"indexed {report.count('added')} chapters, {report.chunks} chunks; {len(questions)} questions")
        flt = SearchFilter.make()
        lists = [
            (
                number,
                kb.store.search_vector(kb.embedder.embed_query(q), 40, flt),
                kb.store.search_keyword(q, 40, flt),
            )
            for number, q in questions
        ]
        runs = {"vector": lambda v, w: v[:10], "keyword": lambda v, w: w[:10]}
        for weight in (1.0, 0.5, 0.3):
            runs[f"hybrid, keyword weight {weight}"] = lambda v, w, x=weight: rrf(
                [v, w], 10, weights=[1.0, x]
            )
        print(f"{'mode':<28}{'hit@5':>7}{'MRR@10':>8}")
        for name, fuse in runs.items():
            hits5, rr = 0, 0.0
            for number, vec, kw in lists:
                hits = fuse(vec, kw)
                ranks = [i for i, h in enumerate(hits, 1) if h.heading_path and h.heading_path[-1] == number]
                if ranks:
                    rr += 1 / ranks[0]
                    hits5 += ranks[0] <= 5
            print(f"{name:<28}{hits5 / len(questions):>7.3f}{rr / len(questions):>8.3f}")
        kb.close()


if __name__ == "__main__":
    main()
