"""langchain-tests' standard unit suite for ChatRAIN (fake backend: no weights).

Switched off, with the reason (also in the README):
- ``temperature``: the suite's standard parameters set ``temperature=0``, which ChatRAIN
  rejects (greedy candidates are impossible for RAIN's search); the parameters here unset it.
- Tool calling and structured output (``test_bind_tool_pydantic``,
  ``test_with_structured_output``): ChatRAIN's ``bind_tools`` and ``with_structured_output``
  raise ``UnsupportedError`` at bind time, because RAIN's search has no tool-call grammar.
"""

from __future__ import annotations

from langchain_tests.unit_tests import ChatModelUnitTests

from rain_guard import ChatRAIN, FakeBackend


class TestChatRAINUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatRAIN]:
        return ChatRAIN

    @property
    def chat_model_params(self) -> dict:
        return {
            "backend": FakeBackend(),
            "use_similarity": False,
            "t_min": 1,
            "t_max": 2,
            "temperature": None,  # the standard 0 is rejected: RAIN needs diverse candidates
        }

    @property
    def has_tool_calling(self) -> bool:
        return False  # bind_tools raises UnsupportedError: no tool-call grammar in the search

    @property
    def has_structured_output(self) -> bool:
        return False  # with_structured_output raises UnsupportedError for the same reason
