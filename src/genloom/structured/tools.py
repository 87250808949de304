"""Tool calls: the OpenAI ``tools``/``tool_choice`` request, the grammar that forces a valid call on a steerable
model, the text format a model without native tool support reads and writes, and validation of calls.

The format (Hermes/Qwen style, which small instruct models have seen): the system message lists the functions
as JSON; a call is ``<tool_call>{"name": "f", "arguments": {...}}</tool_call>``; parallel calls follow each other
on new lines; a tool's result comes back as a ``tool`` turn. On a steerable backend the grammar lets the model
write either plain text (``tool_choice`` auto) or calls of the listed functions whose arguments match each
function's JSON Schema, so every call parses and validates by construction. Black-box backends get ``tools``
passed on natively and their calls are validated here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from genloom.errors import UserError
from genloom.structured.constraint import JSON_STYLE, check_instance, enforced
from genloom.structured.schema import load_schema
from genloom.types import Delta, Message, ToolCall, ToolCallDelta

OPEN, CLOSE = "<tool_call>", "</tool_call>"
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
Choice = Literal["auto", "none", "required"] | str  # or a function's name


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}  # fmt: skip


@dataclass(frozen=True)
class Tools:
    """What the model may call: ``choice`` is auto | none | required | the one function's name."""

    functions: tuple[Function, ...]
    choice: Choice = "auto"
    parallel: bool = True
    _by_name: dict[str, Function] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.functions})

    def get(self, name: str) -> Function | None:
        return self._by_name.get(name)

    def callable(self) -> tuple[Function, ...]:
        """The functions the model may call under ``choice``."""
        if self.choice == "none":
            return ()
        if self.choice in ("auto", "required"):
            return self.functions
        return tuple(f for f in self.functions if f.name == self.choice)

    def openai(self) -> dict[str, Any]:
        """The request fields for an OpenAI-compatible server."""
        choice: Any = self.choice
        if choice not in ("auto", "none", "required"):
            choice = {"type": "function", "function": {"name": choice}}
        return {"tools": [f.to_dict() for f in self.functions], "tool_choice": choice,
                "parallel_tool_calls": self.parallel}  # fmt: skip


def parse_tools(tools: Any, tool_choice: Any = None, parallel_tool_calls: Any = None) -> Tools | None:
    """Tools from OpenAI request fields (or :class:`Tools` itself); a UserError names the bad field."""
    if isinstance(tools, Tools):
        return tools
    if tools is None or tools == []:
        if tool_choice not in (None, "none", "auto"):
            raise UserError("tool_choice needs tools", hint="send the functions in 'tools'")
        return None
    if not isinstance(tools, list):
        raise UserError(
            "tools must be a list of tool objects", hint='[{"type": "function", "function": {...}}]'
        )
    fns: list[Function] = []
    for i, t in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(t, dict) or t.get("type", "function") != "function":
            raise UserError(
                f"{where}: only tools of type 'function' are supported", hint="set type 'function'"
            )
        fn = t.get("function")
        if not isinstance(fn, dict):
            raise UserError(
                f"{where}.function must be an object", hint="give it name, description, parameters"
            )
        name = fn.get("name")
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise UserError(
                f"{where}.function.name must be 1-64 letters, digits, '_' or '-'", hint="rename it"
            )
        if any(f.name == name for f in fns):
            raise UserError(f"{where}: the function name {name!r} is used twice", hint="names must be unique")
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        try:
            params = load_schema(params)
        except UserError as e:
            raise UserError(f"{where}.function.parameters: {e.message}", hint=e.hint) from None
        if params.get("type") != "object":
            raise UserError(f"{where}.function.parameters must be an object schema", hint='"type": "object"')
        fns.append(Function(name, str(fn.get("description") or ""), params))
    choice = _choice(tool_choice, fns)
    if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
        raise UserError("parallel_tool_calls must be true or false", hint="or leave it out (true)")
    return Tools(tuple(fns), choice, parallel_tool_calls is not False)


def _choice(tool_choice: Any, fns: list[Function]) -> Choice:
    if tool_choice is None:
        return "auto"
    if tool_choice in ("auto", "none", "required"):
        return str(tool_choice)
    if isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        name = tool_choice["function"].get("name")
        if any(f.name == name for f in fns):
            return str(name)
        raise UserError(f"tool_choice names {name!r}, which is not in tools", hint="name one of the tools")
    raise UserError(
        'tool_choice must be \'auto\', \'none\', \'required\' or {"type": "function", "function": {"name": ...}}',
        hint="or leave it out ('auto')",
    )


# -- the text format (models without native tool support) ----------------------------------------------
def system_text(tools: Tools) -> str:
    """Instructions listing the callable functions, added to the system message."""
    fns = [
        {"name": f.name, "description": f.description, "parameters": f.parameters} for f in tools.callable()
    ]
    how = "Call one function" if not tools.parallel else "Call one or more functions"
    must = " You must call a function." if tools.choice not in ("auto",) else ""
    return (
        "You can call these functions:\n" + json.dumps(fns, ensure_ascii=False, separators=(",", ":")) + "\n"
        f"{how} only when it helps answer; write each call on its own line as\n"
        f'{OPEN}{{"name": "<function name>", "arguments": {{<arguments as JSON>}}}}{CLOSE}\n'
        f"Otherwise answer in plain text.{must}"
    )


def call_text(call: ToolCall) -> str:
    try:
        args = json.dumps(json.loads(call.arguments or "{}"), ensure_ascii=False)
    except json.JSONDecodeError:
        args = call.arguments
    return f'{OPEN}{{"name": {json.dumps(call.name)}, "arguments": {args}}}{CLOSE}'


def render(messages: Sequence[Message], tools: Tools | None) -> list[Message]:
    """Messages as a model without native tool support reads them: the functions in the system message,
    earlier calls as text in assistant turns, results as ``tool`` turns (the chat template's own role)."""
    out: list[Message] = []
    for m in messages:
        if m.role == "assistant" and m.tool_calls:
            text = "\n".join(call_text(c) for c in m.tool_calls)
            out.append(Message("assistant", f"{m.content}\n{text}" if m.content else text))
        elif m.role == "tool":
            out.append(Message("tool", m.content))
        else:
            out.append(Message(m.role, m.content))
    if tools is not None and tools.callable():
        note = system_text(tools)
        if out and out[0].role == "system":
            out[0] = Message("system", f"{out[0].content}\n\n{note}")
        else:
            out.insert(0, Message("system", note))
    return out


# -- the grammar (steerable backends) ------------------------------------------------------------------
def grammar(tools: Tools, text: str | None = None) -> str:
    """llguidance Lark: plain text (or the ``text`` grammar's start, e.g. a JSON Schema) or valid calls."""
    fns = tools.callable()
    rules = []
    for i, f in enumerate(fns):
        head = json.dumps(f'{OPEN}{{"name": "{f.name}", "arguments": ')
        rules.append(f"call_{i}: {head} args_{i} {json.dumps('}' + CLOSE)}")
        rules.append(f"args_{i}: %json {json.dumps(_closed(f.parameters))}")
    call = "call: " + " | ".join(f"call_{i}" for i in range(len(fns)))
    calls = 'calls: call ("\\n" call)*' if tools.parallel else "calls: call"
    if tools.choice == "auto":
        # text may not begin with "<t" so it can never be mistaken for a (malformed) call
        body = text or "TEXT\nTEXT: /([^<]|<[^t])(.|\\n)*/"
        start = "start: calls | " + body
    else:
        start = "start: calls"
    return "\n".join([start, calls, call, *rules]) + "\n"


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    return {**enforced(schema), "x-guidance": JSON_STYLE}


# -- parsing and validation ----------------------------------------------------------------------------
def new_id() -> str:
    return "call_" + secrets.token_hex(12)


class CallParser:
    """Turns the streamed text of a tool-capable model into text pieces and OpenAI-framed call deltas.

    Feed pieces with :meth:`feed`; it yields ``str`` (answer text) or :class:`ToolCallDelta`. Text that could
    still be the start of a call is held back until it is known not to be one. Each call is passed on once it
    is complete (its head, then its arguments), so a call that repeats an earlier one exactly -- a small model
    looping -- is dropped instead, and :attr:`done` tells the caller to stop generating."""

    def __init__(self) -> None:
        self.buf = ""
        self.mode = "start"  # start | text | head | args | between
        self.calls: list[ToolCall] = []
        self.done = False
        self._name = ""

    def feed(self, piece: str) -> Iterator[str | ToolCallDelta]:
        self.buf += piece
        while not self.done:
            if self.mode == "text":
                out, self.buf = self.buf, ""
                if out:
                    yield out
                return
            if self.mode in ("start", "between"):
                stripped = self.buf.lstrip("\n ") if self.mode == "between" else self.buf
                if stripped.startswith(OPEN):
                    self.buf, self.mode = stripped, "head"
                    continue
                if OPEN.startswith(stripped):  # could still become a call: wait
                    return
                self.mode = "text"
                continue
            if self.mode == "head":
                m = _HEAD.match(self.buf)
                if m is None:
                    if len(self.buf) > 200:  # not our format after all: it is text
                        self.mode = "text"
                        continue
                    return
                self._name, self.buf, self.mode = m.group(1), self.buf[m.end() :], "args"
                continue
            end = _args_end(self.buf)  # mode "args"
            if end < 0:
                return
            args, self.buf, self.mode = self.buf[:end], self.buf[end + len(CLOSE) + 1 :], "between"
            if any(c.name == self._name and _same_json(c.arguments, args) for c in self.calls):
                self.done = True  # the model repeats itself: end the reply here
                return
            call = ToolCall(new_id(), self._name, args)
            self.calls.append(call)
            index = len(self.calls) - 1
            yield ToolCallDelta(index, call.id, call.name, "")
            yield ToolCallDelta(index, arguments=args)

    def finish(self) -> Iterator[str]:
        """What is left at the end of the stream (held-back text)."""
        if self.mode in ("start", "text", "head") and self.buf and not self.done:
            yield self.buf
        self.buf = ""


_HEAD = re.compile(r'<tool_call>\s*\{\s*"name"\s*:\s*"([^"]+)"\s*,\s*"arguments"\s*:\s*')


_DECODER = json.JSONDecoder()


def _args_end(buf: str) -> int:
    """Where the arguments end in ``buf`` (the index of the ``}</tool_call>`` after them), or -1 if not yet.

    The arguments are a JSON value, so they end where a JSON parser says -- a string inside them may well
    contain ``}</tool_call>``. Text that is not JSON ends at the first ``}</tool_call>`` (validation reports it).
    """
    start = len(buf) - len(buf.lstrip())
    if start == len(buf):
        return -1
    try:
        _, end = _DECODER.raw_decode(buf, start)
    except json.JSONDecodeError:
        if buf[start] in '{["-' or buf[start].isdigit() or buf[start] in "tfn":
            return -1 if len(buf) < 20_000 else buf.find("}" + CLOSE)
        return buf.find("}" + CLOSE)
    rest = buf[end:]
    stripped = rest.lstrip()
    if stripped.startswith("}" + CLOSE):
        return end + (len(rest) - len(stripped))
    if ("}" + CLOSE).startswith(stripped):
        return -1  # the closing marker is still coming
    return buf.find("}" + CLOSE, end)


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except json.JSONDecodeError:
        return a.strip() == b.strip()


def as_deltas(items: Iterator[str | ToolCallDelta]) -> Iterator[Delta]:
    """A :class:`CallParser`'s output as stream Deltas."""
    for item in items:
        yield Delta(item) if isinstance(item, str) else Delta("", tool_calls=[item])


class CallAccumulator:
    """Assembles whole :class:`ToolCall` objects from streamed :class:`ToolCallDelta` pieces."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self._by_index: dict[int, ToolCall] = {}

    def add(self, deltas: Sequence[ToolCallDelta]) -> None:
        for d in deltas:
            call = self._by_index.get(d.index)
            if call is None:
                call = self._by_index[d.index] = ToolCall(d.id or new_id(), d.name or "", "")
                self.calls.append(call)
            if d.name and not call.name:
                call.name = d.name
            call.arguments += d.arguments


def validate_calls(calls: Sequence[ToolCall], tools: Tools) -> None:
    """Raise ValueError naming the first call that is not a call of an allowed function with valid arguments."""
    allowed = {f.name for f in tools.callable()}
    if tools.choice == "required" and not calls:
        raise ValueError("tool_choice is 'required' but the model called no function")
    if not tools.parallel and len(calls) > 1:
        raise ValueError(f"parallel_tool_calls is false but the model made {len(calls)} calls")
    for c in calls:
        if c.name not in allowed:
            raise ValueError(f"the model called {c.name!r}, which is not one of {sorted(allowed)}")
        try:
            args = json.loads(c.arguments or "{}")
        except json.JSONDecodeError as e:
            raise ValueError(f"the arguments of {c.name} are not valid JSON ({e.msg})") from None
        fn = tools.get(c.name)
        assert fn is not None
        try:
            check_instance(args, fn.parameters)
        except ValueError as e:
            raise ValueError(f"the arguments of {c.name} do not fit its parameters: {e}") from None
