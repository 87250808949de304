from genloom.backends.llm.base import apply_stops


def run(pieces, stops):
    out = list(apply_stops(iter(pieces), stops))
    return "".join(t for t, _ in out), any(s for _, s in out)


def test_no_stops_passes_through():
    assert run(["a", "b"], []) == ("ab", False)


def test_stop_inside_one_piece():
    assert run(["hello END world"], ["END"]) == ("hello ", True)


def test_stop_split_across_pieces_is_never_emitted():
    out = list(apply_stops(iter(["hel", "lo E", "N", "D more"]), ["END"]))
    assert "".join(t for t, _ in out) == "hello "
    assert all("E" not in t for t, _ in out)
    assert out[-1][1] is True


def test_partial_prefix_that_is_not_a_stop_is_released():
    assert run(["an E", "ND", "x"], ["ENDX"]) == ("an ENDx", False)


def test_earliest_of_several_stops_wins():
    assert run(["one. two\n three"], ["\n", "."]) == ("one", True)


def test_held_text_is_flushed_at_end():
    assert run(["abc E"], ["END"]) == ("abc E", False)
