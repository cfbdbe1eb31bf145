"""The token view of a multi-turn episode: masks, log-probs, re-tokenized history."""

from __future__ import annotations

import pytest

from envfarm.agent.tokens import TokenTrace


def test_turns_extend_the_prompt_with_masked_tool_tokens() -> None:
    trace = TokenTrace()
    trace.add_turn([1, 2, 3], [10, 11], [-0.5, -0.25])
    trace.add_turn([1, 2, 3, 10, 11, 20, 21], [12], [-1.0])
    assert trace.prompt_ids() == [1, 2, 3]
    ids, mask, logprobs = trace.response()
    assert ids == [10, 11, 20, 21, 12]
    assert mask == [1, 1, 0, 0, 1]
    assert logprobs == [-0.5, -0.25, 0.0, 0.0, -1.0]
    assert trace.retokenized == 0


def test_a_re_rendered_history_is_cut_to_the_common_prefix() -> None:
    trace = TokenTrace()
    trace.add_turn([1, 2], [10, 11, 12], [-1.0, -2.0, -3.0])
    trace.add_turn([1, 2, 10, 99, 30], [13], [-4.0])  # the template re-tokenized 11, 12 as 99
    ids, mask, logprobs = trace.response()
    assert ids == [10, 99, 30, 13] and mask == [1, 0, 0, 1] and logprobs == [-1.0, 0.0, 0.0, -4.0]
    assert trace.retokenized == 2
    trace.add_turn([1, 7], [14], [-5.0])  # even the first prompt changed
    assert trace.prompt_ids() == [1] and trace.response() == ([7, 14], [0, 1], [0.0, -5.0])


def test_no_token_ids_makes_the_trace_unavailable() -> None:
    trace = TokenTrace()
    trace.add_turn([1], [2], [-1.0])
    trace.add_turn(None, [3], None)
    assert not trace.available and trace.response() == ([], [], []) and trace.prompt_ids() == []


def test_missing_logprobs_are_zero_and_a_length_mismatch_is_refused() -> None:
    trace = TokenTrace()
    trace.add_turn([1], [2, 3], None)
    assert trace.response()[2] == [0.0, 0.0]
    with pytest.raises(ValueError, match="2 sampled tokens but 1"):
        TokenTrace().add_turn([1], [2, 3], [-1.0])
