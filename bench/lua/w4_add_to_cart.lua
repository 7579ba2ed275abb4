-- W4: addToCart of 1 unit of a random well-stocked variant (stock >= 50; a product on a
-- server without variants), by a random customer among the ones reserved for W4 (no
-- seeded cart).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"cartItem":{"id"'

local QUERY = "mutation($p: ID!) { addToCart(input: {productId: $p, quantity: 1}) "
   .. "{ cartItem { id quantity } userErrors { code } } }"
local QUERY_VARIANT = "mutation($p: ID!, $v: ID) { addToCart(input: {productId: $p, variantId: $v, quantity: 1}) "
   .. "{ cartItem { id quantity } userErrors { code } } }"
local tokens, ids, variants

function init(args)
   seed_random()
   tokens = read_lines(data_dir .. "/tokens_w4.txt")
   ids = dofile(data_dir .. "/stocked_ids.lua")
   variants = dofile(data_dir .. "/stocked_variant_ids.lua")
end

function request()
   local i = math.random(#ids)
   local token = tokens[math.random(#tokens)]
   if variants[i] == nil or variants[i] == "" then
      return gql_request(QUERY, '{"p":' .. json_string(ids[i]) .. '}', token)
   end
   local vars = '{"p":' .. json_string(ids[i]) .. ',"v":' .. json_string(variants[i]) .. '}'
   return gql_request(QUERY_VARIANT, vars, token)
end
