"""langchain-tests' standard unit suite for ChatRAIN (fake backend: no weights)."""

from __future__ import annotations

from langchain_tests.unit_tests import ChatModelUnitTests

from rain_guard import ChatRAIN, FakeBackend


class TestChatRAINUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatRAIN]:
        return ChatRAIN

    @property
    def chat_model_params(self) -> dict:
        return {"backend": FakeBackend(), "use_similarity": False, "t_min": 1, "t_max": 2}
