-- W3: a customer's 10 latest orders with their 5 items and product names; customers
-- with 10 seeded orders, rotated by token (each thread starts at its own offset).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"nodes":[{'

local QUERY = "{ orders(first: 10) { nodes { orderNumber totalAmount "
   .. "items { productName quantity product { name } } } } }"
local reqs, next_req

function init(args)
   reqs = {}
   for i, token in ipairs(read_lines(data_dir .. "/tokens_w3.txt")) do
      reqs[i] = gql_request(QUERY, '{}', token)
   end
   next_req = (tid * 7) % #reqs
end

function request()
   next_req = next_req % #reqs + 1
   return reqs[next_req]
end
