"""One forward call of the model in float32 and in bfloat16, at the shapes a RAIN search feeds.

    .venv/bin/python benchmarks/dtype_forward_cost.py --threads 1

Both dtypes are timed in one process, so the ratio does not depend on the machine's load
between runs. Each shape is (rows, new tokens) after a cached context of ``--context`` tokens
per row: one row and one token is greedy decoding's call; 8 to 80 rows of one token are a
search's walk steps (k leaves x q candidate sets, more when searches are pooled); one row of
``--context`` tokens is a prefill. On CPUs with AMX or AVX512-BF16 (oneDNN's bfloat16
kernels) bfloat16 speeds up calls of many rows and leaves one-row calls, which read the
weights rather than compute, about as they are; elsewhere it may be slower.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from rain_guard.models.resolve import load_model

SHAPES = ((1, 1), (8, 1), (40, 1), (80, 1), (40, 10))  # (rows, new tokens)


def main() -> None:
    """Print the best-of-``--repeats`` time per call for each shape and dtype, and the ratio."""
    args = parse()
    torch.set_num_threads(args.threads)
    shapes = (*SHAPES, (1, args.context))
    times = {dtype: time_shapes(args, dtype, shapes) for dtype in ("float32", "bfloat16")}
    amx, avx = torch.cpu._is_amx_tile_supported(), torch.cpu._is_avx512_bf16_supported()
    print(f"bf16 kernels: AMX {amx}, AVX512-BF16 {avx}; threads {args.threads}")
    print("| rows | new tokens | float32 ms | bfloat16 ms | float32 / bfloat16 |")
    print("|---:|---:|---:|---:|---:|")
    for rows, new in shapes:
        f32, bf16 = times["float32"][(rows, new)], times["bfloat16"][(rows, new)]
        print(f"| {rows} | {new} | {f32 * 1e3:.1f} | {bf16 * 1e3:.1f} | {f32 / bf16:.2f} |")


def time_shapes(args: argparse.Namespace, dtype: str, shapes) -> dict[tuple[int, int], float]:
    """Seconds per call (best of ``args.repeats``), each on a fresh copy of a filled cache."""
    model, _, _ = load_model(args.model, dtype=dtype)
    generator = torch.Generator().manual_seed(0)
    out = {}
    with torch.no_grad():
        for rows, new in shapes:
            context = torch.randint(0, 40000, (rows, args.context), generator=generator)
            cache = model(context, use_cache=True).past_key_values
            tokens = torch.randint(0, 40000, (rows, new), generator=generator)
            best = float("inf")
            for _ in range(args.repeats):
                fresh = copy.deepcopy(cache)
                start = time.perf_counter()
                model(tokens, past_key_values=fresh, use_cache=True)
                best = min(best, time.perf_counter() - start)
            out[(rows, new)] = best
    return out


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the embedded SmolLM2")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--context", type=int, default=300, help="cached tokens per row")
    parser.add_argument("--repeats", type=int, default=5, help="calls per shape; best kept")
    return parser.parse_args()


if __name__ == "__main__":
    main()
