"""The Lightspeed page of the Airflow UI: a FastAPI app mounted by plugins/lightspeed_ui.py.

`webapp` holds the routes, `access` Airflow's authentication and permissions, `oauth_flow`
the browser login to Lightspeed, `shop_table` the shops with their DAG runs, `airflow_api`
the calls to Airflow's own REST API made with the user's token.
"""
