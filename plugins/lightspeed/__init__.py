"""Lightspeed Retail (R-Series) to T.M.A.S.: hook, extraction, loads, DAG builder and reports."""
