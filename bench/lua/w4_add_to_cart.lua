-- W4: addToCart of 1 unit of a random well-stocked product (stock >= 50), by a random
-- customer among the ones reserved for W4 (no seeded cart).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"cartItem":{"id"'

local QUERY = "mutation($p: ID!) { addToCart(input: {productId: $p, quantity: 1}) "
   .. "{ cartItem { id quantity } userErrors { code } } }"
local tokens, ids

function init(args)
   seed_random()
   tokens = read_lines(data_dir .. "/tokens_w4.txt")
   ids = dofile(data_dir .. "/stocked_ids.lua")
end

function request()
   local id = ids[math.random(#ids)]
   return gql_request(QUERY, '{"p":' .. json_string(id) .. '}', tokens[math.random(#tokens)])
end
