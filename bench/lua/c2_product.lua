-- C2: the ceiling's W2 (bench/ceiling): GET /products/ID, raw ids picked at random
-- across the whole catalog.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '{"id"'

local reqs

function init(args)
   seed_random()
   reqs = {}
   for i, id in ipairs(dofile(data_dir .. "/raw_product_ids.lua")) do
      reqs[i] = wrk.format("GET", "/products/" .. id)
   end
end

function request()
   return reqs[math.random(#reqs)]
end
