"""A safe arithmetic evaluator: the expression is parsed to a Python AST and only numbers, + - * / // % **,
unary signs, parentheses and a few math functions/constants are evaluated. Never ``eval``.

Bounds keep a hostile expression from eating the machine: the expression length, the AST size, exponents,
and the size of every intermediate integer (``9**9**9`` is refused before it is computed).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from genloom.errors import UserError

MAX_CHARS = 500
MAX_NODES = 200
MAX_EXPONENT = 1000  # |b| in a ** b
MAX_INT_BITS = 4096  # every intermediate integer stays below 2**4096 (~1233 digits)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,  # log(x) or log(x, base)
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalcError(UserError):
    pass


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression, e.g. ``evaluate("2 * (3 + 4) ** 2")`` → 98."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise CalcError("the expression is empty", hint="pass e.g. '2 * (3 + 4)'")
    if len(text) > MAX_CHARS:
        raise CalcError(f"the expression is longer than {MAX_CHARS} characters", hint="split it into steps")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalcError(f"{expression!r} is not an arithmetic expression",
                        hint="use numbers, + - * / // % **, parentheses and " + ", ".join(FUNCTIONS)) from None  # fmt: skip
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"the expression has more than {MAX_NODES} parts", hint="split it into steps")
    try:
        value = _eval(tree.body)
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except (OverflowError, ValueError) as e:
        raise CalcError(f"cannot compute {expression!r}: {e}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise CalcError(f"{expression!r} has no finite value")
    return value


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalcError(f"only numbers are allowed, not {node.value!r}")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalcError(f"unknown name {node.id!r}", hint="constants: " + ", ".join(CONSTANTS))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise CalcError("unknown function", hint="functions: " + ", ".join(FUNCTIONS))
        if node.keywords:
            raise CalcError(f"{node.func.id}() takes positional arguments only")
        args = [_eval(a) for a in node.args]
        try:
            return _bounded(FUNCTIONS[node.func.id](*args))
        except TypeError as e:
            raise CalcError(f"{node.func.id}(): {e}") from None
    raise CalcError(f"{type(node).__name__} is not allowed in an arithmetic expression",
                    hint="use numbers, + - * / // % **, parentheses and " + ", ".join(FUNCTIONS))  # fmt: skip


def _check_power(base: Any, exponent: Any) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise CalcError(f"the exponent {exponent} is larger than {MAX_EXPONENT}")
    ints = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if ints and abs(base) > 1 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
        raise CalcError(f"{base} ** {exponent} is too large to compute")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalcError(f"the result has more than {MAX_INT_BITS} bits")
    return value
