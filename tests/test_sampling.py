import pytest

from genloom import SamplingParams, UserError


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"temperature": -0.1}, "temperature must be >= 0"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0}, "top_p must be in (0, 1]"),
        ({"top_p": 1.5}, "top_p must be in (0, 1]"),
        ({"top_k": -1}, "top_k"),
        ({"min_p": 1.0}, "min_p"),
        ({"repeat_penalty": 0}, "repeat_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": -3}, "seed"),
        ({"stop": [""]}, "stop sequences"),
    ],
)
def test_bad_values_raise_user_error_with_hint(kwargs, fragment):
    with pytest.raises(UserError) as info:
        SamplingParams(**kwargs).validate()
    assert fragment in info.value.message
    assert info.value.hint


def test_good_values_pass():
    p = SamplingParams(temperature=0, top_p=1, top_k=0, min_p=0, repeat_penalty=1, seed=0, stop=["\n"])
    assert p.validate() is p
