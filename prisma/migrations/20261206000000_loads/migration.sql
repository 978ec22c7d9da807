-- Loads of an import's rows into a table of the person's own (lib/loads).
CREATE TYPE "LoadStatus" AS ENUM ('QUEUED', 'PROCESSING', 'PROCESSED', 'STOPPED', 'FAILED');

CREATE TABLE "loads" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "import_id" UUID NOT NULL,
    "owner_id" TEXT,
    "target_schema" TEXT NOT NULL,
    "target_table" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "mapping" JSONB NOT NULL,
    "key_columns" JSONB,
    "duplicates" TEXT NOT NULL,
    "misfits" TEXT NOT NULL,
    "source_headers" TEXT NOT NULL,
    "status" "LoadStatus" NOT NULL DEFAULT 'QUEUED',
    "rows_total" BIGINT,
    "rows_done" BIGINT NOT NULL DEFAULT 0,
    "rows_inserted" BIGINT NOT NULL DEFAULT 0,
    "rows_updated" BIGINT NOT NULL DEFAULT 0,
    "rows_unchanged" BIGINT NOT NULL DEFAULT 0,
    "rows_deleted" BIGINT NOT NULL DEFAULT 0,
    "rows_left_out" BIGINT NOT NULL DEFAULT 0,
    "run" INTEGER NOT NULL DEFAULT 0,
    "backend_pid" INTEGER,
    "error" TEXT,
    "error_line" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "loads_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "loads_import_id_created_at_idx" ON "loads"("import_id", "created_at");
CREATE INDEX "loads_owner_id_target_schema_target_table_source_headers_idx" ON "loads"("owner_id", "target_schema", "target_table", "source_headers");
CREATE INDEX "loads_status_idx" ON "loads"("status");
ALTER TABLE "loads" ADD CONSTRAINT "loads_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "imports"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "loads" ADD CONSTRAINT "loads_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- The rows a finished load left out, with the line, the column and the reason.
CREATE TABLE "load_left_out" (
    "load_id" UUID NOT NULL,
    "n" INTEGER NOT NULL,
    "line" BIGINT,
    "column" TEXT,
    "value" TEXT,
    "reason" TEXT NOT NULL,

    CONSTRAINT "load_left_out_pkey" PRIMARY KEY ("load_id", "n")
);
ALTER TABLE "load_left_out" ADD CONSTRAINT "load_left_out_load_id_fkey" FOREIGN KEY ("load_id") REFERENCES "loads"("id") ON DELETE CASCADE ON UPDATE CASCADE;
