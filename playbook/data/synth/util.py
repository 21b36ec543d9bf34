"""Small vectorised helpers of the synthetic generator: id strings, timestamps, vocabularies,
ranks within groups and the time-of-day profile."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from playbook.data.synth.params import (
    US_PER_DAY,
    Progress,
)


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _ids(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as a pyarrow string array (``valid`` False -> null).

    Numbers below ``10**width`` are formatted with numpy digit arithmetic straight into one
    fixed-width byte buffer (no Python strings); larger numbers fall back to pyarrow compute,
    which gives the same text (``lpad`` never truncates, so ids stay unique either way).
    """
    nums = np.asarray(numbers, dtype=np.int64)
    n = len(nums)
    head = prefix.encode("ascii")
    rec = len(head) + width
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    if n and (nums.min() < 0 or nums.max() >= 10**width or n * rec >= 2**31):
        digits = pc.utf8_lpad(pc.cast(pa.array(nums), pa.string()), width=width, padding="0")
        out = pc.binary_join_element_wise(prefix, digits, "")
        return out if mask is None else pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    buf = np.empty((n, rec), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = nums.copy()
    for j in range(rec - 1, len(head) - 1, -1):
        buf[:, j] = rest % 10 + 48
        rest //= 10
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(rec)
    validity, nulls = None, 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
        nulls = int(mask.sum())
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(buf)],
                                 null_count=nulls)


def _width(n: int) -> int:
    return max(6, len(str(max(int(n), 1))))


def _us(days: np.ndarray, origin_us: int) -> np.ndarray:
    """Float days since ``origin`` -> int64 microseconds since the epoch (as written)."""
    return origin_us + np.round(np.asarray(days, dtype=float) * US_PER_DAY).astype(np.int64)


def _ts(days: np.ndarray, origin_us: int, valid: np.ndarray | None = None) -> pa.Array:
    """Float days since ``origin`` -> pyarrow timestamp('us', UTC); ``valid`` False -> null."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(_us(days, origin_us), type=pa.timestamp("us", tz="UTC"), mask=mask)


def _take(arr: np.ndarray, idx: np.ndarray) -> pa.Array:
    """Small object vocabulary ``arr`` indexed by ``idx`` -> pyarrow string array (None -> null)."""
    dict_arr = pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(list(arr), pa.string()))
    return dict_arr.cast(pa.string())


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within runs of equal, sorted ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.asarray(np.arange(n) - np.repeat(starts, lengths))


def _hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day (fraction of a day) for orders/sessions: evening-heavy profile (UTC)."""
    w = np.array([1, .6, .4, .3, .3, .4, .8, 1.5, 2.2, 2.6, 2.8, 3.0, 3.2, 3.0, 2.9, 2.9, 3.0,
                  3.3, 3.8, 4.3, 4.5, 4.0, 3.0, 1.8])
    h = rng.choice(24, size=n, p=w / w.sum())
    return (h + rng.random(n)) / 24.0
