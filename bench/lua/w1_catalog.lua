-- W1: one catalog page of 20 products after a cursor picked at random across the
-- whole catalog (cursors.lua comes from bench/tools.py walk), one customer's token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"edges":['

local QUERY = "query($after: String) { products(first: 20, after: $after) "
   .. "{ edges { cursor node { id name price stock } } pageInfo { endCursor hasNextPage } } }"
local reqs

function init(args)
   seed_random()
   local token = read_lines(data_dir .. "/token_w1.txt")[1]
   reqs = {}
   for i, cursor in ipairs(dofile(data_dir .. "/cursors.lua")) do
      reqs[i] = gql_request(QUERY, '{"after":' .. json_string(cursor) .. '}', token)
   end
end

function request()
   return reqs[math.random(#reqs)]
end
