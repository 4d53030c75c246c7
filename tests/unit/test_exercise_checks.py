"""The helpers every chapter's checks share (torchprimer.exercises)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchprimer.exercises import (
    Answers,
    NotYet,
    attempt,
    describe,
    flat_weights,
    parameter_count,
    whole_number,
)


def test_call_as_names_the_call_and_the_learners_error_in_one_line():
    def broken(x):
        raise ValueError("shapes do not match\nsecond line")

    with pytest.raises(NotYet) as caught:
        Answers({"f": broken}).call_as("f", "f(images)", 1)
    assert (
        str(caught.value) == "`f(images)` stopped with ValueError: shapes do not match"
    )


def test_call_as_asks_to_replace_the_ellipsis_with_the_hint():
    answers = Answers({"f": lambda x: None})
    with pytest.raises(NotYet, match=r"`f\(3\)` returned None: .* with a tensor\.$"):
        answers.call_as("f", "f(3)", 3, hint="a tensor.")
    assert Answers({"f": lambda x: x + 1}).call_as("f", "f(3)", 3) == 4


def test_call_describes_a_value_that_is_not_a_function():
    with pytest.raises(NotYet, match=r"not a torch.float32 tensor of shape \(2,\)\.$"):
        Answers({"f": torch.zeros(2)}).call("f")


def test_call_shows_the_arguments_it_passed():
    with pytest.raises(NotYet, match=r"^`f\(<Tensor of shape \(2, 3\)>\)` stopped"):
        Answers({"f": lambda x: 1 / 0}).call("f", torch.zeros(2, 3))


def test_attempt_lets_notyet_through_and_returns_results():
    assert attempt("sum", sum, [1, 2]) == 3
    with pytest.raises(NotYet, match="^inner$"):
        attempt("g()", lambda: (_ for _ in ()).throw(NotYet("inner")))


def test_whole_number_accepts_integral_values_only():
    assert whole_number(4640.0, "n") == 4640
    assert whole_number(torch.tensor(7), "n") == 7
    with pytest.raises(NotYet, match="a count is a whole number"):
        whole_number(4.5, "n")
    with pytest.raises(NotYet, match="not True"):
        whole_number(True, "n")


def test_describe_parameter_count_and_flat_weights():
    assert describe(torch.zeros(2, 3, dtype=torch.int64)) == (
        "a torch.int64 tensor of shape (2, 3)"
    )
    assert describe("x" * 50) == repr("x" * 50)[:37] + "..."
    layer = nn.Linear(3, 2)
    assert parameter_count(layer) == 8
    assert torch.equal(
        flat_weights(layer), torch.cat([layer.weight.flatten(), layer.bias])
    )
