-- Roles and databases for the platform on a real PostgreSQL 15 server (run as a superuser,
-- e.g. psql -v ON_ERROR_STOP=1 -f roles.sql). Passwords are set afterwards with \password, never
-- written in a file. Names match the defaults of ZMART_DATABASE_URL / ZMART_DAGSTER_DATABASE_URL
-- in docs/operations.md.

-- The platform: owns the warehouse, applies the migrations (models/migrations), loads raw.*,
-- runs dbt (which creates the staging, intermediate and marts schemas) and the portfolio manager.
create role zmart login;
create database zmart owner zmart encoding 'UTF8' template template0;

-- Dagster's run, event-log and schedule storage, kept out of the warehouse so the two can be
-- sized, backed up and vacuumed separately.
create role zmart_dagster login;
create database zmart_dagster owner zmart_dagster encoding 'UTF8' template template0;

-- Analysts: read-only on the published layers, on the primary or (better) on a read replica.
create role zmart_analyst login;

\connect zmart
-- dbt creates these schemas on its first run; creating them here lets the grants exist first.
create schema if not exists staging authorization zmart;
create schema if not exists intermediate authorization zmart;
create schema if not exists marts authorization zmart;

grant connect on database zmart to zmart_analyst;
grant usage on schema marts, intermediate to zmart_analyst;
grant select on all tables in schema marts, intermediate to zmart_analyst;
-- dbt drops and recreates table models: the default privileges give each new table the grant.
alter default privileges for role zmart in schema marts grant select on tables to zmart_analyst;
alter default privileges for role zmart in schema intermediate grant select on tables to zmart_analyst;

-- Keep analysts' ad-hoc queries from holding locks that block the hourly dbt run.
alter role zmart_analyst set statement_timeout = '5min';
alter role zmart_analyst set idle_in_transaction_session_timeout = '1min';
alter role zmart_analyst set default_transaction_read_only = on;
