-- W5: placeOrder of a seeded 3-line cart; every request is another customer. Each
-- thread owns a disjoint contiguous slice of the token file (BENCH_TOKENS, by default
-- tokens_w5.txt; W8 and W9 use their own) and uses each token once; a thread that runs
-- out stops (counted as "exhausted") rather than reuse a token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"order":{"id"'

local QUERY = 'mutation { placeOrder(input: {shippingAddress: "1 Bench Street"}) '
   .. '{ order { id totalAmount } userErrors { code message } } }'
local mine, next_token, filler

function init(args)
   local all = read_lines(data_dir .. "/" .. (os.getenv("BENCH_TOKENS") or "tokens_w5.txt"))
   local per = math.floor(#all / nthreads)
   mine = {}
   for i = tid * per + 1, (tid + 1) * per do
      mine[#mine + 1] = all[i]
   end
   next_token = 0
   filler = gql_request("{ __typename }", '{}', nil)
end

function request()
   next_token = next_token + 1
   if next_token > #mine then
      if exhausted == 0 then
         exhausted = 1
         wrk.thread:stop()
      end
      return filler
   end
   return gql_request(QUERY, '{}', mine[next_token])
end
