from genloom.answer.followup import standalone_query
from genloom.answer.text import content_words, markers, overlap, sentences, strip_markers
from genloom.types import Message


def test_sentences_keep_exact_offsets_and_markers():
    text = 'Use dpkg to hold a package. [1] It is simple! Also "see" apt-mark [2, 3]. Done.'
    spans = sentences(text, offset=100)
    assert [s.text for s in spans] == [
        "Use dpkg to hold a package. [1]",
        "It is simple!",
        'Also "see" apt-mark [2, 3].',
        "Done.",
    ]
    for s in spans:
        assert text[s.start - 100 : s.end - 100] == s.text


def test_sentences_split_paragraphs_and_list_items():
    text = "Intro line\n\n- first item\n- second item\n1. numbered"
    assert [s.text for s in sentences(text)] == ["Intro line", "- first item", "- second item", "1. numbered"]


def test_markers_and_strip():
    assert markers("a [2] b [1, 3] c [2]") == [2, 1, 3]
    assert strip_markers("Hold it with apt-mark [1].") == "Hold it with apt-mark."


def test_content_words_and_overlap():
    assert content_words("How do I put packages on hold?") == {"put", "packag", "hold"}
    assert overlap("packages on hold", "Put the package on hold with apt-mark") == 1.0
    assert overlap("the a of", "anything") == 0.0
    assert 0 < overlap("hold the kernel package", "hold it") < 1


def test_follow_up_questions_get_the_previous_question():
    history = [Message("user", "How do I put a package on hold?"), Message("assistant", "Use apt-mark hold.")]
    assert (
        standalone_query("And how do I undo it?", history)
        == "How do I put a package on hold? And how do I undo it?"
    )
    assert standalone_query("What is a conffile in Debian?", history) == "What is a conffile in Debian?"
    assert standalone_query("And how do I undo it?", None) == "And how do I undo it?"
