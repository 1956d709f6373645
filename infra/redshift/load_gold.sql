-- Load the gold tables into Redshift Serverless for Tableau (the optional EnableRedshift=true path).
--
-- The lake's tables are Delta. Redshift Spectrum reads Delta through symlink manifests, which the
-- gold job writes next to each gold table (lake/gold/<table>/_symlink_format_manifest/). The
-- external tables below read those manifests; the local tables are refreshed copies that BI tools
-- query without scanning S3. Run it in the workgroup's query editor after a gold refresh; replace
-- <LakeBucket> with the stack output LakeBucket and <DatabaseName> with the stack parameter
-- DatabaseName (default ecom). The external schema uses the catalog database the stack creates for
-- Spectrum (SpectrumDatabase, <DatabaseName>_spectrum); the namespace's default IAM role
-- (RedshiftSpectrumRole) may create tables there and read lake/gold/, but not create databases.
-- The native Delta tables that Athena reads stay in <DatabaseName>, registered by the jobs.

CREATE EXTERNAL SCHEMA IF NOT EXISTS lake_gold
FROM DATA CATALOG DATABASE '<DatabaseName>_spectrum'
IAM_ROLE default;

-- Rerunnable: a table already there is replaced, so its location follows the manifests.
DROP TABLE IF EXISTS lake_gold.revenue_monthly;
DROP TABLE IF EXISTS lake_gold.revenue_quarterly;
DROP TABLE IF EXISTS lake_gold.top_products_by_season;

CREATE EXTERNAL TABLE lake_gold.revenue_monthly (
    year INT, month INT,
    net_revenue DECIMAL(32,3), gross_revenue DECIMAL(32,3), returns DECIMAL(32,3),
    orders BIGINT, customers BIGINT, units BIGINT)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<LakeBucket>/lake/gold/revenue_monthly/_symlink_format_manifest/';

CREATE EXTERNAL TABLE lake_gold.revenue_quarterly (
    year INT, quarter INT,
    net_revenue DECIMAL(32,3), gross_revenue DECIMAL(32,3), returns DECIMAL(32,3),
    orders BIGINT, customers BIGINT, units BIGINT)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<LakeBucket>/lake/gold/revenue_quarterly/_symlink_format_manifest/';

CREATE EXTERNAL TABLE lake_gold.top_products_by_season (
    season_year INT, season VARCHAR(16), rank INT, stock_code VARCHAR(32), description VARCHAR(256),
    units_net BIGINT, revenue_net DECIMAL(32,3))
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<LakeBucket>/lake/gold/top_products_by_season/_symlink_format_manifest/';

-- Refresh the local copies in one transaction (DELETE, not TRUNCATE, which would commit early).
BEGIN;
CREATE TABLE IF NOT EXISTS public.revenue_monthly AS SELECT * FROM lake_gold.revenue_monthly WHERE FALSE;
DELETE FROM public.revenue_monthly;
INSERT INTO public.revenue_monthly SELECT * FROM lake_gold.revenue_monthly;
CREATE TABLE IF NOT EXISTS public.revenue_quarterly AS SELECT * FROM lake_gold.revenue_quarterly WHERE FALSE;
DELETE FROM public.revenue_quarterly;
INSERT INTO public.revenue_quarterly SELECT * FROM lake_gold.revenue_quarterly;
CREATE TABLE IF NOT EXISTS public.top_products_by_season AS SELECT * FROM lake_gold.top_products_by_season WHERE FALSE;
DELETE FROM public.top_products_by_season;
INSERT INTO public.top_products_by_season SELECT * FROM lake_gold.top_products_by_season;
COMMIT;
