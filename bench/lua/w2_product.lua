-- W2: one product by id, ids picked at random across the whole catalog.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"product":{"id"'

-- BENCH_W2_FIELDS: the fields asked for. The default has the v2 rating fields; an A/B
-- against a build before them sets "id name price stock".
local FIELDS = os.getenv("BENCH_W2_FIELDS") or "id name price stock averageRating reviewCount"
local QUERY = "query($id: ID!) { product(id: $id) { " .. FIELDS .. " } }"
local reqs

function init(args)
   seed_random()
   local token = read_lines(data_dir .. "/token_w1.txt")[1]
   reqs = {}
   for i, id in ipairs(dofile(data_dir .. "/product_ids.lua")) do
      reqs[i] = gql_request(QUERY, '{"id":' .. json_string(id) .. '}', token)
   end
end

function request()
   return reqs[math.random(#reqs)]
end
