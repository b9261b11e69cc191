"""langchain-tests' standard integration suite for ChatRAIN on the embedded model.

The search runs with a tiny budget (one iteration per commit, 8 answer tokens) so the suite
stays fast; RAIN's behaviour itself is tested in test_rain_embedded.py. Tests switched off
(tool calling, structured output, multimodal inputs) are named in the README; the standard
``temperature=0`` is unset here, because ChatRAIN rejects it (RAIN needs diverse candidates).
"""

from __future__ import annotations

from langchain_tests.integration_tests import ChatModelIntegrationTests

from rain_guard import ChatRAIN


class TestChatRAINIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatRAIN]:
        return ChatRAIN

    @property
    def chat_model_params(self) -> dict:
        return {
            "model": "smollm2",
            "max_tokens": 8,
            "t_min": 1,
            "t_max": 1,
            "num_candidates": 2,
            "rollout_max_tokens": 4,
            "use_similarity": False,
            "temperature": None,  # the standard 0 is rejected: RAIN needs diverse candidates
        }

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False
