"""Offline checks for the exercise notebooks in notebooks/exercises/.

Infrastructure, not taught. Each chapter's module (``torchprimer.exercises.ch05``, ...)
registers one check per exercise with ``@registry.exercise("name")``; the learner runs
``check("name")`` in the notebook. A check reads the learner's variables, calls the
learner's functions, never raises, and shows one line: "correct", or what is wrong in
learner terms. The result also goes into the output's metadata (``torchprimer.check``)
so that the tests can read it back from an executed notebook.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "Answers",
    "NotYet",
    "Registry",
    "Result",
    "attempt",
    "describe",
    "flat_weights",
    "parameter_count",
    "whole_number",
]


class NotYet(Exception):
    """Raised inside a check: its message is shown to the learner as it is."""


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    name: str
    passed: bool
    message: str

    def text(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} {self.name}: {self.message}"


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{type(value).__name__} of shape {tuple(shape)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(value: Any) -> str:
    """A learner's value in a message: a tensor's dtype and shape, or a short repr."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def attempt(what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run learner code; an exception becomes one learner-facing line about ``what``."""
    try:
        return function(*args, **kwargs)
    except NotYet:
        raise
    except Exception as exc:  # the learner's code: report it, never crash
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotYet(f"`{what}` stopped with {type(exc).__name__}: {first}") from None


def whole_number(value: Any, name: str) -> int:
    """A prediction written as a whole number (an int, or a float such as 4640.0)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotYet(f"`{name}` should be a whole number, not {describe(value)}.")
    if value != int(value):
        raise NotYet(f"`{name}` is {value}; a count is a whole number.")
    return int(value)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(param.numel() for param in model.parameters())


def flat_weights(model: torch.nn.Module) -> torch.Tensor:
    """All of ``model``'s parameters, detached, as one flat tensor."""
    return torch.cat([p.detach().flatten() for p in model.parameters()])


class Answers:
    """The learner's notebook variables, read with learner-facing errors."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def get(self, name: str) -> Any:
        """The value of ``name``; NotYet if it is missing or still ``...``."""
        if name not in self._namespace:
            raise NotYet(f"`{name}` is not defined yet: run the cell that defines it.")
        value = self._namespace[name]
        if value is Ellipsis:
            raise NotYet(
                f"`{name}` is still `...`: replace the `...` with your answer."
            )
        return value

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the learner's function ``name``; its errors become one learner line."""
        shown = ", ".join([_short(a) for a in args] + [f"{k}=..." for k in kwargs])
        return self.call_as(name, f"{name}({shown})", *args, **kwargs)

    def call_as(
        self, name: str, shown: str, *args: Any, hint: str = "", **kwargs: Any
    ) -> Any:
        """``call``, with the call written as ``shown`` in the messages, and ``hint``
        for what to put in place of the `...` of the function's body."""
        function = self.get(name)
        if not callable(function):
            raise NotYet(f"`{name}` should be a function, not {describe(function)}.")
        result = attempt(shown, function, *args, **kwargs)
        if result is None or result is Ellipsis:
            raise NotYet(
                f"`{shown}` returned {result!r}: replace the `...` in its body with "
                + (hint or "your code and `return` the result.")
            )
        return result


Check = Callable[[Answers], "str | None"]


class Registry:
    """The checks of one chapter, in the order the notebook runs them."""

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter
        self._checks: dict[str, Check] = {}

    def exercise(self, name: str) -> Callable[[Check], Check]:
        """Register the decorated function as the check of exercise ``name``."""

        def register(check: Check) -> Check:
            if name in self._checks:
                raise ValueError(f"exercise {name!r} is registered twice")
            self._checks[name] = check
            return check

        return register

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    def run(self, name: str, namespace: dict[str, Any]) -> Result:
        """Run check ``name`` against ``namespace``; never raises."""
        if name not in self._checks:
            known = ", ".join(repr(n) for n in self._checks)
            return Result(
                name, False, f"there is no exercise {name!r} (known: {known})."
            )
        try:
            extra = self._checks[name](Answers(namespace))
        except NotYet as exc:
            return Result(name, False, f"not yet. {exc}")
        except Exception as exc:  # a bug in the check itself: still no traceback
            kind = type(exc).__name__
            return Result(name, False, f"the check itself failed ({kind}: {exc}).")
        return Result(name, True, "correct" + (f". {extra}" if extra else "."))

    def check(self, name: str) -> None:
        """Check exercise ``name`` against the notebook's variables; show the result."""
        from IPython.display import display

        result = self.run(name, sys._getframe(1).f_globals)
        colour = "#1a7f37" if result.passed else "#cf222e"
        text = result.text()
        display(
            {
                "text/plain": text,
                "text/html": f'<p style="color:{colour}">{html.escape(text)}</p>',
            },
            raw=True,
            metadata={"torchprimer": {"check": name, "passed": result.passed}},
        )
