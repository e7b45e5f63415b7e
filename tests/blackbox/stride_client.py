"""A generic gRPC client for Stride built from server reflection alone.

No stubs are generated from proto/: the services, their methods and the
message classes all come from the running server's reflection service
(grpc.reflection.v1alpha), the way any platform client would discover them.
Only grpcio and grpcio-reflection (which brings protobuf) are needed.
"""

import re
import shlex
import subprocess

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

# Substrings that must never reach a caller: SQL text, database error
# wording, the ORM's name. Checked on every error this client sees.
LEAK_PATTERNS = [
    re.compile(p)
    for p in (
        r"SELECT",
        r"INSERT INTO",
        r"DELETE FROM",
        r"(?i)\brelation\b",
        r"(?i)violates",
        r"(?i)diesel",
        r"(?i)duplicate key",
        r"(?i)syntax error at",
        r"(?i)sqlstate",
        r"(?i)invalid byte sequence",
        r"(?i)pg_catalog",
    )
]

DEFAULT_TIMEOUT_S = 10.0


class LeakError(AssertionError):
    """An error message that exposes database internals."""


def leaks(text):
    """The leak patterns `text` matches (empty when clean)."""
    return [p.pattern for p in LEAK_PATTERNS if p.search(text or "")]


def is_repeated(field):
    """Whether a field is repeated, on old and new protobuf runtimes."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return flag
    return field.label == FieldDescriptor.LABEL_REPEATED


class Stride:
    """Reflection-driven calls to a Stride server at `addr`.

    `token_cmd` is a shell-style command that prints a token when given
    `stride token` arguments (e.g. "stride token" or "cargo run -q -- token").
    """

    def __init__(self, addr, token_cmd, timeout=DEFAULT_TIMEOUT_S):
        self.addr = addr
        self.token_cmd = shlex.split(token_cmd)
        self.timeout = timeout
        self.channel = grpc.insecure_channel(addr)
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.reflection = ProtoReflectionDescriptorDatabase(self.channel)
        self.pool = descriptor_pool.DescriptorPool(self.reflection)
        self._tokens = {}
        self._callables = {}

    def close(self):
        self.channel.close()

    # Discovery -----------------------------------------------------------

    def service_names(self):
        """Every service the server lists through reflection."""
        return list(self.reflection.get_services())

    def service(self, name):
        return self.pool.FindServiceByName(name)

    def stride_methods(self):
        """(service name, method descriptor) of every stride.* service."""
        out = []
        for name in self.service_names():
            if name.startswith("stride."):
                for method in self.service(name).methods:
                    out.append((name, method))
        return out

    def method(self, path):
        """The method descriptor of "pkg.Service/Method"."""
        service, method = path.split("/")
        return self.service(service).methods_by_name[method]

    def request_class(self, path):
        return message_factory.GetMessageClass(self.method(path).input_type)

    def request(self, path, body=None):
        """A request message of `path` from a dict (proto field names)."""
        msg = self.request_class(path)()
        if body:
            json_format.ParseDict(body, msg)
        return msg

    def enum_number(self, enum_full_name, value_name):
        enum = self.pool.FindEnumTypeByName(enum_full_name)
        return enum.values_by_name[value_name].number

    @staticmethod
    def enum_name(message, field):
        """The name of enum `field`'s value in `message`."""
        desc = message.DESCRIPTOR.fields_by_name[field].enum_type
        number = getattr(message, field)
        value = desc.values_by_number.get(number)
        return value.name if value else str(number)

    @staticmethod
    def to_dict(message):
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    # Tokens --------------------------------------------------------------

    def token(self, *args):
        """A token from `stride token ARGS` (cached per argument list)."""
        if args not in self._tokens:
            done = subprocess.run(
                self.token_cmd + list(args),
                capture_output=True,
                text=True,
                timeout=60,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    "token command %r failed (%d): %s"
                    % (self.token_cmd + list(args), done.returncode, done.stderr)
                )
            token = done.stdout.strip().splitlines()[-1].strip()
            self._tokens[args] = token
        return self._tokens[args]

    def user_token(self, user_id, org_id, *roles):
        args = ["--sub", user_id, "--org", org_id]
        for role in roles:
            args += ["--role", role]
        return self.token(*args)

    def service_token(self, name, scopes, org_id=None):
        args = ["--service", name]
        for scope in scopes:
            args += ["--scope", scope]
        if org_id:
            args += ["--org", org_id]
        return self.token(*args)

    # Calls ---------------------------------------------------------------

    def _callable(self, path):
        if path not in self._callables:
            method = self.method(path)
            req = message_factory.GetMessageClass(method.input_type)
            resp = message_factory.GetMessageClass(method.output_type)
            service, name = path.split("/")
            wire = "/%s/%s" % (service, name)
            kind = (method.client_streaming, method.server_streaming)
            make = {
                (False, False): self.channel.unary_unary,
                (False, True): self.channel.unary_stream,
                (True, False): self.channel.stream_unary,
                (True, True): self.channel.stream_stream,
            }[kind]
            self._callables[path] = (
                kind,
                make(
                    wire,
                    request_serializer=req.SerializeToString,
                    response_deserializer=resp.FromString,
                ),
            )
        return self._callables[path]

    @staticmethod
    def _metadata(token, metadata):
        md = list(metadata or ())
        if token is not None:
            md.append(("authorization", "Bearer " + token))
        return md

    def _check_error(self, path, err, token):
        details = err.details() or ""
        found = leaks(details)
        if found:
            raise LeakError(
                "%s answered %s with a message exposing database internals %s: %r"
                % (path, err.code().name, found, details)
            )
        if token and len(token) > 16 and token in details:
            raise LeakError("%s echoed the bearer token in its error" % path)

    def call(self, path, body=None, token=None, metadata=None, timeout=None, max_messages=None):
        """Calls `path` with `body` (a dict or a message; for client streams,
        a list of them). Unary answers: the reply message. Server streams:
        the list of messages, at most `max_messages` (then the call is
        cancelled). Raises grpc.RpcError; every error message is checked for
        database internals first (LeakError)."""
        (client_stream, server_stream), fn = self._callable(path)
        req_cls = self.request_class(path)

        def build(b):
            if b is None:
                return req_cls()
            if isinstance(b, dict):
                return self.request(path, b)
            return b

        if client_stream:
            bodies = body if isinstance(body, list) else [body]
            arg = iter([build(b) for b in bodies])
        else:
            arg = build(body)
        md = self._metadata(token, metadata)
        timeout = timeout or self.timeout
        try:
            if not server_stream:
                return fn(arg, metadata=md, timeout=timeout)
            stream = fn(arg, metadata=md, timeout=timeout)
            out = []
            try:
                for item in stream:
                    out.append(item)
                    if max_messages is not None and len(out) >= max_messages:
                        break
            finally:
                if max_messages is not None and len(out) >= max_messages:
                    stream.cancel()
            return out
        except grpc.RpcError as err:
            self._check_error(path, err, token)
            raise

    def status_of(self, path, body=None, token=None, metadata=None, max_messages=1):
        """(code, details, reply) of a call: reply is None on error."""
        try:
            reply = self.call(path, body, token, metadata, max_messages=max_messages)
            return grpc.StatusCode.OK, "", reply
        except grpc.RpcError as err:
            return err.code(), err.details() or "", None
