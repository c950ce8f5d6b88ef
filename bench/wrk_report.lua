-- wrk's summary as one JSON line (`wrk -s bench/wrk_report.lua URL [-- PATH...]`), read by
-- bench/bench_api.py and bench/bench_hostile.py. With paths after `--`, each connection
-- asks for them in turn (a reader going from the list to a page and back).
init = function(args)
  if #args > 0 then
    local i = 0
    request = function()
      i = i % #args + 1
      return wrk.format("GET", args[i])
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write, e.timeout))
end
