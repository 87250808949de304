import pytest

from genloom.guard import Finding, Guard, Span, redact


class NoSecrets:
    name = "no_secrets"

    def check(self, text, where):
        i = text.find("hunter2")
        if i < 0:
            return None
        return Finding(self.name, where, "redact", "secret", "a password", (Span(i, i + 7, "secret"),))


def test_a_guard_is_a_protocol_and_redaction_uses_its_spans():
    g = NoSecrets()
    assert isinstance(g, Guard)
    assert g.check("fine", "input") is None
    f = g.check("my password is hunter2.", "output")
    assert f is not None and f.to_dict()["spans"] == [
        {"start": 15, "end": 22, "category": "secret", "reason": ""}
    ]
    assert redact("my password is hunter2.", f.spans) == "my password is [SECRET]."


def test_redact_merges_overlaps_and_keeps_order():
    text = "abcdefghij"
    spans = [Span(6, 8, "b", replacement="<B>"), Span(1, 4, "a"), Span(2, 5, "c")]
    assert redact(text, spans) == "a[A]f<B>ij"
    assert redact(text, []) == text


def test_bad_values_are_rejected_by_name():
    with pytest.raises(ValueError, match="where"):
        Finding("g", "somewhere", "block", "x", "y")
    with pytest.raises(ValueError, match="action"):
        Finding("g", "input", "explode", "x", "y")
    with pytest.raises(ValueError):
        Span(5, 2, "x")
