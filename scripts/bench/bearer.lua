-- A GET with the access token in BENCH_TOKEN.
wrk.headers["authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
