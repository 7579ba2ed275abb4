-- C1: the ceiling's W1 (bench/ceiling): GET /products?after=ID, the next 20 products
-- by id after a raw id picked at random across the whole catalog (raw_product_ids.lua
-- comes from bench/tools.py walk), so pages come from the whole depth as in W1.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '[{"id"'

local reqs

function init(args)
   seed_random()
   reqs = {}
   for i, id in ipairs(dofile(data_dir .. "/raw_product_ids.lua")) do
      reqs[i] = wrk.format("GET", "/products?after=" .. id)
   end
end

function request()
   return reqs[math.random(#reqs)]
end
