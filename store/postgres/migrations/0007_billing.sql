-- Sentral schema, version 7 (PostgreSQL): directory and billing. Keep it
-- logically identical to store/sqlite/migrations/0007_billing.sql.
--
-- Tenants get their billing privacy settings and the phone-book password:
-- cdr_retention_days (0 keeps call records forever; otherwise records that
-- started longer ago are deleted automatically), report_mask_digits (how
-- many trailing digits of external numbers reports hide; 0 none) and
-- phonebook_secret (PBKDF2 hash of the password desk phones bind to the
-- LDAP phone book with; '' means no phone may bind).
--
-- Tariffs are kept as revisions: setting a tenant's tariff adds a row, the
-- newest row is the current tariff, and a rated call record names the
-- revision that priced it (cdrs.tariff_id), so a report can always say
-- which prices it was made with. spec is the tariff's canonical JSON,
-- whose format directory/billing owns.

ALTER TABLE tenants ADD COLUMN cdr_retention_days integer NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN report_mask_digits integer NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN phonebook_secret text NOT NULL DEFAULT '';

CREATE TABLE tariffs (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL,
    name       text NOT NULL,
    spec       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX tariffs_tenant ON tariffs (tenant_id, id);

-- The rater looks for closed records without a price; once rated a record
-- leaves the index, so it stays as small as the backlog.
CREATE INDEX cdrs_unrated ON cdrs (id) WHERE state = 'closed' AND price_ore IS NULL;
