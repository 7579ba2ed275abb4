-- Shared by every workload script (each one dofile()s this first).
--
-- * Thread ids: setup() numbers the threads (tid = 0..nthreads-1) so scripts can give
--   each thread its own slice of tokens or its own random seed.
-- * response() classifies every answer: non-2xx, GraphQL "errors", a non-empty
--   "userErrors" (tallied by code), ok (the body holds the workload's ok_marker) or
--   other (2xx, no error, but not the expected payload, e.g. a null product). The
--   ceiling's plain JSON (c1_page.lua, c2_product.lua) holds neither "errors" nor
--   "userErrors" (a name's quotes are escaped), so it is ok or other by its marker alone.
-- * done() prints one machine-readable BENCH_RESULT line that bench/run parses.

data_dir = os.getenv("BENCH_DATA_DIR") or "."

tid, nthreads = 0, 1
ok, other, non2xx, gql_errors, user_errors, exhausted = 0, 0, 0, 0, 0, 0
code_counts = {}
first_error = nil -- the first non-2xx or GraphQL-error body this thread saw
ok_marker = nil -- set by the workload script

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
   for _, t in ipairs(threads) do
      t:set("nthreads", #threads)
   end
end

function json_string(s)
   return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', ' ') .. '"'
end

-- A complete HTTP request for one GraphQL operation; vars_json is already JSON.
function gql_request(query, vars_json, token)
   local body = '{"query":' .. json_string(query) .. ',"variables":' .. (vars_json or '{}') .. '}'
   local headers = { ["Content-Type"] = "application/json" }
   if token then
      headers["Authorization"] = "Bearer " .. token
   end
   return wrk.format("POST", "/graphql", headers, body)
end

function read_lines(path)
   local lines = {}
   for line in io.lines(path) do
      if #line > 0 then
         lines[#lines + 1] = line
      end
   end
   return lines
end

function seed_random()
   math.randomseed(os.time() * 1000 + tid * 7919)
   for _ = 1, 10 do math.random() end
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      first_error = first_error or (status .. " " .. body:sub(1, 300))
      return
   end
   if body:find('"errors":', 1, true) then
      gql_errors = gql_errors + 1
      first_error = first_error or body:sub(1, 300)
      return
   end
   local at = body:find('"userErrors":[{', 1, true)
   if at then
      user_errors = user_errors + 1
      local code = body:match('"code":"([%w_]+)"', at) or "?"
      code_counts[code] = (code_counts[code] or 0) + 1
      return
   end
   if ok_marker == nil or body:find(ok_marker, 1, true) then
      ok = ok + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local sum = { ok = 0, other = 0, non2xx = 0, gql_errors = 0, user_errors = 0, exhausted = 0 }
   local codes = {}
   for _, t in ipairs(threads) do
      local err = t:get("first_error")
      if err then
         io.write("BENCH_FIRST_ERROR " .. err:gsub("\n", " ") .. "\n")
      end
      for k, _ in pairs(sum) do
         sum[k] = sum[k] + (t:get(k) or 0)
      end
      for code, n in pairs(t:get("code_counts") or {}) do
         codes[code] = (codes[code] or 0) + n
      end
   end
   local list = {}
   for code, n in pairs(codes) do
      list[#list + 1] = code .. ":" .. n
   end
   table.sort(list)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "ok=%d other=%d non2xx=%d gql_errors=%d user_errors=%d codes=%s "
         .. "connect=%d read=%d write=%d timeout=%d exhausted=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      sum.ok, sum.other, sum.non2xx, sum.gql_errors, sum.user_errors,
      (#list > 0) and table.concat(list, ",") or "-",
      e.connect, e.read, e.write, e.timeout, sum.exhausted))
end
