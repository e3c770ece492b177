"""How long after ``kill -9`` of a server mid-reply every session takes messages again, on file storage and S3.

    python benchmarks/crash_recovery.py [--rounds 3] [--in-flight 3]

Each round starts two uvicorn processes on one storage (a temporary file-storage
root, or a bucket of moto's S3 server on loopback), starts ``--in-flight`` replies
on the first (a provider that takes 30 s), kills it with SIGKILL once every learner
message is stored, and then sends a message to every session through the second
server as a client that does what the API says (``Retry-After`` on ``session_busy``,
retry on ``reply_pending``). Prints the seconds from the kill until the last
session accepted its message. The bound is ``chat.turn_lease_seconds`` (6 s) plus
a round trip; the tests assert < 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from roleplay_core.testing import ServerProcess, auth_headers, crash_and_recover, make_app

sys.path.insert(0, str(Path(__file__).parent))
from chat_s3_requests import start_moto  # noqa: E402 - the same loopback moto server

CHAT = {"chat.model": "test-slow", "chat.reply_timeout": 60.0, "chat.limits.messages_per_minute": 0,
        "chat.limits.sessions_per_day": 0}


def one_round(storage: dict, in_flight: int) -> float:
    dying = ServerProcess({**storage, **CHAT, "test_model.delay": 30})
    living = ServerProcess({**storage, **CHAT, "test_model.delay": 0})
    try:
        dying.wait_ready()
        living.wait_ready()
        headers = auth_headers(make_app({**storage, **CHAT}), "bench")
        return crash_and_recover(dying, living, headers, "refund-angry-customer", in_flight=in_flight)["seconds"]
    finally:
        dying.kill()
        living.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=3)
    args = parser.parse_args()
    import boto3

    endpoint, server, _ = start_moto()
    results: dict[str, list[float]] = {"file": [], "s3": []}
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory() as root:
            results["file"].append(one_round({"storage.backend": "file", "storage.file.root": root,
                                              "storage.file.fsync": False}, args.in_flight))
        bucket = f"crash-{n}-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=bucket)
        results["s3"].append(one_round({"storage.backend": "s3", "storage.s3.bucket": bucket,
                                        "storage.s3.endpoint_url": endpoint, "storage.s3.region": "us-east-1",
                                        "storage.s3.access_key_id": "testing",
                                        "storage.s3.secret_access_key": "testing"}, args.in_flight))
    server.shutdown()
    for name, seconds in results.items():
        print(f"{name:<5} every session took messages again {statistics.mean(seconds):.2f} s after kill -9 "
              f"(rounds: {', '.join(f'{s:.2f}' for s in seconds)}; max {max(seconds):.2f} s)")


if __name__ == "__main__":
    main()
