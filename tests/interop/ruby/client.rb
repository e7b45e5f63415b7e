# frozen_string_literal: true

# Ruby interop client (grpc 1.51, Debian's ruby-grpc): the nine cases of
# tests/interop/README.md against a running Stride server. run.sh generates
# the stubs into .build/ and puts it on the load path.

require 'grpc'
require 'stride/events/v1/events_services_pb'

Events = Stride::Events::V1
Stub = Events::EventService::Stub

ADDR = ENV.fetch('STRIDE_ADDR')
AUTH = { 'authorization' => "Bearer #{ENV.fetch('STRIDE_TOKEN')}" }.freeze
USER_ID = ENV.fetch('STRIDE_USER_ID')
COURSE_ID = ENV.fetch('STRIDE_COURSE_ID')
RUN_ID = ENV.fetch('STRIDE_RUN_ID')
MAX_BYTES = Integer(ENV.fetch('STRIDE_MAX_MESSAGE_BYTES'))
RESTART_CMD = ENV.fetch('STRIDE_RESTART_CMD')

# One instant for every event of the run: a resent event must be the same
# payload to count as a DUPLICATE (and an hour back is never in the future).
OCCURRED_AT = Google::Protobuf::Timestamp.new(seconds: Time.now.to_i - 3600)

ACCEPTED = :EVENT_STATUS_ACCEPTED
DUPLICATE = :EVENT_STATUS_DUPLICATE

# Raised by a case with the reason it failed.
class CaseFailed < StandardError; end

def check(condition, why)
  raise CaseFailed, why unless condition
end

def in_secs(seconds)
  Time.now + seconds
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def code_name(code)
  GRPC::Core::StatusCodes.constants.find { |c| GRPC::Core::StatusCodes.const_get(c) == code } || code.to_s
end

def describe(err)
  return 'OK' if err.code == GRPC::Core::StatusCodes::OK

  "#{code_name(err.code)} (#{err.details})"
end

def event_id(kase, n)
  "#{RUN_ID}-#{kase}-#{n}"
end

def progress_event(kase, n, id: event_id(kase, n))
  Events::Event.new(
    event_id: id, occurred_at: OCCURRED_AT, user_id: USER_ID,
    progress_updated: Events::ProgressUpdated.new(course_id: COURSE_ID, progress_percent: n % 100)
  )
end

def login_event(kase, n)
  Events::Event.new(event_id: event_id(kase, n), occurred_at: OCCURRED_AT, user_id: USER_ID,
                    login: Events::Login.new)
end

def publish(stub, event, timeout: 10)
  stub.publish_event(Events::PublishEventRequest.new(event: event),
                     deadline: in_secs(timeout), metadata: AUTH).result
end

# Requests pulled by the library's writer thread as fast as it can send
# them: HTTP/2 flow control is the only back-pressure.
def requests_of(events)
  Enumerator.new do |y|
    events.each { |e| y << Events::PublishEventsRequest.new(event: e) }
  end
end

# One PublishEvents stream: [results, nil] when it ended OK, else
# [results so far, the GRPC::BadStatus it ended with].
def publish_stream(stub, events, timeout:)
  results = []
  stub.publish_events(requests_of(events), deadline: in_secs(timeout), metadata: AUTH).each do |resp|
    results << resp.result
  end
  [results, nil]
rescue GRPC::BadStatus => e
  [results, e]
end

# nil when results are one per id, in order, each naming its id; else why not.
def order_problem(results, ids)
  return "#{results.size} results for #{ids.size} events" unless results.size == ids.size

  results.each_with_index do |r, i|
    return "result #{i} has index #{r.index}" unless r.index == i
    return "result #{i} names #{r.event_id.inspect}, sent #{ids[i].inspect}" unless r.event_id == ids[i]
  end
  nil
end

def ended_ok!(what, results, err)
  raise CaseFailed, "#{what} ended #{describe(err)} after #{results.size} results" if err
end

# A stub on a channel of its own, so that its args apply to it alone.
def with_channel(args)
  channel = GRPC::Core::Channel.new(ADDR, args, :this_channel_is_insecure)
  yield Stub.new(ADDR, :this_channel_is_insecure, channel_override: channel), channel
ensure
  channel&.close
end

def statuses(results)
  results.map(&:status).tally.map { |s, n| "#{n} #{s.to_s.sub('EVENT_STATUS_', '')}" }.join(', ')
end

# --- the cases -------------------------------------------------------------

STREAM_EVENTS = 20_000

def stream_20k(stub)
  events = Enumerator.new { |y| STREAM_EVENTS.times { |i| y << progress_event('stream_20k', i) } }
  started = monotonic
  results, err = publish_stream(stub, events, timeout: 120)
  elapsed = monotonic - started
  if err
    @figure = "n/a (failed after #{results.size} of #{STREAM_EVENTS} results)"
    raise CaseFailed, "ended #{describe(err)} after #{results.size} of #{STREAM_EVENTS} results"
  end
  problem = order_problem(results, Array.new(STREAM_EVENTS) { |i| event_id('stream_20k', i) })
  check(problem.nil?, problem)
  check(results.all? { |r| r.status == ACCEPTED }, "not all ACCEPTED: #{statuses(results)}")
  rate = STREAM_EVENTS / elapsed
  @figure = rate.round.to_s
  format('%d results in order, all ACCEPTED, %.1f s (%.0f events/s)', STREAM_EVENTS, elapsed, rate)
end

# Starts `count` threads that each run one stream at once (a gate holds
# them until all exist) and returns each one's [outcome, detail].
def streams_at_once(count, timeout:)
  gate = Mutex.new
  opened = ConditionVariable.new
  open = false
  threads = Array.new(count) do |s|
    Thread.new do
      gate.synchronize { opened.wait(gate) until open }
      yield s
    rescue StandardError => e
      [:bad, e.class.name, e.message]
    end
  end
  gate.synchronize do
    open = true
    opened.broadcast
  end
  # Deadlines end every call; the join bound only catches a stuck library.
  limit = monotonic + timeout + 15
  threads.map do |t|
    t.join([limit - monotonic, 0].max) ? t.value : [:bad, 'hung', 'thread still waiting after its deadline']
  end
end

# How one stream of the concurrent cases ended: [:ok], [:exhausted] (when
# allowed) or [:bad, kind, why].
def stream_outcome(results, err, ids, exhausted_ok: false)
  return [:exhausted] if exhausted_ok && err.is_a?(GRPC::ResourceExhausted)
  return [:bad, code_name(err.code), "ended #{describe(err)} after #{results.size} results"] if err

  problem = order_problem(results, ids)
  return [:bad, 'wrong results', problem] if problem
  return [:bad, 'not all ACCEPTED', statuses(results)] unless results.all? { |r| r.status == ACCEPTED }

  [:ok]
end

# "13x UNAVAILABLE (e.g. stream 294: ...); ..." over the failed streams.
def summarize(outcomes)
  failed = outcomes.each_with_index.select { |(outcome, *), _| outcome == :bad }
  failed.group_by { |(_, kind, _), _| kind }.map do |kind, list|
    (_, _, why), stream = list.first
    "#{list.size}x #{kind} (e.g. stream #{stream}: #{why})"
  end.join('; ')
end

def concurrent_200(stub)
  streams = 200
  per = 100
  outcomes = streams_at_once(streams, timeout: 60) do |s|
    ids = Array.new(per) { |i| event_id('concurrent_200', s * per + i) }
    events = Array.new(per) { |i| progress_event('concurrent_200', s * per + i) }
    stream_outcome(*publish_stream(stub, events, timeout: 60), ids)
  end
  bad = outcomes.count { |outcome, *| outcome != :ok }
  check(bad.zero?, "#{bad} of #{streams} streams failed: #{summarize(outcomes)}")
  "#{streams} streams x #{per} results in order, all ended OK"
end

def burst_1000(stub)
  streams = 1000
  per = 5
  outcomes = streams_at_once(streams, timeout: 60) do |s|
    ids = Array.new(per) { |i| event_id('burst_1000', s * per + i) }
    events = Array.new(per) { |i| login_event('burst_1000', s * per + i) }
    stream_outcome(*publish_stream(stub, events, timeout: 60), ids, exhausted_ok: true)
  end
  ok = outcomes.count { |outcome, *| outcome == :ok }
  exhausted = outcomes.count { |outcome, *| outcome == :exhausted }
  bad = streams - ok - exhausted
  check(bad.zero?, "#{bad} of #{streams} streams ended otherwise (#{ok} OK, #{exhausted} RESOURCE_EXHAUSTED): " \
                   "#{summarize(outcomes)}")
  "#{streams} streams: #{ok} OK with #{per} results, #{exhausted} RESOURCE_EXHAUSTED"
end

def deadline(stub)
  event = progress_event('deadline', 0)
  begin
    r = publish(stub, event, timeout: 0.001)
    raise CaseFailed, "1 ms deadline answered OK (#{r.status})"
  rescue GRPC::DeadlineExceeded
    # expected, from the client or the server
  rescue GRPC::BadStatus => e
    raise CaseFailed, "1 ms deadline answered #{describe(e)}, expected DEADLINE_EXCEEDED"
  end
  second = publish(stub, event).status
  check([ACCEPTED, DUPLICATE].include?(second), "resent with 10 s: #{second}, expected ACCEPTED or DUPLICATE")
  third = publish(stub, event).status
  check(third == DUPLICATE, "third time: #{third}, expected DUPLICATE")
  "1 ms: DEADLINE_EXCEEDED; 10 s: #{second.to_s.sub('EVENT_STATUS_', '')}; again: DUPLICATE"
end

def cancel(stub)
  count = 1000
  cut = 100
  events = Array.new(count) { |i| progress_event('cancel', i) }
  ids = events.map(&:event_id)

  op = stub.publish_events(requests_of(events), deadline: in_secs(30), metadata: AUTH, return_op: true)
  acked = 0
  late = 0
  ended = nil
  begin
    op.execute.each do |resp|
      if acked < cut
        r = resp.result
        check(r.index == acked && r.event_id == ids[acked],
              "result #{acked} before the cancel is ##{r.index} #{r.event_id.inspect}")
        acked += 1
        op.cancel if acked == cut
      else
        late += 1 # already on its way when the cancel was issued
      end
    end
    ended = GRPC::Ok.new
  rescue GRPC::BadStatus => e
    ended = e
  ensure
    op.cancel unless ended # a check gave up mid-stream
  end
  check(acked == cut, "the first stream ended #{describe(ended)} after #{acked} results, before the cancel")
  check(ended.is_a?(GRPC::Cancelled), "after op.cancel the stream ended #{describe(ended)}, expected CANCELLED")

  results, err = publish_stream(stub, events, timeout: 30)
  ended_ok!('replay stream', results, err)
  problem = order_problem(results, ids)
  check(problem.nil?, "replay: #{problem}")
  early = results.take(cut).reject { |r| r.status == DUPLICATE }
  check(early.empty?, "replay: #{early.size} of the #{cut} acknowledged events not DUPLICATE " \
                      "(e.g. ##{early[0]&.index} #{early[0]&.status})")
  odd = results.drop(cut).reject { |r| [ACCEPTED, DUPLICATE].include?(r.status) }
  check(odd.empty?, "replay: #{odd.size} unacknowledged events neither ACCEPTED nor DUPLICATE: #{statuses(odd)}")
  replay = statuses(results)

  results, err = publish_stream(stub, events, timeout: 30)
  ended_ok!('third stream', results, err)
  problem = order_problem(results, ids)
  check(problem.nil?, "third stream: #{problem}")
  check(results.all? { |r| r.status == DUPLICATE }, "third stream not all DUPLICATE: #{statuses(results)}")
  "CANCELLED after #{cut} results (#{late} more in flight); replay: #{replay}; third: #{count} DUPLICATE"
end

def gzip(_stub)
  args = GRPC::Core::CompressionOptions.new(default_algorithm: :gzip).to_channel_arg_hash
  # C-core sends a message uncompressed when gzip would not shrink it (a
  # plain event, ~120 bytes, would not be): ids with <n> zero-padded to
  # the 128 characters allowed make every request compress.
  padded = ->(n) { "#{RUN_ID}-gzip-#{n.to_s.rjust(128 - "#{RUN_ID}-gzip-".size, '0')}" }
  with_channel(args) do |gz, _|
    op = gz.publish_event(Events::PublishEventRequest.new(event: progress_event('gzip', 0, id: padded[0])),
                          deadline: in_secs(10), metadata: AUTH, return_op: true)
    status = op.execute.result.status
    check(status == ACCEPTED, "PublishEvent: #{status}")
    # C-core consumes grpc-encoding itself; check it wherever it does surface.
    encoding = op.metadata&.[]('grpc-encoding') || op.trailing_metadata&.[]('grpc-encoding')
    check(encoding.nil? || encoding == 'gzip', "answer's grpc-encoding is #{encoding.inspect}")

    per = 100
    events = Array.new(per) { |i| progress_event('gzip', 1 + i, id: padded[1 + i]) }
    results, err = publish_stream(gz, events, timeout: 20)
    ended_ok!('stream', results, err)
    problem = order_problem(results, events.map(&:event_id))
    check(problem.nil?, "stream: #{problem}")
    check(results.all? { |r| r.status == ACCEPTED }, "stream not all ACCEPTED: #{statuses(results)}")
    seen = encoding ? "answer grpc-encoding #{encoding}" : 'grpc-ruby does not expose the answer\'s grpc-encoding'
    "gzip PublishEvent ACCEPTED, #{per}-event gzip stream OK (#{seen})"
  end
end

def keepalive(_stub)
  args = {
    'grpc.keepalive_time_ms' => 10_000,
    'grpc.keepalive_timeout_ms' => 5_000,
    'grpc.keepalive_permit_without_calls' => 1,
    # C-core stops pinging an idle connection after 2 pings unless told not to.
    'grpc.http2.max_pings_without_data' => 0
  }
  ready = GRPC::Core::ConnectivityStates::READY
  with_channel(args) do |ka, channel|
    first = publish(ka, progress_event('keepalive', 0)).status
    check(first == ACCEPTED, "first call: #{first}")
    check(channel.connectivity_state == ready, 'channel not READY after the first call')
    # A GOAWAY (too_many_pings or any other) takes the connection out of READY.
    changed = channel.watch_connectivity_state(ready, in_secs(12))
    check(!changed, "the connection left READY while idle (state #{channel.connectivity_state}): GOAWAY?")
    second = publish(ka, progress_event('keepalive', 1)).status
    check(second == ACCEPTED, "second call: #{second}")
    check(channel.connectivity_state == ready, 'channel not READY after the second call')
    'call, 12 s idle with 10 s keepalive pings, call: both ACCEPTED on one connection'
  end
end

def oversize(_stub)
  args = { 'grpc.max_send_message_length' => MAX_BYTES * 2 + (1 << 20) }
  # <n> padded with zeros until the message is past the server's limit.
  id = "#{RUN_ID}-oversize-#{'0' * (MAX_BYTES + 1024)}"
  with_channel(args) do |big, _|
    r = publish(big, progress_event('oversize', 0, id: id), timeout: 20)
    raise CaseFailed, "a #{id.bytesize}-byte event_id answered OK (#{r.status})"
  rescue GRPC::ResourceExhausted => e
    check(e.details.include?(MAX_BYTES.to_s),
          "RESOURCE_EXHAUSTED does not name the #{MAX_BYTES}-byte limit: #{e.details.inspect}")
    "RESOURCE_EXHAUSTED: #{e.details}"
  rescue GRPC::BadStatus => e
    raise CaseFailed, "answered #{describe(e)}, expected RESOURCE_EXHAUSTED"
  end
end

def restart(stub)
  first = publish(stub, progress_event('restart', 0)).status
  check(first == ACCEPTED, "call before the restart: #{first}")

  pid = Process.spawn(RESTART_CMD, out: :err, in: File::NULL)
  waiter = Process.detach(pid)
  unless waiter.join(120)
    Process.kill('KILL', pid)
    raise CaseFailed, 'STRIDE_RESTART_CMD did not return within 120 s'
  end
  check(waiter.value.success?, "STRIDE_RESTART_CMD failed: #{waiter.value}")

  # Same stub, same channel: it reconnects on its own; UNAVAILABLE while it does.
  give_up = monotonic + 30
  attempts = 0
  begin
    attempts += 1
    second = publish(stub, progress_event('restart', 1), timeout: 5).status
  rescue GRPC::Unavailable => e
    raise CaseFailed, "still UNAVAILABLE 30 s after the restart: #{e.details}" if monotonic > give_up

    sleep 0.25
    retry
  end
  check(second == ACCEPTED, "call after the restart: #{second}")
  "OK, restart, OK on the same channel (attempt #{attempts})"
end

CASES = %i[stream_20k concurrent_200 burst_1000 deadline cancel gzip keepalive oversize restart].freeze

def main
  $stdout.sync = true
  Thread.report_on_exception = false
  stub = Stub.new(ADDR, :this_channel_is_insecure)
  passed = failed = 0
  CASES.each do |name|
    begin
      detail = send(name, stub)
      puts "PASS #{name} #{detail}"
      passed += 1
    rescue CaseFailed => e
      puts "FAIL #{name}: #{e.message}"
      failed += 1
    rescue GRPC::BadStatus => e
      puts "FAIL #{name}: unexpected #{describe(e)}"
      failed += 1
    rescue StandardError => e
      puts "FAIL #{name}: #{e.class}: #{e.message}"
      failed += 1
    end
    puts "FIGURE stream_20k #{@figure || 'n/a'}" if name == :stream_20k
  end
  puts "#{passed} passed, #{failed} failed"
  exit(failed.zero? ? 0 : 1)
end

main if $PROGRAM_NAME == __FILE__
