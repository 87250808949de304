"""Tool calling on the bundled model: validity, selection accuracy, and what the seam costs in speed.

    python bench/tools.py                     # everything (a few minutes on 2 cores)
    python bench/tools.py --part validity     # or: selection, speed

validity   32 function schemas (strings with enums/patterns/formats, bounded numbers, arrays, nested and
           optional objects) x an input each, tool_choice=required on llama.cpp: share of calls that parse and
           validate against their schema (the grammar should make it 100%).
selection  bench/data/function_calling.jsonl, 30 BFCL-style cases (simple / multiple / parallel / irrelevance),
           tool_choice=auto, (a) constrained: the tool grammar, (b) unconstrained: the same prompt, free text
           parsed afterwards; (c) required: tool_choice=required (the grammar forces a call; irrelevance left out),
           which measures choosing the function and its arguments once a call is wanted. A case is right when the set of called functions matches and every expected
           argument value is present (irrelevance: no call).
speed      decode tok/s, 128 tokens, median of 5, same prompt and params, in one run:
           baseline = llama-cpp-python's own Llama.generate() loop (what genloom ran before the seam),
           genloom's token loop unconstrained, with a JSON-Schema grammar hook, and with a no-op extra hook.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from genloom import Engine, SamplingParams
from genloom.backends.llm.llamacpp import LlamaCppLLM, LogitsHook
from genloom.structured import Constraint, parse_tools
from genloom.structured.tools import validate_calls
from genloom.types import as_messages

HERE = Path(__file__).parent


def fn(name: str, desc: str, props: dict, required: list[str] | None = None) -> dict:
    return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": props, "required": required if required is not None else list(props)}}}  # fmt: skip


S, N, I = {"type": "string"}, {"type": "number"}, {"type": "integer"}  # noqa: E741
FUNCTIONS = {
    "get_weather": fn("get_weather", "Current weather in a city", {"city": S, "unit": {"enum": ["celsius", "fahrenheit"]}}, ["city"]),
    "convert_currency": fn("convert_currency", "Convert money", {"amount": N, "from_currency": S, "to_currency": S}),
    "send_email": fn("send_email", "Send an email", {"to": {"type": "string", "format": "email"}, "subject": S, "body": S}, ["to"]),
    "set_timer": fn("set_timer", "Set a timer", {"minutes": {"type": "integer", "minimum": 1, "maximum": 600}}),
    "search_kb": fn("search_kb", "Search the knowledge base", {"query": S, "k": {"type": "integer", "minimum": 1, "maximum": 20}}, ["query"]),
    "get_stock_price": fn("get_stock_price", "Latest stock price", {"symbol": {"type": "string", "pattern": "^[A-Z]{1,5}$"}}),
    "translate": fn("translate", "Translate text", {"text": S, "target_language": S}),
    "add": fn("add", "Add two numbers", {"a": N, "b": N}),
    "book_table": fn("book_table", "Book a restaurant table", {"restaurant": S, "people": {"type": "integer", "minimum": 1, "maximum": 20}, "time": S}, ["restaurant", "people"]),
    "get_time": fn("get_time", "Current time in a timezone", {"timezone": S}),
}  # fmt: skip
EXTRA_SCHEMAS = [
    ("create_event", "Create a calendar event", {"title": S, "date": {"type": "string", "format": "date"}, "attendees": {"type": "array", "items": S, "maxItems": 5}}, "Schedule a team lunch on 2026-12-24 with Ann and Bo."),
    ("rate_movie", "Rate a movie", {"title": S, "stars": {"type": "integer", "minimum": 1, "maximum": 5}}, "Give Inception five stars."),
    ("order_pizza", "Order a pizza", {"size": {"enum": ["small", "medium", "large"]}, "toppings": {"type": "array", "items": S, "maxItems": 4}}, "A large pizza with mushrooms and olives."),
    ("geocode", "Coordinates of an address", {"address": S}, "Where is 10 Downing Street?"),
    ("set_thermostat", "Set the temperature", {"celsius": {"type": "number", "minimum": 5, "maximum": 30}}, "Make it 21 degrees."),
    ("create_user", "Create an account", {"user": {"type": "object", "properties": {"name": S, "age": {"type": "integer", "minimum": 0, "maximum": 150}}, "required": ["name"]}}, "Sign up Maria, 31."),
    ("ping_host", "Ping a host", {"host": {"type": "string", "format": "hostname"}, "count": {"type": "integer", "minimum": 1, "maximum": 10}}, "Ping example.org 3 times."),
    ("lookup_ip", "Whois an IP", {"ip": {"type": "string", "format": "ipv4"}}, "Who owns 8.8.8.8?"),
    ("play_song", "Play music", {"song": S, "artist": S, "shuffle": {"type": "boolean"}}, "Play Yesterday by the Beatles."),
    ("add_todo", "Add a to-do item", {"task": S, "priority": {"enum": ["low", "normal", "high"]}, "due": {"type": "string", "format": "date"}}, "Remind me to pay rent, high priority."),
    ("split_bill", "Split a bill", {"total": {"type": "number", "exclusiveMinimum": 0}, "people": {"type": "integer", "minimum": 1}}, "Split 120 dollars between 4 friends."),
    ("find_flights", "Search flights", {"origin": {"type": "string", "pattern": "^[A-Z]{3}$"}, "destination": {"type": "string", "pattern": "^[A-Z]{3}$"}, "passengers": {"type": "integer", "minimum": 1, "maximum": 9}}, "Flights from LHR to JFK for 2."),
    ("resize_image", "Resize an image", {"width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1}, "keep_ratio": {"type": "boolean"}}, "Make it 800 by 600."),
    ("define_word", "Dictionary definition", {"word": {"type": "string", "minLength": 1, "maxLength": 40}}, "What does ephemeral mean?"),
    ("tag_note", "Tag a note", {"note_id": I, "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}}, "Tag note 42 as work and urgent."),
    ("schedule_call", "Schedule a call", {"with": S, "at": {"type": "string", "format": "date-time"}}, "Call Sam at 2026-12-02T10:00:00Z."),
    ("nested_order", "Place an order", {"items": {"type": "array", "maxItems": 3, "items": {"type": "object", "properties": {"sku": S, "qty": {"type": "integer", "minimum": 1, "maximum": 99}}, "required": ["sku", "qty"]}}}, "Two of SKU-1 and one SKU-9."),
    ("choose", "Pick one option", {"option": {"anyOf": [{"type": "integer"}, {"enum": ["none"]}]}}, "Pick option 2."),
    ("set_alarm", "Set an alarm", {"time": {"type": "string", "format": "time"}, "label": S}, "Wake me at 07:30:00."),
    ("uuid_lookup", "Find a record", {"id": {"type": "string", "format": "uuid"}}, "Open record 123e4567-e89b-12d3-a456-426614174000."),
    ("share_link", "Share a link", {"url": {"type": "string", "format": "uri"}, "message": S}, "Share https://example.com with a note."),
    ("empty_args", "Refresh the dashboard (no arguments)", {}, "Refresh the dashboard."),
]  # fmt: skip


def validity_cases() -> list[tuple[dict, str]]:
    cases = [
        (f, f"Use {name}: " + f["function"]["description"].lower() + ".") for name, f in FUNCTIONS.items()
    ]
    cases += [(fn(n, d, p), q) for n, d, p, q in EXTRA_SCHEMAS]
    return cases


def bench_validity(engine: Engine) -> dict:
    ok, total, tokens, secs = 0, 0, 0, 0.0
    fails = []
    for tool, query in validity_cases():
        total += 1
        c = engine.generate(
            query, SamplingParams(temperature=0, max_tokens=160), tools=[tool], tool_choice="required"
        )
        tokens, secs = tokens + c.usage.completion_tokens, secs + c.timings.total
        try:
            tools = parse_tools([tool], "required")
            assert tools is not None and c.tool_calls
            validate_calls(c.tool_calls, tools)
            ok += 1
        except (AssertionError, ValueError) as e:
            fails.append((tool["function"]["name"], c.finish_reason, str(e)[:80]))
    return {"schemas": total, "valid": ok, "rate": ok / total, "tok_per_s": tokens / secs, "failures": fails}


def _right(calls: list, expect: list) -> bool:
    got = sorted(c.name for c in calls)
    if got != sorted(e[0] for e in expect):
        return False
    for name, want in expect:
        if not any(c.name == name and _has(json.loads(c.arguments or "{}"), want) for c in calls):
            return False
    return True


def _has(args: dict, want: dict) -> bool:
    for k, v in want.items():
        got = args.get(k)
        if isinstance(v, str) and not (isinstance(got, str) and v.lower() in got.lower()):
            return False
        if not isinstance(v, str) and got != v:
            return False
    return True


def bench_selection(engine: Engine) -> dict:
    from genloom.structured.tools import CallParser, render

    cases = [json.loads(line) for line in (HERE / "data" / "function_calling.jsonl").read_text().splitlines()]
    out: dict = {}
    for mode in ("constrained", "unconstrained", "required"):
        per: dict[str, list[bool]] = {}
        for case in cases:
            if mode == "required" and case["category"] == "irrelevance":
                continue  # forcing a call makes irrelevance meaningless
            tools = [FUNCTIONS[n] for n in case["functions"]]
            p = SamplingParams(temperature=0, max_tokens=128)
            if mode in ("constrained", "required"):
                choice = "auto" if mode == "constrained" else "required"
                calls = engine.generate(case["query"], p, tools=tools, tool_choice=choice).tool_calls
            else:  # the same prompt, free decoding, then parsed
                toolset = parse_tools(tools)
                text = engine.generate(render(as_messages(case["query"]), toolset), p).text
                parser = CallParser()
                list(parser.feed(text))
                calls = parser.calls
                try:
                    validate_calls(calls, toolset)  # type: ignore[arg-type]
                except ValueError:
                    calls = [*calls, None]  # an invalid call is a wrong answer
            right = None not in calls and _right(calls, case["expect"])
            per.setdefault(case["category"], []).append(right)
        out[mode] = {k: f"{sum(v)}/{len(v)}" for k, v in per.items()}
        out[mode]["all"] = f"{sum(sum(v) for v in per.values())}/{sum(len(v) for v in per.values())}"
    return out


class Noop(LogitsHook):
    def process(self, logits):
        logits += 0.0


def bench_speed(backend: LlamaCppLLM, runs: int = 5) -> dict:
    msgs = as_messages("Write a long story about a cat who travels the world.")
    p = SamplingParams(temperature=0.7, seed=3, max_tokens=128)
    rt = backend.runtime
    ids = backend.prompt_ids(msgs)
    schema = Constraint.json_schema(
        {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    )

    def baseline() -> float:
        n, t = 0, time.perf_counter()
        g = rt.llama.generate(ids, top_k=p.top_k, top_p=p.top_p, min_p=p.min_p, temp=p.temperature,
                              repeat_penalty=p.repeat_penalty)  # fmt: skip
        for tok in g:
            if rt.is_eog(tok) or n >= p.max_tokens:
                break
            n += 1
        g.close()
        return n / (time.perf_counter() - t)

    def ours(**kw) -> float:
        n, t = 0, time.perf_counter()
        for d in backend.stream(msgs, p, **kw):
            if d.usage:
                n = d.usage.completion_tokens
        return n / (time.perf_counter() - t)

    variants = {"llama_cpp.generate (baseline)": baseline, "genloom loop": ours,
                "genloom loop + json grammar": lambda: ours(constraint=schema),
                "genloom loop + no-op hook": lambda: ours(hooks=[Noop()])}  # fmt: skip
    res: dict[str, list[float]] = {k: [] for k in variants}
    for f in variants.values():
        f()  # warm up
    for _ in range(runs):
        for k, f in variants.items():  # interleaved: a load change hits every variant alike
            res[k].append(f())
    med = {k: statistics.median(v) for k, v in res.items()}
    base = med["llama_cpp.generate (baseline)"]
    return {k: {"tok_per_s": round(v, 1), "ratio": round(v / base, 3)} for k, v in med.items()} | {
        "constrained / unconstrained": round(med["genloom loop + json grammar"] / med["genloom loop"], 3)
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["validity", "selection", "speed", "all"], default="all")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    backend = LlamaCppLLM(n_ctx=2048, n_threads=args.threads)
    engine = Engine(backend)
    results = {}
    if args.part in ("validity", "all"):
        results["validity"] = bench_validity(engine)
    if args.part in ("selection", "all"):
        results["selection"] = bench_selection(engine)
    if args.part in ("speed", "all"):
        results["speed"] = bench_speed(backend)
    json.dump(results, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
