"""The test suite's own tooling: the ``pytest.approx`` tensor guard in conftest.py."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("expected", [
    torch.tensor(1.0),                      # the 0-d case pytest 9.2 fails on while comparing
    torch.tensor([1.0, 2.0]),
    {"a": 1.0, "b": torch.tensor(2.0)},
    [1.0, torch.tensor(2.0)],
    (torch.tensor(2.0),),
])
def test_approx_refuses_tensors_with_the_fix(expected: object) -> None:
    with pytest.raises(TypeError, match=r"torch\.Tensor.*float\(t\)"):
        pytest.approx(expected)


def test_approx_still_compares_floats() -> None:
    t = torch.tensor(0.1, dtype=torch.float64) * 3
    assert float(t) == pytest.approx(0.3)
    assert float(t) != pytest.approx(0.31)
    assert {"a": 0.30000001} == pytest.approx({"a": 0.3})
    assert [1.0, 2.0] == pytest.approx([1.0, 2.0 + 1e-9])
    assert [1.0, 2.1] != pytest.approx([1.0, 2.0])
