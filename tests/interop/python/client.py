#!/usr/bin/env python3
"""The interop suite's grpc-python client (tests/interop/README.md).

Written as Python services write grpcio clients: generated stubs, the
synchronous API with a request generator for the big stream (the producer
of issue 28, which the server used to disconnect), the asyncio API for the
many-streams cases. Stubs come from grpcio-tools at run time (run.sh).
"""

import asyncio
import os
import subprocess
import sys
import threading
import time

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from stride.events.v1 import events_pb2 as ev
from stride.events.v1 import events_pb2_grpc as ev_grpc

ADDR = os.environ["STRIDE_ADDR"]
TOKEN = os.environ["STRIDE_TOKEN"]
USER = os.environ["STRIDE_USER_ID"]
COURSE = os.environ["STRIDE_COURSE_ID"]
RUN = os.environ["STRIDE_RUN_ID"]
MAX_BYTES = int(os.environ["STRIDE_MAX_MESSAGE_BYTES"])
RESTART = os.environ["STRIDE_RESTART_CMD"]
AUTH = (("authorization", "Bearer " + TOKEN),)
ACCEPTED = ev.EVENT_STATUS_ACCEPTED
DUPLICATE = ev.EVENT_STATUS_DUPLICATE
NOW = int(time.time())


class Failed(Exception):
    pass


def check(condition, why):
    if not condition:
        raise Failed(why)


def event(case, n, login=False):
    """An event of this run: `progress_updated` (or `login`) in the last day."""
    at = Timestamp(seconds=NOW - 3600 - (n % 80000))
    e = ev.Event(event_id="%s-%s-%d" % (RUN, case, n), occurred_at=at, user_id=USER)
    if login:
        e.login.SetInParent()
    else:
        e.progress_updated.course_id = COURSE
        e.progress_updated.progress_percent = n % 100
    return e


def requests(case, count, login=False):
    for n in range(count):
        yield ev.PublishEventsRequest(event=event(case, n, login))


def stub(**options):
    channel = grpc.insecure_channel(ADDR, options=list(options.items()))
    return channel, ev_grpc.EventServiceStub(channel)


def check_results(results, case, count, allowed=(ACCEPTED,)):
    check(len(results) == count, "%d results for %d events" % (len(results), count))
    for n, r in enumerate(results):
        check(r.index == n, "result %d has index %d" % (n, r.index))
        want = "%s-%s-%d" % (RUN, case, n)
        check(r.event_id == want, "result %d is for %r, not %r" % (n, r.event_id, want))
        check(r.status in allowed, "event %d: %s %s" % (
            n, ev.EventStatus.Name(r.status), list(r.violations)))


def stream_20k():
    count = 20_000
    channel, api = stub()
    started = time.monotonic()
    try:
        # No window of our own: the generator yields as fast as grpcio pulls.
        results = [r.result for r in api.PublishEvents(requests("s20k", count), metadata=AUTH, timeout=300)]
    except grpc.RpcError as err:
        raise Failed("stream broken: %s %s" % (err.code().name, err.details()))
    finally:
        channel.close()
    took = time.monotonic() - started
    check_results(results, "s20k", count)
    print("FIGURE stream_20k %.0f" % (count / took), flush=True)
    return "20000 results in order in %.1f s" % took


async def one_stream(api, case, count, login=False):
    async def gen():
        for r in requests(case, count, login):
            yield r
    call = api.PublishEvents(gen(), metadata=AUTH, timeout=120)
    results = [r.result async for r in call]
    return results


def concurrent_200():
    async def main():
        async with grpc.aio.insecure_channel(ADDR) as channel:
            api = ev_grpc.EventServiceStub(channel)
            tasks = [one_stream(api, "c200-%d" % k, 100) for k in range(200)]
            return await asyncio.gather(*tasks, return_exceptions=True)
    outcomes = asyncio.run(main())
    for k, outcome in enumerate(outcomes):
        if isinstance(outcome, grpc.aio.AioRpcError):
            raise Failed("stream %d ended %s: %s" % (k, outcome.code().name, outcome.details()))
        if isinstance(outcome, BaseException):
            raise Failed("stream %d: %r" % (k, outcome))
        check_results(outcome, "c200-%d" % k, 100)
    return "200 streams x 100 results in order"


def burst_1000():
    async def one(api, k):
        try:
            results = await one_stream(api, "b1000-%d" % k, 5, login=True)
            check_results(results, "b1000-%d" % k, 5)
            return "OK"
        except grpc.aio.AioRpcError as err:
            return "%s: %s" % (err.code().name, err.details())

    async def main():
        async with grpc.aio.insecure_channel(ADDR) as channel:
            api = ev_grpc.EventServiceStub(channel)
            return await asyncio.gather(*[one(api, k) for k in range(1000)])
    outcomes = asyncio.run(main())
    ok = outcomes.count("OK")
    refused = sum(1 for o in outcomes if o.startswith("RESOURCE_EXHAUSTED"))
    others = [o for o in outcomes if o != "OK" and not o.startswith("RESOURCE_EXHAUSTED")]
    check(not others, "%d streams ended otherwise, e.g. %s" % (len(others), others[0] if others else ""))
    return "%d ended OK, %d RESOURCE_EXHAUSTED, 0 otherwise" % (ok, refused)


def publish(api, e, timeout, **kwargs):
    return api.PublishEvent(ev.PublishEventRequest(event=e), metadata=AUTH, timeout=timeout, **kwargs).result


def deadline():
    channel, api = stub()
    try:
        e = event("deadline", 0)
        try:
            publish(api, e, 0.001)
            raise Failed("a 1 ms deadline answered OK")
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, "1 ms deadline: %s" % err.code().name)
        second = publish(api, e, 10).status
        check(second in (ACCEPTED, DUPLICATE), "after the deadline: %s" % ev.EventStatus.Name(second))
        third = publish(api, e, 10).status
        check(third == DUPLICATE, "third send: %s" % ev.EventStatus.Name(third))
        return "DEADLINE_EXCEEDED, then %s, then DUPLICATE" % ev.EventStatus.Name(second)
    finally:
        channel.close()


def cancel():
    count = 1000
    channel, api = stub()
    try:
        call = api.PublishEvents(requests("cancel", count), metadata=AUTH, timeout=120)
        acked = []
        for response in call:
            acked.append(response.result.event_id)
            if len(acked) == 100:
                call.cancel()
                break
        try:
            for response in call:
                acked.append(response.result.event_id)
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.CANCELLED, "after cancel: %s" % err.code().name)
        acked = set(acked)
        again = [r.result for r in api.PublishEvents(requests("cancel", count), metadata=AUTH, timeout=120)]
        check_results(again, "cancel", count, allowed=(ACCEPTED, DUPLICATE))
        for r in again:
            if r.event_id in acked:
                check(r.status == DUPLICATE, "%s was acknowledged but answers %s" % (
                    r.event_id, ev.EventStatus.Name(r.status)))
        third = [r.result for r in api.PublishEvents(requests("cancel", count), metadata=AUTH, timeout=120)]
        check_results(third, "cancel", count, allowed=(DUPLICATE,))
        fresh = sum(1 for r in again if r.status == ACCEPTED)
        return "%d acknowledged before the cancel; resent: %d accepted, rest duplicate; third: all duplicate" % (
            len(acked), fresh)
    finally:
        channel.close()


def gzip():
    channel, api = stub()
    try:
        call = api.PublishEvent.with_call(ev.PublishEventRequest(event=event("gzip", 0)), metadata=AUTH,
                                          timeout=10, compression=grpc.Compression.Gzip)
        result, info = call
        check(result.result.status == ACCEPTED, "unary: %s" % ev.EventStatus.Name(result.result.status))
        results = [r.result for r in api.PublishEvents(
            (ev.PublishEventsRequest(event=event("gzip-s", n)) for n in range(100)),
            metadata=AUTH, timeout=30, compression=grpc.Compression.Gzip)]
        check(len(results) == 100 and all(r.status == ACCEPTED for r in results), "stream: %d results" % len(results))
        # grpcio decompresses answers itself and hides grpc-encoding from
        # the metadata it returns, so only success can be checked here.
        return "gzip unary and 100-event stream accepted"
    finally:
        channel.close()


def keepalive():
    channel, api = stub(**{
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_permit_without_calls": 1,
    })
    try:
        check(publish(api, event("keepalive", 0), 10).status == ACCEPTED, "first call")
        time.sleep(12)
        check(publish(api, event("keepalive", 1), 10).status == ACCEPTED, "call after 12 s idle")
        return "two calls 12 s apart over a pinging channel"
    except grpc.RpcError as err:
        raise Failed("%s: %s" % (err.code().name, err.details()))
    finally:
        channel.close()


def oversize():
    channel, api = stub(**{"grpc.max_send_message_length": 2 * MAX_BYTES})
    try:
        e = event("oversize", 0)
        e.event_id = "x" * (MAX_BYTES + 1024)
        try:
            publish(api, e, 30)
            raise Failed("an oversized message answered OK")
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, "%s: %s" % (err.code().name, err.details()))
            check(str(MAX_BYTES) in (err.details() or ""), "the message does not name %d: %r" % (
                MAX_BYTES, err.details()))
            return "RESOURCE_EXHAUSTED: %s" % err.details()
    finally:
        channel.close()


def restart():
    channel, api = stub()
    try:
        check(publish(api, event("restart", 0), 10).status == ACCEPTED, "before the restart")
        subprocess.run(RESTART, shell=True, check=True, stdout=sys.stderr)
        deadline_at = time.monotonic() + 30
        while True:
            try:
                status = publish(api, event("restart", 1), 10, wait_for_ready=True).status
                check(status == ACCEPTED, "after the restart: %s" % ev.EventStatus.Name(status))
                return "a call on the same channel after the restart"
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline_at:
                    raise Failed("after the restart: %s %s" % (err.code().name, err.details()))
                time.sleep(0.5)
    finally:
        channel.close()


CASES = [stream_20k, concurrent_200, burst_1000, deadline, cancel, gzip, keepalive, oversize, restart]


def main():
    wanted = sys.argv[1:]
    passed = failed = 0
    for case in CASES:
        if wanted and case.__name__ not in wanted:
            continue
        try:
            detail = case()
            print("PASS %s %s" % (case.__name__, detail), flush=True)
            passed += 1
        except Failed as why:
            print("FAIL %s: %s" % (case.__name__, why), flush=True)
            failed += 1
        except Exception as err:  # a crash of the case is its failure
            print("FAIL %s: %s: %s" % (case.__name__, type(err).__name__, err), flush=True)
            failed += 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
