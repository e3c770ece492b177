"""Storage requests per chat message on S3 (moto on loopback), by operation, and their latency.

    python benchmarks/chat_s3_requests.py [--sessions 5] [--messages 20]

Starts moto's S3 app (one request at a time, as the tests run it) on a free port
of 127.0.0.1, serves the app in this process on the ``s3`` backend with the
``scripted`` provider, starts ``--sessions`` sessions and sends ``--messages``
messages to each through ``POST /chat/sessions/{id}/messages``. Every S3 request
is counted and timed inside the server while the messages are sent (session
creation is not counted). Prints requests per message by operation, the p50/p95
time the test server took per request, and the p50/p95 of a whole message.

The counts are what matters: they are the same on AWS, where each request costs
10-30 ms instead of moto's few milliseconds.
"""

from __future__ import annotations

import argparse
import collections
import logging
import statistics
import threading
import time
import uuid

LINES = ["Hello, how can I help you today?", "I'm really sorry, that sounds frustrating.",
         "What happened with the machine?", "Could I see the receipt, please?", "Let me check something."]


def start_moto():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class KeepAlive(MotoRequestHandler):
        protocol_version = "HTTP/1.1"

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    stats = {"on": False, "ops": collections.Counter(), "seconds": []}

    def operation(environ) -> str:
        method, query = environ["REQUEST_METHOD"], environ.get("QUERY_STRING", "")
        if method == "GET" and ("list-type" in query or environ.get("PATH_INFO", "").count("/") < 2):
            return "ListObjectsV2"
        conditional = " (conditional)" if "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ else ""
        return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
            method, method) + conditional

    def counted(environ, start_response):
        with lock:
            started = time.perf_counter()
            body = list(app(environ, start_response))
            if stats["on"]:
                stats["ops"][operation(environ)] += 1
                stats["seconds"].append(time.perf_counter() - started)
            return body

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, counted, threaded=True, request_handler=KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server, stats


def percentile(samples: list[float], share: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()

    import boto3
    from starlette.testclient import TestClient

    from roleplay_core.testing import auth_headers, make_app

    endpoint, server, stats = start_moto()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    app = make_app({"storage.backend": "s3", "storage.s3.bucket": bucket, "storage.s3.endpoint_url": endpoint,
                    "storage.s3.region": "us-east-1", "storage.s3.access_key_id": "testing",
                    "storage.s3.secret_access_key": "testing", "chat.model": "scripted",
                    "chat.limits.messages_per_minute": 0, "chat.limits.sessions_per_day": 0,
                    "chat.limits.turns_per_session": 10_000})
    message_seconds: list[float] = []
    with TestClient(app) as client:
        headers = auth_headers(app, "bench")
        sids = [client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers)
                .json()["id"] for _ in range(args.sessions)]
        client.post(f"/chat/sessions/{sids[0]}/messages", json={"text": "warm-up"}, headers=headers)
        stats["on"] = True
        for n in range(args.messages):
            for at, sid in enumerate(sids):
                started = time.perf_counter()
                response = client.post(f"/chat/sessions/{sid}/messages",
                                       json={"text": LINES[n % len(LINES)]}, headers=headers)
                if response.status_code == 201:
                    message_seconds.append(time.perf_counter() - started)
                    if response.json()["session"]["status"] == "ended":  # the scene ended: a new one
                        stats["on"] = False
                        sids[at] = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"},
                                               headers=headers).json()["id"]
                        stats["on"] = True
                else:
                    raise SystemExit(response.text)
        stats["on"] = False
    server.shutdown()
    messages = len(message_seconds)
    total = sum(stats["ops"].values())
    print(f"{messages} messages on S3 (moto), {total} storage requests: {total / messages:.2f} per message")
    for name, count in sorted(stats["ops"].items(), key=lambda item: -item[1]):
        print(f"  {name:<28} {count / messages:5.2f} per message")
    seconds = stats["seconds"]
    print(f"storage request on the test server: p50 {percentile(seconds, 0.5) * 1000:.2f} ms, "
          f"p95 {percentile(seconds, 0.95) * 1000:.2f} ms, mean {statistics.mean(seconds) * 1000:.2f} ms")
    print(f"whole message (POST .../messages): p50 {percentile(message_seconds, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(message_seconds, 0.95) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
