-- POST the credentials in BENCH_LOGIN (JSON) again and again.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = os.getenv("BENCH_LOGIN")
