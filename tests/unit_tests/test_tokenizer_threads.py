"""ChatFormat takes turns on its tokenizer: batched searches tokenise from many threads.

A Hugging Face fast tokenizer is not safe across threads; with several searches sharing one
backend (``SharedBatch``: ``ChatRAIN.batch``, ``eval run --batch``, ``bench --batch``) an
answer once decoded as ``'<|im_'``. The fake tokenizer here raises if two threads are inside
it at once, so every test fails if ChatFormat stops holding its lock.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rain_guard.backends.chat_format import ChatFormat, tokenizer_lock


class ConcurrentEntry(RuntimeError):
    """Two threads were inside the tokenizer at once."""


class GuardedTokenizer:
    """A character-level tokenizer that raises when entered by two threads at once.

    Args:
        pause: Seconds each call stays inside (widens the window a race needs).
        hold: While set, a call waits inside for ``release`` (makes a race certain).
    """

    eos_token_id = 0
    bos_token_id = None
    model_max_length = 512
    chat_template = "fake"
    all_special_tokens: list[str] = []
    added_tokens_decoder: dict[int, object] = {}

    def __init__(self, pause: float = 0.0005) -> None:
        self.pause = pause
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self._busy = threading.Lock()
        self.calls = 0

    def _enter(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise ConcurrentEntry("two threads inside the tokenizer")
        self.entered.set()
        self.calls += 1
        time.sleep(self.pause)
        self.release.wait(timeout=5)

    def encode(self, text: str, **_: object) -> list[int]:
        self._enter()
        try:
            return [ord(c) for c in text]
        finally:
            self._busy.release()

    def decode(self, ids: list[int], **_: object) -> str:
        self._enter()
        try:
            return "".join(chr(i) for i in ids if i)
        finally:
            self._busy.release()

    def apply_chat_template(self, messages: list[dict[str, str]], **_: object) -> str:
        self._enter()
        try:
            return "".join(f"{m['role']}:{m['content']}\n" for m in messages) + "assistant:"
        finally:
            self._busy.release()

    def convert_tokens_to_ids(self, text: str) -> int:
        return 0


def _work(fmt: ChatFormat, i: int) -> tuple[str, str, list[int], bool]:
    text = f"request {i}: hello."
    ids = fmt.tokenize(text)
    back = fmt.detokenize(ids)
    prompt = fmt.chat_prompt_ids([("user", text)])
    return text, back, prompt, fmt.at_boundary(ids[:-1], ids[-1:], ".")


def test_the_fake_tokenizer_detects_two_threads_inside():
    tokenizer = GuardedTokenizer()
    tokenizer.release.clear()
    inside = threading.Thread(target=tokenizer.encode, args=("a",))
    inside.start()
    assert tokenizer.entered.wait(timeout=5)
    with pytest.raises(ConcurrentEntry):
        tokenizer.decode([97])
    tokenizer.release.set()
    inside.join()


def test_a_second_thread_waits_for_the_first_instead_of_entering():
    tokenizer = GuardedTokenizer()
    fmt = ChatFormat(tokenizer, "fake")
    tokenizer.release.clear()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(fmt.tokenize, "abc")
        assert tokenizer.entered.wait(timeout=5)
        second = pool.submit(fmt.detokenize, [120, 121])
        time.sleep(0.05)  # the second call is now waiting at the lock, not inside
        tokenizer.release.set()
        assert first.result() == [97, 98, 99]
        assert second.result() == "xy"


def test_many_threads_encode_decode_and_build_prompts_without_overlap():
    tokenizer = GuardedTokenizer()
    fmt = ChatFormat(tokenizer, "fake")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _work(fmt, i), range(64)))
    for i, (text, back, prompt, boundary) in enumerate(results):
        assert back == text
        assert "".join(chr(c) for c in prompt) == f"user:request {i}: hello.\nassistant:"
        assert boundary
    assert tokenizer.calls >= 64 * 4


def test_formats_sharing_a_tokenizer_share_its_lock():
    tokenizer = GuardedTokenizer()
    formats = [ChatFormat(tokenizer, "fake") for _ in range(4)]
    assert tokenizer_lock(tokenizer) is formats[0]._lock is formats[3]._lock
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _work(formats[i % 4], i), range(64)))
    assert all(back == text for text, back, _, _ in results)
