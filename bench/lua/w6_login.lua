-- W6: login of one user registered through the API at the server's BCRYPT_COST (12),
-- over and over: every request is one bcrypt verification.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
ok_marker = '"accessToken":"'

local QUERY = "mutation($i: LoginInput!) { login(input: $i) { accessToken userErrors { code } } }"
local req

function init(args)
   local email = os.getenv("BENCH_W6_EMAIL")
   local password = os.getenv("BENCH_W6_PASSWORD")
   req = gql_request(QUERY, '{"i":{"email":' .. json_string(email) .. ',"password":'
      .. json_string(password) .. '}}', nil)
end

function request()
   return req
end
