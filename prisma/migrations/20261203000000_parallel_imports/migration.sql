-- Parallel imports (issue 14): a file import's table is partitioned by batch. Each batch is a
-- partition of its own, written in the transaction that creates it and attached at its end,
-- so several batches load at once and each stays in file order (lib/imports/import-table.ts).
CREATE SCHEMA IF NOT EXISTS "imported_batches";

-- True for a table partitioned by batch; false for a batch session's table and for imports
-- made before this change (one table ordered by _sluice_row).
ALTER TABLE "imports" ADD COLUMN "partitioned" BOOLEAN NOT NULL DEFAULT false;

-- The checkpoint of a parallel import: the byte ranges committed, each written in the same
-- transaction as its rows. A resume loads exactly the ranges between them.
CREATE TABLE "import_batches" (
  "import_id" UUID NOT NULL,
  "start_byte" BIGINT NOT NULL,
  "end_byte" BIGINT NOT NULL,
  "first_line" BIGINT NOT NULL,
  "next_line" BIGINT NOT NULL,
  CONSTRAINT "import_batches_pkey" PRIMARY KEY ("import_id", "start_byte"),
  CONSTRAINT "import_batches_range" CHECK ("end_byte" > "start_byte"),
  CONSTRAINT "import_batches_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "imports"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
