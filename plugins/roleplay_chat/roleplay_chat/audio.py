"""Audio processing for the voice endpoint: PCM16 down-mixing, resampling, chunking and buffering.

Everything is PCM16 little-endian. Resampling uses soxr (libsoxr's streaming
resampler), never hand-written DSP. A 20 ms frame costs a few microseconds, so
it runs on the event loop: handing it to a thread would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import io
import sys
import time
import wave
from typing import Any


def _on_first_use(name: str) -> Any:
    """``name``, imported when one of its attributes is first read (the standard library's LazyLoader).

    numpy and soxr are a fifth of a server's start-up imports, and only a voice call needs them.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


np = _on_first_use("numpy")
soxr = _on_first_use("soxr")

#: The rates a client may declare in its start frame.
CLIENT_RATES = (16_000, 24_000, 44_100, 48_000)
SAMPLE_BYTES = 2


class AudioFormatError(ValueError):
    """The bytes are not PCM16 in the declared layout."""


def ms_of(pcm_bytes: int, rate: int, channels: int = 1) -> float:
    """The duration of ``pcm_bytes`` of PCM16 audio, in milliseconds."""
    return pcm_bytes / (SAMPLE_BYTES * channels) / rate * 1000


def frame_bytes(rate: int, frame_ms: int, channels: int = 1) -> int:
    """The size of a ``frame_ms`` frame of PCM16 at ``rate``."""
    return int(rate * frame_ms / 1000) * SAMPLE_BYTES * channels


def samples(pcm: bytes, channels: int = 1) -> np.ndarray:
    """PCM16 bytes as int16 samples, shape ``(frames, channels)``; reject a torn sample."""
    if len(pcm) % (SAMPLE_BYTES * channels):
        raise AudioFormatError(
            f"a PCM16 frame with {channels} channel(s) must be a multiple of {SAMPLE_BYTES * channels} bytes; "
            f"got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)


def downmix(pcm: bytes, channels: int) -> bytes:
    """Interleaved PCM16 with ``channels`` channels -> mono (the mean of the channels)."""
    data = samples(pcm, channels)
    if channels == 1:
        return pcm
    mixed = data.astype(np.int32).sum(axis=1) // channels
    return mixed.astype("<i2").tobytes()


class Resampler:
    """A streaming mono PCM16 resampler that keeps its filter state between chunks."""

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16",
                                                                            quality=quality)

    def process(self, pcm: bytes) -> bytes:
        if self._stream is None or not pcm:
            return pcm
        return self._stream.resample_chunk(samples(pcm)[:, 0]).astype("<i2", copy=False).tobytes()

    def flush(self) -> bytes:
        """The samples still inside the filter; the stream is ready for a fresh signal afterwards."""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).astype("<i2", copy=False).tobytes()
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Drop buffered input (barge-in: what was queued must not play)."""
        if self._stream is not None:
            self._stream.clear()


class Chunker:
    """Cut a byte stream into frames of exactly ``size`` bytes (the provider's frame size)."""

    def __init__(self, size: int) -> None:
        if size <= 0 or size % SAMPLE_BYTES:
            raise ValueError("frame size must be a positive, even number of bytes")
        self.size = size
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        count = len(self._pending) // self.size
        frames = [bytes(self._pending[i * self.size:(i + 1) * self.size]) for i in range(count)]
        del self._pending[: count * self.size]
        return frames

    def flush(self) -> bytes:
        """The incomplete last frame (possibly empty)."""
        rest = bytes(self._pending)
        self._pending.clear()
        return rest

    def clear(self) -> None:
        self._pending.clear()


class InputPipeline:
    """Client audio (any supported rate, 1 or 2 channels) -> provider frames (mono, its rate, its frame size)."""

    def __init__(self, client_rate: int, channels: int, provider_rate: int, provider_frame_ms: int) -> None:
        self.client_rate = client_rate
        self.channels = channels
        self.provider_rate = provider_rate
        self._resampler = Resampler(client_rate, provider_rate)
        self._chunker = Chunker(frame_bytes(provider_rate, provider_frame_ms))

    def feed(self, pcm: bytes) -> list[bytes]:
        mono = downmix(pcm, self.channels)
        return self._chunker.feed(self._resampler.process(mono))

    def flush(self) -> list[bytes]:
        """Everything still buffered, as frames; the last may be short."""
        frames = self._chunker.feed(self._resampler.flush())
        rest = self._chunker.flush()
        return [*frames, rest] if rest else frames


class OutputPipeline:
    """Provider audio -> the client's requested rate, in frames of ``frame_ms``."""

    def __init__(self, provider_rate: int, client_rate: int, frame_ms: int) -> None:
        self.client_rate = client_rate
        self._provider_rate = provider_rate
        self._resampler = Resampler(provider_rate, client_rate)
        self._chunker = Chunker(frame_bytes(client_rate, frame_ms))

    def feed(self, pcm: bytes, rate: int) -> list[bytes]:
        if rate != self._provider_rate:  # the provider changed its rate: start a matching resampler
            self._provider_rate = rate
            self._resampler = Resampler(rate, self.client_rate)
        return self._chunker.feed(self._resampler.process(pcm))

    def flush(self) -> list[bytes]:
        frames = self._chunker.feed(self._resampler.flush())
        rest = self._chunker.flush()
        return [*frames, rest] if rest else frames

    def reset(self) -> None:
        self._resampler.reset()
        self._chunker.clear()


class BufferClosed(Exception):
    """The buffer was closed; nothing more will come out of it."""


class AudioBuffer:
    """A bounded FIFO of audio frames with back-pressure.

    :meth:`put` waits while ``max_bytes`` are queued, so a slow reader (provider or
    client) slows the writer down instead of growing memory; after ``timeout``
    seconds of waiting it raises :class:`asyncio.TimeoutError` so the caller can
    give up on a stuck peer. :meth:`clear` drops what is queued (barge-in).

    A put with room and a get with a frame queued neither wait nor arm a timer: that is
    every frame of a call that keeps up, 75 a second each way. Waiters are plain futures,
    all woken on any change, each checking its own condition again.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._frames: collections.deque[tuple[bytes, float]] = collections.deque()
        self._size = 0
        self._closed = False
        self._waiters: list[asyncio.Future[None]] = []
        self.high_water = 0

    @property
    def size(self) -> int:
        """Bytes queued now."""
        return self._size

    def _room_for(self, size: int) -> bool:
        # A frame bigger than the whole buffer still goes in once the buffer is empty.
        return self._size == 0 or self._size + size <= self.max_bytes

    async def _changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:  # cancelled (a stall timeout): not kept until the next change
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise

    def _wake(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def put(self, frame: bytes, timeout: float | None = None, stamp: float | None = None) -> None:  # noqa: ASYNC109 - a per-put stall limit, not a cancel scope
        """Queue ``frame``; ``stamp`` (``time.perf_counter()`` when it arrived) lets :meth:`get_stamped` measure delay."""
        if not (self._closed or self._room_for(len(frame))):
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that races it.
            async with asyncio.timeout(timeout):
                while not (self._closed or self._room_for(len(frame))):
                    await self._changed()
        if self._closed:
            raise BufferClosed()
        self._frames.append((frame, time.perf_counter() if stamp is None else stamp))
        self._size += len(frame)
        if self._size > self.high_water:
            self.high_water = self._size
        self._wake()

    async def get(self) -> bytes:
        """The oldest frame; waits for one; raises :class:`BufferClosed` once closed and empty."""
        return (await self.get_stamped())[0]

    async def get_stamped(self) -> tuple[bytes, float]:
        """The oldest frame and the stamp it was put with."""
        while not (self._frames or self._closed):
            await self._changed()
        if not self._frames:
            raise BufferClosed()
        frame, stamp = self._frames.popleft()
        self._size -= len(frame)
        self._wake()
        return frame, stamp

    async def wait_empty(self) -> None:
        """Wait until every queued frame has been taken (or the buffer is closed)."""
        while not (self._size == 0 or self._closed):
            await self._changed()

    async def clear(self) -> int:
        """Drop every queued frame; returns how many bytes were dropped."""
        dropped = self._size
        self._frames.clear()
        self._size = 0
        self._wake()
        return dropped

    async def close(self) -> None:
        """No more puts; :meth:`get` drains what is left, then raises :class:`BufferClosed`."""
        self._closed = True
        self._wake()


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """PCM16 mono as a WAV file, for keeping a learner's audio for review."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_BYTES)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()
