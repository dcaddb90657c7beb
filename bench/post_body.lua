-- wrk script: POST the bytes of $BENCH_BODY_FILE (raw body, as the Zscaler clients send a file) to
-- the URL given on wrk's command line (query string included). Used by scripts/bench.sh.
local path = os.getenv("BENCH_BODY_FILE")
local f = assert(io.open(path, "rb"), "BENCH_BODY_FILE is not readable: " .. tostring(path))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
