'use strict';
// Stride interop client for @grpc/grpc-js: the nine cases of
// tests/interop/README.md, in order, one PASS/FAIL line each on stdout.
// Anything else (grpc-js logs, the restart command's output) goes to stderr.

// grpc-js reports pings and GOAWAYs only through its tracers; turn on the two
// connection-level ones (not the per-message ones) so that the keepalive case
// can see them and failures can name a GOAWAY. Must be set before require().
const CHILD_ENV = { ...process.env }; // the restart command gets the caller's, untouched
process.env.GRPC_TRACE = [process.env.GRPC_TRACE, 'keepalive', 'transport'].filter(Boolean).join(',');

const path = require('node:path');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { setTimeout: sleep } = require('node:timers/promises');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// ---- environment -----------------------------------------------------------

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`client.js: ${name} is not set (see tests/interop/README.md)`);
    process.exit(2);
  }
  return value;
}

const ADDR = need('STRIDE_ADDR');
const TOKEN = need('STRIDE_TOKEN');
const USER_ID = need('STRIDE_USER_ID');
const COURSE_ID = need('STRIDE_COURSE_ID');
const RUN_ID = need('STRIDE_RUN_ID');
const MAX_MESSAGE_BYTES = Number(need('STRIDE_MAX_MESSAGE_BYTES'));
const RESTART_CMD = need('STRIDE_RESTART_CMD');
const VERBOSE = Boolean(process.env.STRIDE_INTEROP_VERBOSE);

// ---- grpc-js log capture ---------------------------------------------------

// Every grpc-js log/trace line, kept (bounded) so cases can look for pings and
// GOAWAYs; errors are also passed on to stderr, traces only when verbose.
const grpcLog = [];
const GRPC_LOG_LIMIT = 100000;
function record(level, args) {
  const line = args.map(String).join(' ');
  if (grpcLog.length >= GRPC_LOG_LIMIT) grpcLog.splice(0, GRPC_LOG_LIMIT / 2);
  grpcLog.push({ at: Date.now(), line });
  if (level === 'E' || VERBOSE) console.error(`grpc-js ${level} ${line}`);
}
grpc.setLogger({
  error: (...args) => record('E', args),
  info: (...args) => record('I', args),
  debug: (...args) => record('D', args),
});
grpc.setLogVerbosity(grpc.logVerbosity.DEBUG);

function logSince(start, pattern) {
  return grpcLog.filter((e) => e.at >= start && pattern.test(e.line)).map((e) => e.line);
}

// GOAWAYs grpc-js saw since `start`, as "code N data X", for failure messages.
function goawaysSince(start) {
  return logSince(start, /closed by GOAWAY/).map((l) => l.replace(/^.*closed by GOAWAY with /, 'GOAWAY '));
}

// ---- stubs, loaded from proto/ at run time ---------------------------------

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');
const packageDefinition = protoLoader.loadSync(path.join(PROTO_DIR, 'stride/events/v1/events.proto'), {
  keepCase: true,
  longs: Number, // EventResult.index is a uint64; 20,000 fits a double
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR], // google/protobuf/* come bundled with protobufjs
});
const { EventService } = grpc.loadPackageDefinition(packageDefinition).stride.events.v1;

const STATUS_NAME = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));
const statusName = (code) => STATUS_NAME[code] || `code ${code}`;

// Every call carries the service token; an interceptor instead of a Metadata
// argument on each call (call credentials are refused on insecure channels).
function authInterceptor(options, nextCall) {
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${TOKEN}`);
      next(metadata, listener);
    },
  });
}

// A new client is a new channel: each case gets its own so that one case's
// broken connection is not the next case's problem.
function newClient(options = {}) {
  return new EventService(ADDR, grpc.credentials.createInsecure(), {
    interceptors: [authInterceptor],
    ...options,
  });
}

const deadlineIn = (ms) => new Date(Date.now() + ms);

// ---- events ----------------------------------------------------------------

// One fixed occurred_at per process: a minute ago, so never in the future,
// and the same payload whenever an event is sent again.
const OCCURRED_MS = Date.now() - 60_000;
const OCCURRED_AT = { seconds: Math.floor(OCCURRED_MS / 1000), nanos: (OCCURRED_MS % 1000) * 1e6 };

function progressEvent(caseName, n) {
  return {
    event_id: `${RUN_ID}-${caseName}-${n}`,
    occurred_at: OCCURRED_AT,
    user_id: USER_ID,
    progress_updated: { course_id: COURSE_ID, progress_percent: n % 100 },
  };
}

function loginEvent(caseName, n) {
  return { event_id: `${RUN_ID}-${caseName}-${n}`, occurred_at: OCCURRED_AT, user_id: USER_ID, login: {} };
}

const range = (from, count) => Array.from({ length: count }, (_, i) => from + i);

// ---- calls -----------------------------------------------------------------

// PublishEvent as a promise of { ok, result, code, details }; never
// rejects, so cases compare statuses instead of catching.
function publishEvent(client, event, options) {
  return new Promise((resolve) => {
    client.PublishEvent({ event }, options, (err, response) => {
      if (err) resolve({ ok: false, code: err.code, details: err.details });
      else resolve({ ok: true, code: grpc.status.OK, result: response.result });
    });
  });
}

// Opens a PublishEvents stream and reads its results concurrently with
// on('data'). `done` resolves (never rejects) with { results, status }
// once the call has both ended its reading side and reported its status.
function openStream(client, options, onResult) {
  const call = client.PublishEvents(options);
  const results = [];
  call.on('data', (response) => {
    results.push(response.result);
    if (onResult) onResult(response.result, call);
  });
  call.on('error', () => {}); // the status event carries the same status
  const done = Promise.all([
    new Promise((resolve) => call.once('end', resolve)),
    new Promise((resolve) => call.once('status', resolve)),
  ]).then(([, status]) => ({ results, status }));
  let ended = false;
  done.then(() => { ended = true; });
  return { call, done, isEnded: () => ended };
}

// Writes every event as fast as grpc-js takes them. Chosen: the usual Node
// idiom of waiting for 'drain' when write() returns false. grpc-js completes
// a write only once its HTTP/2 stream accepted the frame, so this is HTTP/2
// flow control and nothing else; there is no window of our own.
// Resolves true when every event was written, false when the call ended
// first; never rejects (the call's status is what cases judge).
async function writeAll(stream, events) {
  const { call, done, isEnded } = stream;
  const ended = done.then(() => true);
  try {
    for (const event of events) {
      if (isEnded()) return false;
      if (!call.write({ event })) {
        const drainedOrEnded = await Promise.race([once(call, 'drain').then(() => false, () => true), ended]);
        if (drainedOrEnded) return false;
      }
    }
    call.end();
    return true;
  } catch (err) {
    console.error(`write failed: ${err}`);
    return false;
  }
}

// Checks results[i] is the result for events[i] (index, event_id, and an
// allowed status); returns the first problem, or null.
function checkResults(results, events, allowed) {
  if (results.length !== events.length) return `${results.length} results for ${events.length} events`;
  for (let i = 0; i < events.length; i++) {
    const r = results[i];
    if (r.index !== i) return `result ${i} has index ${r.index}`;
    if (r.event_id !== events[i].event_id) return `result ${i} is for ${r.event_id}, sent ${events[i].event_id}`;
    const want = typeof allowed === 'function' ? allowed(i) : allowed;
    if (!want.includes(r.status)) {
      const why = r.violations.map((v) => `${v.field}: ${v.description}`).join('; ');
      return `result ${i} (${r.event_id}) is ${r.status}, expected ${want.join(' or ')}${why ? ` (${why})` : ''}`;
    }
  }
  return null;
}

const ACCEPTED = ['EVENT_STATUS_ACCEPTED'];
const DUPLICATE = ['EVENT_STATUS_DUPLICATE'];
const ACCEPTED_OR_DUPLICATE = ['EVENT_STATUS_ACCEPTED', 'EVENT_STATUS_DUPLICATE'];

const describeStatus = (s) => `${statusName(s.code)}${s.details ? ` "${s.details}"` : ''}`;

// "OK x136, RESOURCE_EXHAUSTED "too many streams" x64" for many streams' ends.
function tally(outcomes) {
  const counts = new Map();
  for (const o of outcomes) counts.set(o, (counts.get(o) || 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} x${n}`).join(', ');
}

class CaseFailure extends Error {}
function check(condition, message) {
  if (!condition) throw new CaseFailure(message);
}

// ---- the cases -------------------------------------------------------------

const figures = [];

async function stream20k() {
  const N = 20000;
  const events = range(0, N).map((n) => progressEvent('stream_20k', n));
  const client = newClient();
  const start = Date.now();
  try {
    const stream = openStream(client, { deadline: deadlineIn(180_000) });
    const wrote = writeAll(stream, events);
    const { results, status } = await stream.done;
    const allWritten = await wrote;
    const seconds = (Date.now() - start) / 1000;
    figures.push(`FIGURE stream_20k ${Math.round(results.length / seconds)}`);
    if (status.code !== grpc.status.OK) {
      const goaways = goawaysSince(start);
      throw new CaseFailure(`call ended ${describeStatus(status)} after ${results.length} of ${N} results` +
        `${allWritten ? '' : ' (before all events were written)'}${goaways.length ? `; ${goaways.join('; ')}` : ''}`);
    }
    const problem = checkResults(results, events, ACCEPTED);
    check(!problem, problem);
    return `${N} results in order, all ACCEPTED, OK in ${seconds.toFixed(1)} s`;
  } finally {
    client.close();
  }
}

async function concurrent200() {
  const STREAMS = 200;
  const PER = 100;
  const client = newClient();
  try {
    const streams = range(0, STREAMS).map((s) => {
      const events = range(s * PER, PER).map((n) => progressEvent('concurrent_200', n));
      const stream = openStream(client, { deadline: deadlineIn(120_000) });
      writeAll(stream, events);
      return { events, stream };
    });
    const ends = await Promise.all(streams.map(({ stream }) => stream.done));
    const problems = [];
    ends.forEach(({ results, status }, s) => {
      if (status.code !== grpc.status.OK) {
        problems.push(`ended ${describeStatus(status)}`);
      } else {
        const problem = checkResults(results, streams[s].events, ACCEPTED);
        if (problem) problems.push(`stream ${s}: ${problem}`);
      }
    });
    check(problems.length === 0, `${problems.length} of ${STREAMS} streams failed: ${tally(problems)}`);
    return `${STREAMS} streams x ${PER} results in order, all OK`;
  } finally {
    client.close();
  }
}

async function burst1000() {
  const STREAMS = 1000;
  const PER = 5;
  const client = newClient();
  try {
    // All opened in one synchronous loop: nothing awaits between them.
    const streams = range(0, STREAMS).map((s) => {
      const events = range(s * PER, PER).map((n) => loginEvent('burst_1000', n));
      const stream = openStream(client, { deadline: deadlineIn(120_000) });
      writeAll(stream, events);
      return { events, stream };
    });
    const ends = await Promise.all(streams.map(({ stream }) => stream.done));
    const outcomes = [];
    const problems = [];
    ends.forEach(({ results, status }, s) => {
      if (status.code === grpc.status.OK) {
        const problem = checkResults(results, streams[s].events, ACCEPTED);
        if (problem) problems.push(`OK but ${problem}`);
        outcomes.push('OK');
      } else if (status.code === grpc.status.RESOURCE_EXHAUSTED) {
        outcomes.push('RESOURCE_EXHAUSTED');
      } else {
        problems.push(`ended ${describeStatus(status)}`);
        outcomes.push(statusName(status.code));
      }
    });
    check(problems.length === 0, `${problems.length} of ${STREAMS} streams failed: ${tally(problems)}`);
    return `${STREAMS} streams: ${tally(outcomes)}`;
  } finally {
    client.close();
  }
}

async function deadline() {
  const event = progressEvent('deadline', 0);
  const client = newClient();
  try {
    const first = await publishEvent(client, event, { deadline: deadlineIn(1) });
    check(first.code === grpc.status.DEADLINE_EXCEEDED,
      `1 ms deadline answered ${first.ok ? `OK ${first.result.status}` : describeStatus(first)}, expected DEADLINE_EXCEEDED`);
    const second = await publishEvent(client, event, { deadline: deadlineIn(10_000) });
    check(second.ok, `second call (10 s deadline) failed: ${describeStatus(second)}`);
    check(ACCEPTED_OR_DUPLICATE.includes(second.result.status),
      `second call answered ${second.result.status}, expected ACCEPTED or DUPLICATE`);
    const third = await publishEvent(client, event, { deadline: deadlineIn(10_000) });
    check(third.ok, `third call failed: ${describeStatus(third)}`);
    check(third.result.status === DUPLICATE[0], `third call answered ${third.result.status}, expected DUPLICATE`);
    return `DEADLINE_EXCEEDED, then ${second.result.status}, then ${third.result.status}`;
  } finally {
    client.close();
  }
}

async function cancel() {
  const N = 1000;
  const CANCEL_AFTER = 100;
  const events = range(0, N).map((n) => progressEvent('cancel', n));
  const client = newClient();
  try {
    let cancelledAt = null;
    const first = openStream(client, { deadline: deadlineIn(60_000) }, (result, call) => {
      if (cancelledAt === null && result.index === CANCEL_AFTER - 1) {
        cancelledAt = CANCEL_AFTER;
        call.cancel();
      }
    });
    writeAll(first, events);
    const { results: acked, status } = await first.done;
    check(cancelledAt !== null, `first stream ended ${describeStatus(status)} after ${acked.length} results, before the ${CANCEL_AFTER}th`);
    check(status.code === grpc.status.CANCELLED, `cancelled stream ended ${describeStatus(status)}, expected CANCELLED`);
    const prefix = checkResults(acked, events.slice(0, acked.length), ACCEPTED);
    check(!prefix, `first stream: ${prefix}`);
    // Results that arrived after cancel() was called count as acknowledged too.
    const ackedCount = acked.length;

    const second = openStream(client, { deadline: deadlineIn(60_000) });
    writeAll(second, events);
    const two = await second.done;
    check(two.status.code === grpc.status.OK, `second stream ended ${describeStatus(two.status)} after ${two.results.length} results`);
    const p2 = checkResults(two.results, events, (i) => (i < ackedCount ? DUPLICATE : ACCEPTED_OR_DUPLICATE));
    check(!p2, `second stream: ${p2}`);
    const duplicates2 = two.results.filter((r) => r.status === DUPLICATE[0]).length;

    const third = openStream(client, { deadline: deadlineIn(60_000) });
    writeAll(third, events);
    const three = await third.done;
    check(three.status.code === grpc.status.OK, `third stream ended ${describeStatus(three.status)} after ${three.results.length} results`);
    const p3 = checkResults(three.results, events, DUPLICATE);
    check(!p3, `third stream: ${p3}`);
    return `cancelled after ${ackedCount} results; again: ${duplicates2} DUPLICATE, ${N - duplicates2} ACCEPTED; third: all ${N} DUPLICATE`;
  } finally {
    client.close();
  }
}

async function gzip() {
  // grpc-js compresses per channel only (no per-call option) and ignores
  // grpc.default_compression_level, so the algorithm is all there is to set.
  // Its compression filter consumes the answer's grpc-encoding and
  // grpc-accept-encoding headers before the application sees them, so the
  // answer's encoding cannot be checked here; what is checked is that the
  // server takes gzip requests (a refused encoding fails the call).
  const client = newClient({ 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
  try {
    const one = await publishEvent(client, progressEvent('gzip', 0), { deadline: deadlineIn(10_000) });
    check(one.ok, `PublishEvent failed: ${describeStatus(one)}`);
    check(one.result.status === ACCEPTED[0], `PublishEvent answered ${one.result.status}, expected ACCEPTED`);

    const events = range(1, 100).map((n) => progressEvent('gzip', n));
    const stream = openStream(client, { deadline: deadlineIn(30_000) });
    writeAll(stream, events);
    const { results, status } = await stream.done;
    check(status.code === grpc.status.OK, `stream ended ${describeStatus(status)} after ${results.length} results`);
    const problem = checkResults(results, events, ACCEPTED);
    check(!problem, `stream: ${problem}`);
    return 'PublishEvent and a 100-event stream OK on a gzip channel (answer encoding not exposed by grpc-js)';
  } finally {
    client.close();
  }
}

async function keepalive() {
  const client = newClient({
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const start = Date.now();
  try {
    const first = await publishEvent(client, progressEvent('keepalive', 0), { deadline: deadlineIn(10_000) });
    check(first.ok, `first call failed: ${describeStatus(first)}`);

    // Idle 12 s, watching that the channel's one connection stays up.
    const channel = client.getChannel();
    const states = new Set();
    const idleUntil = Date.now() + 12_000;
    while (Date.now() < idleUntil) {
      states.add(grpc.connectivityState[channel.getConnectivityState(false)]);
      await sleep(200);
    }

    const second = await publishEvent(client, progressEvent('keepalive', 1), { deadline: deadlineIn(10_000) });
    check(second.ok, `second call failed: ${describeStatus(second)}`);

    const excess = logSince(start, /excess pings/);
    check(excess.length === 0, `grpc-js: ${excess[0]}`);
    // Transport ids of this channel's connections, from its keepalive traces:
    // only they can name a GOAWAY that concerns this case.
    const ids = new Set(logSince(start, /\| keepalive \|/).map((l) => (l.match(/\| keepalive \| \((\d+)\)/) || [])[1]));
    const goaways = logSince(start, /closed by GOAWAY/).filter((l) => ids.has((l.match(/\| transport \| \((\d+)\)/) || [])[1]));
    check(goaways.length === 0, `connection got ${goaways[0]}`);
    check(states.size === 1 && states.has('READY'), `channel left READY while idle: ${[...states].join(', ')}`);
    const pongs = logSince(start, /\| keepalive \|.*Received ping response/).length;
    check(pongs >= 1, 'no keepalive ping was answered during the 12 s idle (grpc-js keepalive trace)');
    return `both calls OK, ${pongs} ping(s) answered, channel READY throughout, no GOAWAY`;
  } finally {
    client.close();
  }
}

async function oversize() {
  // Our own send limit raised well above the server's, so the server decides.
  const client = newClient({ 'grpc.max_send_message_length': MAX_MESSAGE_BYTES * 2 + 1024 * 1024 });
  try {
    const event = progressEvent('oversize', 0);
    event.event_id += '-' + 'x'.repeat(MAX_MESSAGE_BYTES + 1024);
    const answer = await publishEvent(client, event, { deadline: deadlineIn(30_000) });
    check(!answer.ok, `a ${MAX_MESSAGE_BYTES + 1024}+ byte event answered OK (${answer.result && answer.result.status})`);
    check(answer.code === grpc.status.RESOURCE_EXHAUSTED, `answered ${describeStatus(answer)}, expected RESOURCE_EXHAUSTED`);
    check(new RegExp(`\\b${MAX_MESSAGE_BYTES}\\b`).test(answer.details || ''),
      `RESOURCE_EXHAUSTED "${answer.details}" does not name the limit (${MAX_MESSAGE_BYTES} bytes)`);
    return `RESOURCE_EXHAUSTED "${answer.details}"`;
  } finally {
    client.close();
  }
}

// Runs STRIDE_RESTART_CMD with its output on our stderr; bounded.
function runRestart(timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', RESTART_CMD], { stdio: ['ignore', 2, 2], env: CHILD_ENV });
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(`timed out after ${timeoutMs / 1000} s`); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); resolve(err.message); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `exited ${code === null ? signal : code}`);
    });
  });
}

async function restart() {
  const client = newClient();
  try {
    const before = await publishEvent(client, progressEvent('restart', 0), { deadline: deadlineIn(10_000) });
    check(before.ok, `call before the restart failed: ${describeStatus(before)}`);
    const failed = await runRestart(120_000);
    check(!failed, `STRIDE_RESTART_CMD ${failed}`);
    // Same channel; wait-for-ready rides out the reconnection, bounded by the deadline.
    const after = await publishEvent(client, progressEvent('restart', 1), { deadline: deadlineIn(30_000), waitForReady: true });
    check(after.ok, `call after the restart failed: ${describeStatus(after)}`);
    check(after.result.status === ACCEPTED[0], `call after the restart answered ${after.result.status}, expected ACCEPTED`);
    return 'call OK, server restarted, call on the same channel OK (waitForReady)';
  } finally {
    client.close();
  }
}

const CASES = [
  ['stream_20k', stream20k, 240_000],
  ['concurrent_200', concurrent200, 150_000],
  ['burst_1000', burst1000, 150_000],
  ['deadline', deadline, 40_000],
  ['cancel', cancel, 200_000],
  ['gzip', gzip, 60_000],
  ['keepalive', keepalive, 60_000],
  ['oversize', oversize, 60_000],
  ['restart', restart, 180_000],
];

// A last bound beyond the calls' own deadlines, so nothing can hang a case.
function bounded(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CaseFailure(`did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const only = process.argv.slice(2);
  let passed = 0;
  let failed = 0;
  for (const [name, run, limitMs] of CASES) {
    if (only.length && !only.includes(name)) continue;
    try {
      const detail = await bounded(run(), limitMs);
      console.log(`PASS ${name} ${detail}`);
      passed++;
    } catch (err) {
      const why = err instanceof CaseFailure ? err.message : `client error: ${err && err.stack ? err.stack : err}`;
      console.log(`FAIL ${name}: ${why}`);
      failed++;
    }
    // The contract wants the figure line even when the case could not measure.
    if (name === 'stream_20k' && figures.length === 0) figures.push('FIGURE stream_20k 0');
    while (figures.length) console.log(figures.shift());
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => { console.error(err); process.exit(1); },
);
