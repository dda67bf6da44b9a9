"""The reqless-py compatibility tests: the clients on a test clock come from
``tests/client/conftest.py``.

``userland`` is put on ``sys.path`` so the tests import ``gnomes`` as the
README's users do (``import gnomes``, ``"gnomes.GnomesJob"``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

USERLAND = str(Path(__file__).parent / "userland")


@pytest.fixture(autouse=True)
def userland(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(USERLAND)
