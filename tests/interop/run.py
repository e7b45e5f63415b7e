#!/usr/bin/env python3
"""Runs the interop suite: real gRPC clients against the release server.

    python3 tests/interop/run.py [CLIENT ...]     # python node go ruby (default: all)

Starts `stride serve` (release build, embedded PostgreSQL in a temporary
folder), writes the demo organization, issues a service token, runs each
client's run.sh with the contract's variables (tests/interop/README.md),
and prints every case, the figures, and `N passed, N failed`. Exit status 0
when every case of every client passed.

`run.py restart --state DIR` is the STRIDE_RESTART_CMD the clients call.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENTS = ["python", "node", "go", "ruby"]
DEMO_ORG = "5d1a4a5e-0000-4000-8000-000000000001"
DEMO_USER = "5d1a4a5e-0000-4000-8000-000000000002"
DEMO_COURSE = "6fb53ae7-1b0b-5c3f-b218-ca11dadd92f7"
CLIENT_TIMEOUT_S = 900
SERVE_TIMEOUT_S = 60


def log(message):
    print("interop: " + message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_serving(addr):
    """True when grpc.health.v1.Health/Check answers SERVING (grpcio, which
    .ci/run installs; without it, when the port accepts connections)."""
    try:
        import grpc
    except ImportError:
        host, port = addr.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return True
        except OSError:
            return False
    channel = grpc.insecure_channel(addr)
    try:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        answer = check(b"", timeout=2)
        return answer == b"\x08\x01"  # status: SERVING
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def start_server(state):
    """Starts stride serve as recorded in state; returns its pid once it serves."""
    logf = open(state["log"], "ab")
    proc = subprocess.Popen(
        [state["bin"], "serve"],
        env=state["env"],
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=logf,
        start_new_session=True,
    )
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("stride serve exited with %s; its log: %s" % (proc.returncode, state["log"]))
        if health_serving(state["addr"]):
            return proc.pid
        time.sleep(0.2)
    raise SystemExit("stride serve did not serve within %d s; its log: %s" % (SERVE_TIMEOUT_S, state["log"]))


def exited(pid):
    """True once pid is gone or a zombie (its parent may be another process,
    e.g. the runner while `restart` stops the server it started)."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
    except ChildProcessError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop_server(pid, timeout=30):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exited(pid):
            return
        time.sleep(0.1)
    log("stride serve (pid %d) still running %d s after SIGTERM: killed" % (pid, timeout))
    os.kill(pid, signal.SIGKILL)


def peak_rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def read_state(folder):
    with open(os.path.join(folder, "server.json")) as f:
        return json.load(f)


def write_state(folder, state):
    path = os.path.join(folder, "server.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)


def restart(folder):
    state = read_state(folder)
    stop_server(state["pid"])
    state["pid"] = start_server(state)
    write_state(folder, state)
    print("server restarted (pid %d)" % state["pid"], file=sys.stderr, flush=True)


def stride_bin():
    """STRIDE_BIN, else the release build of this tree (cargo builds it when
    stale: about five minutes cold on two cores, seconds when current)."""
    if os.environ.get("STRIDE_BIN"):
        return os.path.abspath(os.environ["STRIDE_BIN"])
    log("cargo build --release --bin stride (about five minutes when cold)")
    subprocess.run(["cargo", "build", "--release", "--bin", "stride"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(os.path.abspath(target), "release", "stride")


def run_client(name, env):
    script = os.path.join(HERE, name, "run.sh")
    log("client %s: %s" % (name, script))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(["bash", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    except OSError as err:
        return 0, 1, ["FAIL %s: cannot start run.sh: %s" % (name, err)], []
    passed = failed = 0
    lines, figures = [], []
    deadline = started + CLIENT_TIMEOUT_S
    for line in proc.stdout:
        line = line.rstrip("\n")
        print("  [%s] %s" % (name, line), flush=True)
        if line.startswith("PASS "):
            passed += 1
            lines.append(line)
        elif line.startswith("FAIL "):
            failed += 1
            lines.append(line)
        elif line.startswith("FIGURE "):
            figures.append(line)
        if time.monotonic() > deadline:
            proc.kill()
            failed += 1
            lines.append("FAIL %s: did not finish within %d s" % (name, CLIENT_TIMEOUT_S))
            break
    code = proc.wait()
    if code != 0 and failed == 0:
        failed += 1
        lines.append("FAIL %s: run.sh exited %d without a failed case (setup failed?)" % (name, code))
    if passed == 0 and failed == 0:
        failed += 1
        lines.append("FAIL %s: ran no case" % name)
    log("client %s: %d passed, %d failed in %.0f s" % (name, passed, failed, time.monotonic() - started))
    return passed, failed, lines, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clients", nargs="*", help="clients to run (default: %s)" % " ".join(CLIENTS))
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients[:1] == ["restart"]:
        restart(args.state)
        return 0
    clients = args.clients or CLIENTS
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown:
        parser.error("unknown client(s) %s; known: %s" % (", ".join(unknown), " ".join(CLIENTS)))

    binary = stride_bin()
    work = tempfile.mkdtemp(prefix="stride-interop-")
    os.chmod(work, 0o755)  # the embedded cluster runs as the postgres user when root
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "STRIDE_"))}
    env.update({
        "STRIDE_DATA_DIR": os.path.join(work, "data"),
        "STRIDE_LISTEN": "127.0.0.1:%d" % port,
        "STRIDE_METRICS_LISTEN": "127.0.0.1:%d" % free_port(),
        "STRIDE_LOG_FORMAT": "text",
        "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
    })
    state = {"bin": binary, "env": env, "addr": "127.0.0.1:%d" % port,
             "log": os.path.join(work, "serve.log"), "pid": None}
    total_passed = total_failed = 0
    summary, figures = [], []
    try:
        log("starting %s serve on %s (data in %s)" % (binary, state["addr"], work))
        state["pid"] = start_server(state)
        write_state(work, state)
        demo = subprocess.run([binary, "demo"], env=env, capture_output=True, text=True)
        if demo.returncode != 0:
            raise SystemExit("stride demo failed:\n" + demo.stdout + demo.stderr)
        token = subprocess.run(
            [binary, "token", "--service", "interop", "--scope", "events:write", "--org", DEMO_ORG],
            env=env, capture_output=True, text=True, check=True).stdout.strip()
        max_bytes = os.environ.get("STRIDE_MAX_MESSAGE_BYTES", str(4 * 1024 * 1024))
        for name in clients:
            client_env = dict(os.environ)
            client_env.update({
                "STRIDE_ADDR": state["addr"],
                "STRIDE_TOKEN": token,
                "STRIDE_USER_ID": DEMO_USER,
                "STRIDE_COURSE_ID": DEMO_COURSE,
                "STRIDE_RUN_ID": "%s-%d" % (name, int(time.time() * 1000)),
                "STRIDE_MAX_MESSAGE_BYTES": max_bytes,
                "STRIDE_RESTART_CMD": "%s %s restart --state %s" % (
                    shutil.which("python3") or sys.executable, os.path.abspath(__file__), work),
            })
            passed, failed, lines, client_figures = run_client(name, client_env)
            total_passed += passed
            total_failed += failed
            summary += ["%s: %s" % (name, line) for line in lines if line.startswith("FAIL")]
            pid = read_state(work)["pid"]
            rss = peak_rss_mib(pid)
            figures += ["%s %s" % (name, f[len("FIGURE "):]) for f in client_figures]
            if rss is not None:
                figures.append("%s server_peak_rss_mib %.0f (since its last start)" % (name, rss))
    finally:
        if state.get("pid"):
            try:
                stop_server(read_state(work)["pid"])
            except (OSError, ValueError):
                stop_server(state["pid"])
        if total_failed or os.environ.get("STRIDE_INTEROP_KEEP"):
            log("server log kept: %s" % state["log"])
            with open(state["log"], errors="replace") as f:
                tail = f.readlines()[-40:]
            print("".join(tail), flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for line in figures:
        log("figure: " + line)
    for line in summary:
        log(line)
    print("interop: %d passed, %d failed" % (total_passed, total_failed), flush=True)
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
