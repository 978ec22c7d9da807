-- Accounts (better-auth's tables, with its field names mapped to snake_case in lib/auth/auth.ts),
-- Sluice's settings, invites, sign-in attempts, and an owner on everything a person makes.

CREATE TABLE "users" (
    "id"             TEXT NOT NULL PRIMARY KEY,
    "name"           TEXT NOT NULL,
    "email"          TEXT NOT NULL UNIQUE,
    "email_verified" BOOLEAN NOT NULL,
    "image"          TEXT,
    "created_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- admin plugin
    "role"           TEXT,
    "banned"         BOOLEAN,
    "ban_reason"     TEXT,
    "ban_expires"    TIMESTAMPTZ(3)
);

CREATE TABLE "sessions" (
    "id"              TEXT NOT NULL PRIMARY KEY,
    "expires_at"      TIMESTAMPTZ(3) NOT NULL,
    "token"           TEXT NOT NULL UNIQUE,
    "created_at"      TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at"      TIMESTAMPTZ(3) NOT NULL,
    "ip_address"      TEXT,
    "user_agent"      TEXT,
    "user_id"         TEXT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "impersonated_by" TEXT
);
CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id");

CREATE TABLE "accounts" (
    "id"                       TEXT NOT NULL PRIMARY KEY,
    "account_id"               TEXT NOT NULL,
    "provider_id"              TEXT NOT NULL,
    "user_id"                  TEXT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "access_token"             TEXT,
    "refresh_token"            TEXT,
    "id_token"                 TEXT,
    "access_token_expires_at"  TIMESTAMPTZ(3),
    "refresh_token_expires_at" TIMESTAMPTZ(3),
    "scope"                    TEXT,
    "password"                 TEXT,
    "created_at"               TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at"               TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX "accounts_user_id_idx" ON "accounts" ("user_id");

CREATE TABLE "verifications" (
    "id"         TEXT NOT NULL PRIMARY KEY,
    "identifier" TEXT NOT NULL,
    "value"      TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "verifications_identifier_idx" ON "verifications" ("identifier");

-- api-key plugin; "key" holds a hash of the key, never the key.
CREATE TABLE "api_keys" (
    "id"                     TEXT NOT NULL PRIMARY KEY,
    "config_id"              TEXT NOT NULL,
    "name"                   TEXT,
    "start"                  TEXT,
    "reference_id"           TEXT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "prefix"                 TEXT,
    "key"                    TEXT NOT NULL,
    "refill_interval"        INTEGER,
    "refill_amount"          INTEGER,
    "last_refill_at"         TIMESTAMPTZ(3),
    "enabled"                BOOLEAN,
    "rate_limit_enabled"     BOOLEAN,
    "rate_limit_time_window" INTEGER,
    "rate_limit_max"         INTEGER,
    "request_count"          INTEGER,
    "remaining"              INTEGER,
    "last_request"           TIMESTAMPTZ(3),
    "expires_at"             TIMESTAMPTZ(3),
    "created_at"             TIMESTAMPTZ(3) NOT NULL,
    "updated_at"             TIMESTAMPTZ(3) NOT NULL,
    "permissions"            TEXT,
    "metadata"               TEXT
);
CREATE INDEX "api_keys_config_id_idx" ON "api_keys" ("config_id");
CREATE INDEX "api_keys_reference_id_idx" ON "api_keys" ("reference_id");
CREATE INDEX "api_keys_key_idx" ON "api_keys" ("key");

-- One row: the instance's own settings.
CREATE TABLE "instance_settings" (
    "id"               INTEGER NOT NULL PRIMARY KEY DEFAULT 1 CHECK ("id" = 1),
    -- Signs session cookies when BETTER_AUTH_SECRET is not set; made once, here.
    "auth_secret"      TEXT NOT NULL,
    -- sha256 of the one-time setup link's token, while no account exists.
    "setup_token_hash" TEXT,
    "sign_up_open"     BOOLEAN NOT NULL DEFAULT false
);
-- gen_random_uuid() draws from PostgreSQL's strong random source: two give 244 random bits.
INSERT INTO "instance_settings" ("auth_secret") VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

CREATE TABLE "invites" (
    "id"         UUID NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
    "token_hash" TEXT NOT NULL UNIQUE,
    "role"       TEXT NOT NULL DEFAULT 'user',
    "created_by" TEXT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at"    TIMESTAMPTZ(3),
    "used_by"    TEXT REFERENCES "users" ("id") ON DELETE SET NULL
);

-- Failed sign-ins per key ("email:…" or "address:…") in the current window; shared by every process.
CREATE TABLE "sign_in_failures" (
    "key"          TEXT NOT NULL PRIMARY KEY,
    "count"        INTEGER NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL
);

-- The owner of each thing a person makes. Nullable only for rows from before accounts: the
-- first admin, once created, owns them (lib/auth/first-admin.ts); every new row gets one.
ALTER TABLE "uploads" ADD COLUMN "owner_id" TEXT REFERENCES "users" ("id");
ALTER TABLE "imports" ADD COLUMN "owner_id" TEXT REFERENCES "users" ("id");
ALTER TABLE "exports" ADD COLUMN "owner_id" TEXT REFERENCES "users" ("id");
ALTER TABLE "batch_sessions" ADD COLUMN "owner_id" TEXT REFERENCES "users" ("id");
CREATE INDEX "uploads_owner_id_idx" ON "uploads" ("owner_id");
CREATE INDEX "imports_owner_id_created_at_idx" ON "imports" ("owner_id", "created_at");
CREATE INDEX "exports_owner_id_created_at_idx" ON "exports" ("owner_id", "created_at");
CREATE INDEX "batch_sessions_owner_id_idx" ON "batch_sessions" ("owner_id");

-- A download link that works without signing in: an unguessable token per export, until the
-- export expires or its owner revokes the link.
ALTER TABLE "exports" ADD COLUMN "link_token" TEXT UNIQUE;
