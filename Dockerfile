# The project's Airflow image: the official Airflow 3.3.2 image plus our pinned requirements and
# this project installed in editable mode, so /opt/airflow is the project root (dags/, plugins/,
# include/) exactly as in the repo, and `lightspeed`, `lightspeed-emulator` are on PATH.
FROM apache/airflow:3.3.2-python3.11

ENV AIRFLOW_HOME=/opt/airflow \
    LIGHTSPEED_SQL_DIR=/opt/airflow/include/sql \
    LIGHTSPEED_SHOPS_CONFIG=/opt/airflow/include/shops.yaml

# Requirements first: this layer is rebuilt only when the lock changes. Pinning
# apache-airflow again keeps pip from moving the image's Airflow to another version.
COPY --chown=airflow:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/airflow/requirements.lock

COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 lightspeed_emulator/ /opt/airflow/lightspeed_emulator/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
# /opt/airflow/auth: the compose file's airflow-init writes the admin login there; a named
# volume mounted on it starts with this owner and mode, so any AIRFLOW_UID in group 0 can use it.
RUN pip install --no-cache-dir --no-deps -e /opt/airflow \
    && mkdir -p /opt/airflow/auth && chmod 0770 /opt/airflow/auth
