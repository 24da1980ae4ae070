"""Benchmarks of the Lightspeed -> T.M.A.S. pipeline (`make bench`, `python -m bench.run`).

Importing the package changes nothing; each benchmark's `main()` calls
`bench.common.isolate_airflow()` first (docs/benchmarks.md).
"""
