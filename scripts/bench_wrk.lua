-- wrk script of scripts/bench.sh: POSTs the body file $BODY (with $TOKEN as bearer
-- token when set) and prints "rps p50_ms p99_ms non2xx errors", as run_oha does.
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
local t = os.getenv("TOKEN")
if t and t ~= "" then wrk.headers["authorization"] = "Bearer " .. t end
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format("%.1f %.2f %.2f %d %d\n", s.requests / (s.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
