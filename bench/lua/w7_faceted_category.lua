-- W7: a faceted category page: the first 20 products of a random category's subtree
-- (a root, a department or a leaf of the seeded tree) with every facet.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
-- Any order of the facet fields: async-graphql writes parallel fields as they finish.
ok_marker = '"inStockCount":'

local QUERY = "query($c: ID!) { category(id: $c) { name products(first: 20) "
   .. "{ edges { cursor node { id name price stock } } pageInfo { endCursor hasNextPage } "
   .. "facets { categories { category { id name } count } options { name values { value count } } "
   .. "inStockCount priceRange { min max } } } } }"
local reqs

function init(args)
   seed_random()
   local token = read_lines(data_dir .. "/token_w1.txt")[1]
   reqs = {}
   for i, id in ipairs(dofile(data_dir .. "/category_ids.lua")) do
      reqs[i] = gql_request(QUERY, '{"c":' .. json_string(id) .. '}', token)
   end
end

function request()
   return reqs[math.random(#reqs)]
end
