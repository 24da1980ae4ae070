-- Staging: one table per Lightspeed entity, keyed by (account_id, Lightspeed ID).
-- Typed columns hold what reports need; `raw` keeps the whole record so no field is lost;
-- loaded_at/run_id say which run wrote the current version.
CREATE SCHEMA IF NOT EXISTS lightspeed_staging;

CREATE TABLE lightspeed_staging.shop (
    account_id   bigint      NOT NULL,
    shop_id      bigint      NOT NULL,
    name         text        NOT NULL,
    time_zone    text        NOT NULL,
    archived     boolean     NOT NULL DEFAULT false,
    time_stamp   timestamptz,
    raw          jsonb       NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    run_id       text        NOT NULL,
    PRIMARY KEY (account_id, shop_id)
);

CREATE TABLE lightspeed_staging.register (
    account_id   bigint      NOT NULL,
    register_id  bigint      NOT NULL,
    shop_id      bigint      NOT NULL,
    name         text        NOT NULL,
    archived     boolean     NOT NULL DEFAULT false,
    raw          jsonb       NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    run_id       text        NOT NULL,
    PRIMARY KEY (account_id, register_id)
);

CREATE TABLE lightspeed_staging.payment_type (
    account_id      bigint      NOT NULL,
    payment_type_id bigint      NOT NULL,
    name            text        NOT NULL,
    type            text        NOT NULL,
    archived        boolean     NOT NULL DEFAULT false,
    raw             jsonb       NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    run_id          text        NOT NULL,
    PRIMARY KEY (account_id, payment_type_id)
);

CREATE TABLE lightspeed_staging.category (
    account_id      bigint      NOT NULL,
    category_id     bigint      NOT NULL,
    name            text        NOT NULL,
    full_path_name  text,
    parent_id       bigint,
    time_stamp      timestamptz,
    raw             jsonb       NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    run_id          text        NOT NULL,
    PRIMARY KEY (account_id, category_id)
);

CREATE TABLE lightspeed_staging.item (
    account_id      bigint      NOT NULL,
    item_id         bigint      NOT NULL,
    description     text        NOT NULL,
    category_id     bigint,
    item_type       text,
    default_price   numeric(14, 4),
    archived        boolean     NOT NULL DEFAULT false,
    time_stamp      timestamptz,
    raw             jsonb       NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    run_id          text        NOT NULL,
    PRIMARY KEY (account_id, item_id)
);

CREATE TABLE lightspeed_staging.item_price (
    account_id      bigint         NOT NULL,
    item_id         bigint         NOT NULL,
    use_type_id     bigint         NOT NULL,
    use_type        text           NOT NULL,
    amount          numeric(14, 4) NOT NULL,
    PRIMARY KEY (account_id, item_id, use_type_id)
);

CREATE TABLE lightspeed_staging.employee (
    account_id      bigint      NOT NULL,
    employee_id     bigint      NOT NULL,
    first_name      text,
    last_name       text,
    archived        boolean     NOT NULL DEFAULT false,
    lock_out        boolean     NOT NULL DEFAULT false,
    time_stamp      timestamptz,
    raw             jsonb       NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    run_id          text        NOT NULL,
    PRIMARY KEY (account_id, employee_id)
);

-- EmployeeHours can be hard-deleted upstream: loads delete rows of the re-read window that
-- the API no longer returns. check_out is NULL for an open shift, which counts up to
-- extracted_at: the API's clock (its Date header) when the row was read.
CREATE TABLE lightspeed_staging.employee_hours (
    account_id         bigint      NOT NULL,
    employee_hours_id  bigint      NOT NULL,
    employee_id        bigint      NOT NULL,
    shop_id            bigint      NOT NULL,
    check_in           timestamptz NOT NULL,
    check_out          timestamptz,
    extracted_at       timestamptz NOT NULL,
    raw                jsonb       NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now(),
    run_id             text        NOT NULL,
    PRIMARY KEY (account_id, employee_hours_id)
);
CREATE INDEX employee_hours_shop_check_in ON lightspeed_staging.employee_hours (account_id, shop_id, check_in);

CREATE TABLE lightspeed_staging.sale (
    account_id       bigint         NOT NULL,
    sale_id          bigint         NOT NULL,
    shop_id          bigint         NOT NULL,
    register_id      bigint,
    employee_id      bigint,
    customer_id      bigint,
    completed        boolean        NOT NULL,
    voided           boolean        NOT NULL,
    archived         boolean        NOT NULL,
    create_time      timestamptz,
    complete_time    timestamptz,
    update_time      timestamptz,
    time_stamp       timestamptz    NOT NULL,
    calc_subtotal    numeric(14, 4) NOT NULL,
    calc_discount    numeric(14, 4) NOT NULL,
    calc_tax1        numeric(14, 4) NOT NULL DEFAULT 0,
    calc_tax2        numeric(14, 4) NOT NULL DEFAULT 0,
    calc_total       numeric(14, 4) NOT NULL,
    total            numeric(14, 4),
    raw              jsonb          NOT NULL,
    loaded_at        timestamptz    NOT NULL DEFAULT now(),
    run_id           text           NOT NULL,
    PRIMARY KEY (account_id, sale_id)
);
CREATE INDEX sale_shop_complete_time ON lightspeed_staging.sale (account_id, shop_id, complete_time);

CREATE TABLE lightspeed_staging.sale_line (
    account_id                 bigint         NOT NULL,
    sale_line_id               bigint         NOT NULL,
    sale_id                    bigint         NOT NULL,
    shop_id                    bigint         NOT NULL,
    item_id                    bigint,
    line_type                  text           NOT NULL DEFAULT '',
    unit_quantity              numeric(14, 4) NOT NULL,
    unit_price                 numeric(14, 4) NOT NULL,
    calc_subtotal              numeric(14, 4),
    calc_line_discount         numeric(14, 4),
    calc_transaction_discount  numeric(14, 4),
    calc_total                 numeric(14, 4),
    parent_sale_line_id        bigint,
    is_layaway                 boolean        NOT NULL DEFAULT false,
    time_stamp                 timestamptz,
    raw                        jsonb          NOT NULL,
    loaded_at                  timestamptz    NOT NULL DEFAULT now(),
    run_id                     text           NOT NULL,
    PRIMARY KEY (account_id, sale_line_id)
);
CREATE INDEX sale_line_sale ON lightspeed_staging.sale_line (account_id, sale_id);

CREATE TABLE lightspeed_staging.sale_payment (
    account_id         bigint         NOT NULL,
    sale_payment_id    bigint         NOT NULL,
    sale_id            bigint         NOT NULL,
    payment_type_id    bigint,
    amount             numeric(14, 4) NOT NULL,
    tip_amount         numeric(14, 4) NOT NULL DEFAULT 0,
    archived           boolean        NOT NULL DEFAULT false,
    create_time        timestamptz,
    raw                jsonb          NOT NULL,
    loaded_at          timestamptz    NOT NULL DEFAULT now(),
    run_id             text           NOT NULL,
    PRIMARY KEY (account_id, sale_payment_id)
);
CREATE INDEX sale_payment_sale ON lightspeed_staging.sale_payment (account_id, sale_id);

-- Records that failed validation: kept with the reason, never dropped silently.
CREATE TABLE lightspeed_staging.quarantine (
    id              bigserial   PRIMARY KEY,
    account_id      bigint,
    entity          text        NOT NULL,
    record_key      text,
    reason          text        NOT NULL,
    raw             jsonb       NOT NULL,
    run_id          text        NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);

-- High-water mark per (account, entity, shop); shop_id 0 for account-scoped entities.
CREATE TABLE lightspeed_staging.watermark (
    account_id   bigint      NOT NULL,
    entity       text        NOT NULL,
    shop_id      bigint      NOT NULL DEFAULT 0,
    high_water   timestamptz NOT NULL,
    run_id       text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, entity, shop_id)
);

-- One row per entity load: what the run read and wrote (the UI shows "records imported").
CREATE TABLE lightspeed_staging.load_log (
    id            bigserial   PRIMARY KEY,
    run_id        text        NOT NULL,
    account_id    bigint      NOT NULL,
    entity        text        NOT NULL,
    shop_id       bigint      NOT NULL DEFAULT 0,
    window_field  text,
    window_start  timestamptz,
    window_end    timestamptz,
    fetched       integer     NOT NULL,
    upserted      integer     NOT NULL,
    deleted       integer     NOT NULL,
    quarantined   integer     NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT now()
);
