"""File storage's threads (``roleplay_core.storage.threads``): results, errors, cancellation,
several event loops, fork and exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from roleplay_core.storage import threads

pytestmark = pytest.mark.anyio


async def test_the_function_runs_on_a_storage_thread_and_its_result_or_error_comes_back():
    name = await threads.run(lambda: threading.current_thread().name)
    assert name.startswith("roleplay-storage-") and name != threading.current_thread().name
    assert await threads.run(pow, 2, 10) == 1024

    def broken():
        raise FileNotFoundError(2, "gone", "/x")

    with pytest.raises(FileNotFoundError) as raised:
        await threads.run(broken)
    assert raised.value.filename == "/x"


async def test_a_cancelled_caller_leaves_the_work_running_and_the_threads_working():
    finished = threading.Event()

    def slow():
        time.sleep(0.1)
        finished.set()
        return "done"

    task = asyncio.ensure_future(threads.run(slow))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, 5)  # the work ran to its end
    assert await threads.run(lambda: 7) == 7


async def test_many_calls_at_once_all_come_back_in_their_own_task():
    results = await asyncio.gather(*(threads.run(lambda n=n: (time.sleep(0.001), n)[1]) for n in range(200)))
    assert results == list(range(200))


def test_event_loops_in_several_threads_each_get_their_own_results():
    """Each test client runs its app on a loop of its own; results go back to the loop that asked."""
    seen: dict[int, list[int]] = {}

    def one_loop(number: int) -> None:
        async def main() -> list[int]:
            return list(await asyncio.gather(*(threads.run(lambda n=n: number * 1000 + n) for n in range(50))))

        seen[number] = asyncio.run(main())

    workers = [threading.Thread(target=one_loop, args=(number,)) for number in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert seen == {number: [number * 1000 + n for n in range(50)] for number in range(4)}


def run_program(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=60)


def test_a_forked_child_starts_threads_of_its_own():
    done = run_program("""
        import asyncio, os
        from roleplay_core.storage import threads

        assert asyncio.run(threads.run(lambda: 1)) == 1  # the parent's threads are running
        pid = os.fork()
        if pid == 0:
            os._exit(0 if asyncio.run(threads.run(lambda: 2)) == 2 else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_work_handed_over_is_finished_before_the_process_exits(tmp_path):
    marker = tmp_path / "written"
    done = run_program("""
        import asyncio, sys, time
        from roleplay_core.storage import threads

        def write():
            time.sleep(0.3)
            open(sys.argv[1], "w").write("done")

        async def main():
            asyncio.ensure_future(threads.run(write))  # never awaited: the loop ends first
            await asyncio.sleep(0.01)

        asyncio.run(main())
    """, str(marker))
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"
