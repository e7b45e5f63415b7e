#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/<target>/.

The seeds are committed; run this again only to change them
(`python3 fuzz/seeds/generate.py`). No dependency: the protobuf wire
format is written by hand below, field numbers from
proto/stride/events/v1/events.proto. To see what each seed reaches (its
validation outcome), after a build:

    STRIDE_FUZZ_VERBOSE=1 fuzz/target/x86_64-unknown-linux-gnu/release/decode_requests fuzz/seeds/decode_requests/*

decode_requests seeds are one selector byte (the method and two flags, see
fuzz_targets/decode_requests.rs) followed by the request's protobuf bytes
(or, with the RAW flag, by gRPC frames holding them).
"""

import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Times before the targets' fixed clock (2030-01-01T00:00:00Z).
T = 1_795_000_000  # 2026-11-18T...Z
USER = "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
PEER = "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2"
COURSE = "8a1f2b9e-3c4d-4e5f-8a6b-7c8d9e0f1a2b"
LESSON = "1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0"
SKILL = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
PATH = "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c"
ORG = "0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a"  # the targets' TOKEN_ORG
STATEMENT = "2e4f6a8b-0c1d-4e3f-9a5b-7c9d1e3f5a7b"


# -- protobuf wire format ----------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1  # negative int64: ten bytes of two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field, wire_type):
    return varint(field << 3 | wire_type)


def uint(field, n):
    return key(field, 0) + varint(n) if n else b""


def double(field, x):
    return key(field, 1) + struct.pack("<d", x) if x else b""


def message(field, body):
    return key(field, 2) + varint(len(body)) + body


def string(field, text):
    return message(field, text.encode()) if text else b""


def timestamp(field, seconds, nanos=0):
    return message(field, uint(1, seconds) + uint(2, nanos))


# google.protobuf.Struct / Value / ListValue
def struct_value(obj):
    return b"".join(message(1, string(1, k) + message(2, json_value(v))) for k, v in obj.items())


def json_value(v):
    if v is None:
        return key(1, 0) + varint(0)
    if isinstance(v, bool):
        return key(4, 0) + varint(int(v))
    if isinstance(v, (int, float)):
        return key(2, 1) + struct.pack("<d", float(v))
    if isinstance(v, str):
        return message(3, v.encode())
    if isinstance(v, list):
        return message(6, b"".join(message(1, json_value(x)) for x in v))
    return message(5, struct_value(v))


# -- stride.events.v1 --------------------------------------------------------

PAYLOADS = {
    "enrollment_created": (10, string(1, COURSE)),
    "progress_updated": (11, string(1, COURSE) + double(2, 42.5)),
    "lesson_completed": (12, string(1, COURSE) + string(2, LESSON)),
    "course_completed": (13, string(1, COURSE)),
    "assessment_graded": (14, string(1, COURSE) + string(2, "quiz-1") + string(3, SKILL) + double(4, 85.5)),
    "skill_mastery_updated": (15, string(1, SKILL) + double(2, 80.0)),
    "practice_passed": (16, string(1, "exercise-7") + string(2, COURSE) + string(3, SKILL)),
    "learning_session": (17, string(1, "session-1") + timestamp(2, T - 1800) + timestamp(3, T, 500_000_000)),
    "login": (18, b""),
    "peer_helped": (19, string(1, PEER) + string(2, "forum")),
    "learning_path_completed": (20, string(1, PATH)),
}


def event(kind, event_id=None, user=USER, org="", seconds=T, payload=None):
    field, body = PAYLOADS[kind]
    return (
        string(1, event_id or f"evt-{kind}")
        + timestamp(2, seconds)
        + string(3, user)
        + string(4, org)
        + message(field, payload if payload is not None else body)
    )


def statement(verb, obj, **extra):
    s = {
        "id": STATEMENT,
        "actor": {"account": {"homePage": "https://lms.example", "name": USER}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": obj,
        "timestamp": "2026-11-20T09:30:00+01:00",
    }
    s.update(extra)
    return s


COURSE_OBJECT = {
    "id": f"https://lms.example/course/{COURSE}",
    "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
}
UNDER_COURSE = {"contextActivities": {"parent": [{"id": f"https://lms.example/course/{COURSE}"}]}}
QUIZ = {"id": "https://lms.example/quiz/7", "definition": {"type": "http://adlnet.gov/expapi/activities/assessment"}}

STATEMENTS = {
    "completed_course": statement("completed", COURSE_OBJECT),
    "completed_lesson": statement("completed", {"id": f"urn:uuid:{LESSON}"}, context=UNDER_COURSE),
    "passed_scaled": statement("passed", QUIZ, context=UNDER_COURSE, result={"score": {"scaled": 0.85}}),
    "scored_raw_range": statement("scored", QUIZ, context=UNDER_COURSE,
                                  result={"score": {"raw": 7, "min": 0, "max": 10}}),
    "attempted_enrolls": statement("attempted", COURSE_OBJECT),
    "experienced_session": statement("experienced", COURSE_OBJECT, result={"duration": "PT1H2M3.5S"}),
    "experienced_progress": statement(
        "experienced", COURSE_OBJECT,
        result={"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 40}}),
    "initialized_mbox": dict(statement("initialized", COURSE_OBJECT), actor={"mbox": "mailto:Ada@Example.COM"}),
    "failed_w3id_grouping": dict(
        statement("failed", {"id": "https://lms.example/exam/3"}, result={"score": {"raw": 12}},
                  context={"contextActivities": {"grouping": {
                      "id": f"https://lms.example/c?id={COURSE}",
                      "definition": {"type": "https://w3id.org/xapi/cmi5/activitytype/course"}}}}),
        verb={"id": "https://w3id.org/xapi/adl/verbs/failed"}),
    "voided_unmapped": statement("voided", {"objectType": "StatementRef", "id": STATEMENT}),
    "stored_not_timestamp": {k: v for k, v in statement("completed", COURSE_OBJECT).items() if k != "timestamp"}
    | {"stored": "2026-11-20T10:00:00Z"},
}

# Selectors of decode_requests (the METHODS table there).
PUBLISH_EVENT, PUBLISH_EVENTS, IMPORT_XAPI = 0, 1, 2
UPSERT_USERS, UPSERT_DEPARTMENTS, UPSERT_COURSES, UPSERT_LESSONS = 3, 4, 5, 6
UPSERT_PATHS, UPSERT_SKILLS, UPSERT_COURSE_SKILLS, UPSERT_ENROLLMENTS, UPSERT_PRIORITY = 7, 8, 9, 10, 11
PLATFORM = 0x80  # a platform-scoped token
RAW = 0x40  # the bytes are the HTTP body: gRPC frames written by the seed


def frame(msg):
    """A gRPC frame: not compressed, big-endian length, the message."""
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def decode_requests():
    seeds = {}
    for kind in PAYLOADS:
        seeds[f"publish_event_{kind}"] = bytes([PUBLISH_EVENT]) + message(1, event(kind))
    seeds["publish_event_platform_org"] = bytes([PUBLISH_EVENT | PLATFORM]) + message(
        1, event("course_completed", org=ORG))
    seeds["publish_event_invalid"] = bytes([PUBLISH_EVENT]) + message(
        1, event("assessment_graded", event_id=" padded ", user="not-a-uuid",
                 payload=string(1, COURSE) + double(4, 100.5)))
    batch = (
        message(1, event("enrollment_created", "s-1")),
        message(1, event("lesson_completed", "s-2")),
        message(1, event("lesson_completed", "s-2")),  # repeated in the batch
        message(1, event("skill_mastery_updated", "s-3", seconds=T - 86_400)),
    )
    seeds["publish_events_stream"] = bytes([PUBLISH_EVENTS]) + b"".join(varint(len(m)) + m for m in batch)
    seeds["raw_publish_events_frames"] = bytes([PUBLISH_EVENTS | RAW]) + b"".join(frame(m) for m in batch[:2])
    seeds["raw_publish_event_frame"] = bytes([PUBLISH_EVENT | RAW]) + frame(message(1, event("login")))
    xapi = b"".join(message(1, struct_value(s)) for s in (
        STATEMENTS["completed_course"], STATEMENTS["passed_scaled"], STATEMENTS["experienced_session"]))
    seeds["import_xapi"] = bytes([IMPORT_XAPI]) + xapi
    seeds["import_xapi_platform"] = bytes([IMPORT_XAPI | PLATFORM]) + message(
        1, struct_value(STATEMENTS["initialized_mbox"])) + string(2, ORG)
    seeds["upsert_users"] = bytes([UPSERT_USERS]) + message(1, string(1, USER) + string(3, "ada@example.com")
                                                            + string(4, "Ada") + string(5, "Europe/Berlin")
                                                            + string(9, "learner"))
    seeds["upsert_departments"] = bytes([UPSERT_DEPARTMENTS]) + message(
        1, string(1, PATH) + string(3, COURSE) + uint(4, 2) + string(5, "Team A"))
    seeds["upsert_courses"] = bytes([UPSERT_COURSES]) + message(
        1, string(1, COURSE) + string(3, USER) + string(4, "Rust") + uint(6, 12) + uint(7, 600))
    seeds["upsert_lessons"] = bytes([UPSERT_LESSONS]) + message(
        1, string(1, LESSON) + string(2, COURSE) + string(3, "Ownership") + uint(4, 1))
    seeds["upsert_learning_paths"] = bytes([UPSERT_PATHS]) + message(
        1, string(1, PATH) + string(3, "Backend") + string(5, COURSE) + string(5, LESSON))
    seeds["upsert_skills"] = bytes([UPSERT_SKILLS]) + message(
        1, string(1, SKILL) + string(3, "Borrowing") + uint(5, 2) + string(6, PATH) + key(7, 1) + struct.pack("<d", 0.5))
    seeds["upsert_course_skills"] = bytes([UPSERT_COURSE_SKILLS]) + message(
        1, string(1, COURSE) + string(2, SKILL) + uint(3, 90))
    seeds["upsert_enrollments"] = bytes([UPSERT_ENROLLMENTS]) + message(
        1, string(1, PATH) + string(2, USER) + string(3, COURSE) + timestamp(4, T))
    seeds["upsert_priority_skills"] = bytes([UPSERT_PRIORITY]) + message(
        1, string(1, ORG) + string(2, SKILL) + double(3, 0.75))
    return seeds


def xapi_statement():
    seeds = {name: json.dumps(s, indent=1).encode() for name, s in STATEMENTS.items()}
    seeds["duration"] = b"P1W2DT3H4M5.25S"
    return seeds


def write(target, seeds):
    folder = os.path.join(HERE, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    write("decode_requests", decode_requests())
    write("xapi_statement", xapi_statement())
