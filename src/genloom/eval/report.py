"""A self-contained HTML report of an evaluation run: no scripts, no external files, plots as inline SVG.

Sections: configuration, metrics (with deltas against a baseline run when given), distributions of the
per-case scores, a per-tag table, cases that got worse than the baseline, and the worst cases with the
question, answer, citations and evidence side by side -- enough to decide a prompt or model A/B.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from genloom.eval.metrics import METRICS

CASE_SCORE_PARTS = ["hit@k", "citation_recall", "faithfulness", "token_f1", "refusal_correct", "judge_score"]
MAX_WORSE = 25
TAG_COLUMNS = ["n_cases", "hit@k", "mrr", "token_f1", "faithfulness", "citation_recall", "answered_rate"]
HIST = [
    "hit@k", "recall@k", "mrr", "token_f1", "rouge_l", "bleu", "chrf", "semantic_similarity",
    "faithfulness", "citation_precision", "citation_recall", "judge_score",
]  # fmt: skip
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#137333}.worse{color:#b3261e;font-weight:600}.muted{color:#777}.judged{color:#8a4b00}
.banner{background:#fff4d6;border:1px solid #e0b84d;padding:.5rem 1rem}.plots{display:flex;flex-wrap:wrap;gap:1rem}
.case{border:1px solid #ccc;margin:1rem 0;padding:.5rem 1rem}.side{display:grid;grid-template-columns:1fr 1fr 1fr;
gap:1rem}.side>div{background:#fafafa;padding:.5rem;overflow-wrap:anywhere}blockquote{margin:.3rem 0;
padding-left:.6rem;border-left:3px solid #ccc}.bad{color:#b3261e}"""


def case_score(case: dict[str, Any]) -> float:
    """One number per case for ranking the worst: the mean of its quality scores that apply."""
    vals = [case["scores"][k] for k in CASE_SCORE_PARTS if k in case["scores"]]
    return sum(vals) / len(vals) if vals else 0.0


def _fmt(v: Any) -> str:
    if v is None:
        return '<span class="muted">n/a</span>'
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return escape(str(v))


def histogram(name: str, values: Sequence[float], lo: float = 0.0, hi: float = 1.0, bins: int = 10) -> str:
    """An inline SVG bar chart of ``values`` in ``bins`` equal bins over [lo, hi]."""
    counts = [0] * bins
    for v in values:
        i = int((min(max(v, lo), hi) - lo) / (hi - lo) * bins)
        counts[min(i, bins - 1)] += 1
    w, h, pad = 240, 120, 18
    top = max(counts) or 1
    bw = (w - 2 * pad) / bins
    bars = []
    for i, c in enumerate(counts):
        bh = (h - 2 * pad) * c / top
        x, y = pad + i * bw, h - pad - bh
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" fill="#4a7fc1">'
            f"<title>{lo + i * (hi - lo) / bins:g}-{lo + (i + 1) * (hi - lo) / bins:g}: {c}</title></rect>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{escape(name)}">'
        f'<text x="{pad}" y="12" font-size="12">{escape(name)} (n={len(values)})</text>{"".join(bars)}'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>'
        f'<text x="{pad}" y="{h - 4}" font-size="10">{lo:g}</text>'
        f'<text x="{w - pad}" y="{h - 4}" font-size="10" text-anchor="end">{hi:g}</text></svg>'
    )


def _metric_rows(run: Any, base: Any | None) -> str:
    rows = []
    for name, (family, higher, meaning) in METRICS.items():
        v = run.value(name)
        label = escape(name) + (' <span class="judged">(model-judged)</span>' if family == "judge" else "")
        n = run.metrics.get(f"n_{name}", "")
        cells = [f"<td>{label}</td>", f'<td class="num">{_fmt(v)}</td>', f'<td class="num">{_fmt(n)}</td>']
        if base is not None:
            b = base.value(name)
            cells.append(f'<td class="num">{_fmt(b)}</td>')
            cells.append(f'<td class="num">{_delta(v, b, higher)}</td>')
        cells.append(f"<td>{escape(meaning)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<th>metric</th><th>value</th><th>n</th>" + ("<th>baseline</th><th>delta</th>" if base else "")
    return f"<table><tr>{head}<th>meaning</th></tr>{''.join(rows)}</table>"


def _delta(v: Any, b: Any, higher: bool) -> str:
    if v is None or b is None:
        return '<span class="muted">n/a</span>'
    d = float(v) - float(b)
    if abs(d) < 1e-9:
        return "0"
    cls = "better" if (d > 0) == higher else "worse"
    return f'<span class="{cls}">{d:+.3f}</span>'


def _tag_table(run: Any) -> str:
    if not run.by_tag:
        return '<p class="muted">no tags in this dataset</p>'
    head = "".join(f"<th>{escape(c)}</th>" for c in TAG_COLUMNS)
    rows = "".join(
        f"<tr><td>{escape(tag)}</td>" + "".join(f'<td class="num">{_fmt(m.get(c))}</td>' for c in TAG_COLUMNS)
        + "</tr>"
        for tag, m in run.by_tag.items()
    )  # fmt: skip
    return f"<table><tr><th>tag</th>{head}</tr>{rows}</table>"


def _case_html(c: dict[str, Any], base_case: dict[str, Any] | None = None) -> str:
    expect = "should refuse" if c["should_refuse"] else "gold: " + (", ".join(c["gold_sources"]) or "none")
    answer = (
        f'<p class="bad">refused: {escape(c["refusal_reason"] or "")}</p>'
        if c["refused"]
        else f"<p>{escape(c['answer'])}</p><p class='muted'>mode: {escape(c['mode'])}</p>"
    )
    if c.get("reference"):
        answer += f"<p class='muted'>reference: {escape(c['reference'])}</p>"
    cites = (
        "".join(
            f"<p>[{x['n']}] {escape(x['source'].rsplit('/', 1)[-1])} <span class='muted'>{escape(x['heading'])}</span>"
            f"<blockquote>{escape(x['quote'])}</blockquote></p>"
            for x in c["citations"]
        )
        or '<p class="muted">no citations</p>'
    )
    claims = "".join(
        f"<li class='{'' if x['supported'] else 'bad'}'>{escape(x['text'])} "
        f"<span class='muted'>(support {x['support']:.2f})</span></li>"
        for x in c["claims"]
    )
    retrieved = "".join(f"<li>{escape(s.rsplit('/', 1)[-1])}</li>" for s in c["retrieved"])
    scores = ", ".join(f"{k}={_fmt(v)}" for k, v in c["scores"].items())
    before = ""
    if base_case is not None:
        before = (
            f"<p class='muted'>baseline answer ({'refused' if base_case['refused'] else base_case['mode']}): "
            f"{escape(base_case['answer'] or base_case.get('refusal_reason') or '')}</p>"
        )
    return (
        f"<div class='case'><p><b>{escape(c['question'])}</b> <span class='muted'>[{escape(c['id'])}; "
        f"{escape(expect)}; tags: {escape(', '.join(c['tags']))}; score {case_score(c):.2f}]</span></p>"
        f"<div class='side'><div><b>answer</b>{answer}{before}</div><div><b>citations</b>{cites}</div>"
        f"<div><b>evidence</b><p class='muted'>retrieved (ranked):</p><ol>{retrieved}</ol>"
        f"<p class='muted'>claims checked:</p><ul>{claims}</ul></div></div>"
        f"<p class='muted'>{scores}</p></div>"
    )


def render(run: Any, baseline: Any | None = None, worst: int = 10) -> str:
    cfg = run.config
    parts = [f"<h1>genloom eval: {escape(str(cfg.get('dataset') or 'dataset'))}</h1>"]
    if cfg.get("synthetic"):
        parts.append("<p class='banner'>This dataset contains SYNTHETIC cases generated from the knowledge base "
                     "(genloom eval generate-set): figures show self-consistency, not real-user quality.</p>")  # fmt: skip
    if cfg.get("judge"):
        parts.append("<p class='banner judged'>judge_score is MODEL-JUDGED by "
                     f"{escape(str(cfg['judge'].get('model')))}: an opinion of a model, not a measurement.</p>")  # fmt: skip
    conf = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in cfg.items())
    parts.append(f"<h2>Configuration</h2><table>{conf}</table>")
    if baseline is not None:
        parts.append(f"<p>Compared with baseline: model {escape(str(baseline.config.get('model')))}, "
                     f"template {escape(str(baseline.config.get('template')))}.</p>")  # fmt: skip
    parts.append("<h2>Metrics</h2>" + _metric_rows(run, baseline))
    plots = []
    for name in HIST:
        vals = [c["scores"][name] for c in run.cases if name in c["scores"]]
        if vals:
            plots.append(histogram(name, vals, 0.0, 100.0 if name in ("bleu", "chrf") else 1.0))
    parts.append("<h2>Distributions (per case)</h2><div class='plots'>" + "".join(plots) + "</div>")
    parts.append("<h2>Per tag</h2>" + _tag_table(run))
    if baseline is not None:
        base_cases = {c["id"]: c for c in baseline.cases}
        worse = sorted(
            (
                (case_score(c) - case_score(base_cases[c["id"]]), c)
                for c in run.cases
                if c["id"] in base_cases
            ),
            key=lambda x: (x[0], x[1]["id"]),
        )
        worse = [(d, c) for d, c in worse if d < -1e-9]
        missing = len([c for c in run.cases if c["id"] not in base_cases])
        parts.append(f"<h2>Cases that got worse ({len(worse)})</h2>")
        if missing:
            parts.append(f"<p class='muted'>{missing} cases are not in the baseline run.</p>")
        parts += [
            f"<p class='worse'>score {d:+.2f}</p>" + _case_html(c, base_cases[c["id"]]) for d, c in worse
        ]
    ranked = sorted(run.cases, key=lambda c: (case_score(c), c["id"]))[:worst]
    parts.append(f"<h2>Worst {len(ranked)} cases</h2>" + "".join(_case_html(c) for c in ranked))
    s = run.timings.get("summary", {})
    parts.append(f"<h2>Timings</h2><p>latency p50 {_fmt(s.get('latency_p50'))} s, p95 {_fmt(s.get('latency_p95'))} "
                 f"s, wall {_fmt(s.get('wall'))} s (timings vary run to run; every other figure does not).</p>")  # fmt: skip
    title = escape(f"genloom eval {cfg.get('dataset') or ''}")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
