"""Airflow plugin: the "Lightspeed" page of the Airflow UI (issue 10).

Mounts lightspeed.ui's FastAPI app under /lightspeed on the API server and adds a "Lightspeed"
entry to the UI's navigation, showing that page inside Airflow (an external view with a URL
route). The app's routes check Airflow's own login themselves: see lightspeed/ui/access.py.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lightspeed.ui.webapp import URL_PREFIX, create_app


class LightspeedUIPlugin(AirflowPlugin):
    name = "lightspeed_ui"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Lightspeed"}]
    external_views = [
        {
            "name": "Lightspeed",
            "href": f"{URL_PREFIX}/",
            "url_route": "lightspeed",
            "destination": "nav",
            "icon": f"{URL_PREFIX}/static/icon.svg",
        }
    ]
