"""The voice endpoint's audio processor: resampling, down-mixing, chunking, the bounded buffer, start frames
(``roleplay_chat.frames``)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from roleplay_chat import audio
from roleplay_chat.voice import BadFrame, parse_start

pytestmark = pytest.mark.anyio


def tone(freq: float, ms: int, rate: int) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (np.sin(2 * np.pi * freq * t) * 0.5 * 32767).astype("<i2").tobytes()


def peak_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", audio.CLIENT_RATES)
def test_input_pipeline_resamples_every_client_rate_to_16k_frames(rate):
    pipeline = audio.InputPipeline(rate, 1, 16_000, 20)
    pcm = tone(440, 1000, rate)
    step = rate * 20 // 1000 * 2
    out = [f for i in range(0, len(pcm), step) for f in pipeline.feed(pcm[i:i + step])] + pipeline.flush()
    assert all(len(f) == 640 for f in out[:-1]) and len(out[-1]) <= 640
    joined = b"".join(out)
    assert abs(len(joined) / 2 - 16_000) <= 2, "one second in, one second out"
    assert abs(peak_hz(joined, 16_000) - 440) < 3


def test_stereo_is_down_mixed_to_the_mean():
    left = np.array([1000, -2000, 300], dtype="<i2")
    right = np.array([3000, 2000, -301], dtype="<i2")
    interleaved = np.column_stack([left, right]).reshape(-1).astype("<i2").tobytes()
    assert np.frombuffer(audio.downmix(interleaved, 2), dtype="<i2").tolist() == [2000, 0, -1]


def test_torn_samples_are_rejected():
    with pytest.raises(audio.AudioFormatError):
        audio.downmix(b"\x00\x01\x02", 1)
    with pytest.raises(audio.AudioFormatError):
        audio.downmix(b"\x00\x01\x02\x03\x04\x05", 2)


def test_output_pipeline_resamples_24k_to_the_client_rate_and_resets_on_barge_in():
    pipeline = audio.OutputPipeline(24_000, 48_000, 20)
    frames = pipeline.feed(tone(660, 500, 24_000), 24_000) + pipeline.flush()
    joined = b"".join(frames)
    assert all(len(f) == 1920 for f in frames[:-1])
    assert abs(len(joined) / 2 / 48_000 - 0.5) < 0.005
    assert abs(peak_hz(joined, 48_000) - 660) < 3
    pipeline.feed(tone(660, 30, 24_000), 24_000)
    pipeline.reset()
    assert pipeline.flush() == []


def test_chunker_cuts_exact_frames():
    chunker = audio.Chunker(4)
    assert chunker.feed(b"abcdef") == [b"abcd"]
    assert chunker.feed(b"gh12") == [b"efgh"]
    assert chunker.flush() == b"12"


async def test_buffer_applies_back_pressure_and_times_out():
    buffer = audio.AudioBuffer(max_bytes=8)
    await buffer.put(b"1234")
    await buffer.put(b"5678")
    for _ in range(3):
        with pytest.raises(asyncio.TimeoutError):
            await buffer.put(b"9", timeout=0.02)  # full: the writer waits, memory does not grow
    assert buffer.size == 8 and buffer.high_water == 8
    assert buffer._waiters == []  # writers that gave up leave nothing behind
    waiting = asyncio.create_task(buffer.put(b"abcd"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert await buffer.get() == b"1234"  # the reader makes room; the writer goes on
    await asyncio.wait_for(waiting, 1)
    assert buffer.size == 8


async def test_buffer_wait_empty():
    buffer = audio.AudioBuffer(max_bytes=100)
    await buffer.put(b"aa")
    waiting = asyncio.create_task(buffer.wait_empty())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await buffer.get()
    await asyncio.wait_for(waiting, 1)


async def test_buffer_clear_and_close():
    buffer = audio.AudioBuffer(max_bytes=100)
    await buffer.put(b"aa")
    await buffer.put(b"bb")
    assert await buffer.clear() == 4 and buffer.size == 0
    await buffer.put(b"cc")
    await buffer.close()
    assert await buffer.get() == b"cc"
    with pytest.raises(audio.BufferClosed):
        await buffer.get()
    with pytest.raises(audio.BufferClosed):
        await buffer.put(b"dd")


async def test_buffer_keeps_order_and_survives_a_cancelled_waiter():
    buffer = audio.AudioBuffer(max_bytes=4)
    getter = asyncio.create_task(buffer.get())
    await asyncio.sleep(0.01)
    getter.cancel()  # a reader that gave up must not take a frame meant for the next one
    with pytest.raises(asyncio.CancelledError):
        await getter
    await buffer.put(b"ab")
    await buffer.put(b"cd")
    later = [asyncio.create_task(buffer.put(frame)) for frame in (b"ef", b"gh", b"ij")]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in later)  # full: all three wait
    taken = [await buffer.get() for _ in range(5)]
    await asyncio.wait_for(asyncio.gather(*later), 1)
    assert taken == [b"ab", b"cd", b"ef", b"gh", b"ij"]
    assert buffer.size == 0


async def test_closing_wakes_a_waiting_reader_and_writer():
    empty, full = audio.AudioBuffer(max_bytes=4), audio.AudioBuffer(max_bytes=2)
    await full.put(b"xy")
    reader = asyncio.create_task(empty.get())
    writer = asyncio.create_task(full.put(b"z", timeout=5))
    await asyncio.sleep(0.01)
    await empty.close()
    await full.close()
    with pytest.raises(audio.BufferClosed):
        await asyncio.wait_for(reader, 1)
    with pytest.raises(audio.BufferClosed):
        await asyncio.wait_for(writer, 1)
    assert await full.get() == b"xy"  # what was queued is still drained


def test_wav_bytes_is_a_wav_file():
    wav = audio.wav_bytes(tone(440, 100, 16_000), 16_000)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) == 44 + 3200


@pytest.mark.parametrize(("frame", "field"), [
    ({"type": "hello"}, "type"),
    ({"type": "start"}, "sample_rate"),
    ({"type": "start", "sample_rate": 8000}, "sample_rate"),
    ({"type": "start", "sample_rate": True}, "sample_rate"),
    ({"type": "start", "sample_rate": 16000, "output_sample_rate": 22050}, "output_sample_rate"),
    ({"type": "start", "sample_rate": 16000, "channels": 6}, "channels"),
    ({"type": "start", "sample_rate": 16000, "codec": "opus"}, "codec"),
])
def test_start_frame_errors_name_the_field(frame, field):
    with pytest.raises(BadFrame) as caught:
        parse_start(frame)
    assert caught.value.field == field


def test_start_frame_defaults():
    assert parse_start({"type": "start", "sample_rate": 44100}) == (44100, 44100, 1)
    assert parse_start({"type": "start", "sample_rate": 48000, "output_sample_rate": 24000, "channels": 2}) == (
        48000, 24000, 2)
