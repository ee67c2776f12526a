"""The README's Python API example runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert "swd" in result and result["swd"] >= 0
    assert namespace["samples"].shape == (1000, 2)
    assert namespace["trainer"].step == 200


@pytest.mark.slow
def test_readme_tensor_source_example_gives_mode_metrics():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2, "README has no TensorSource example"
    namespace: dict = {}
    for block in blocks[:2]:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert {"modes", "hq_fraction", "reverse_kl", "swd", "floor/modes"} <= set(result)
    assert result["floor/modes"] == 2
