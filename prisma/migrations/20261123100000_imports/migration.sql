-- CreateEnum
CREATE TYPE "ImportStatus" AS ENUM ('QUEUED', 'PROCESSING', 'PAUSED', 'PROCESSED', 'STOPPED', 'KILLED', 'FAILED');

-- CreateTable
CREATE TABLE "imports" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "upload_id" TEXT NOT NULL,
    "file_name" TEXT NOT NULL,
    "total_bytes" BIGINT NOT NULL,
    "status" "ImportStatus" NOT NULL DEFAULT 'QUEUED',
    "table_name" TEXT NOT NULL,
    "columns" JSONB,
    "bytes_processed" BIGINT NOT NULL DEFAULT 0,
    "next_line" BIGINT NOT NULL DEFAULT 1,
    "rows_imported" BIGINT NOT NULL DEFAULT 0,
    "rows_rejected" BIGINT NOT NULL DEFAULT 0,
    "run" INTEGER NOT NULL DEFAULT 0,
    "backend_pid" INTEGER,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "paused_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "imports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "import_rejects" (
    "import_id" UUID NOT NULL,
    "line" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "record" TEXT NOT NULL,

    CONSTRAINT "import_rejects_pkey" PRIMARY KEY ("import_id","line")
);

-- CreateIndex
CREATE UNIQUE INDEX "imports_table_name_key" ON "imports"("table_name");

-- CreateIndex
CREATE INDEX "imports_upload_id_idx" ON "imports"("upload_id");

-- CreateIndex
CREATE INDEX "imports_status_idx" ON "imports"("status");

-- CreateIndex
CREATE INDEX "imports_created_at_idx" ON "imports"("created_at");

-- AddForeignKey
ALTER TABLE "imports" ADD CONSTRAINT "imports_upload_id_fkey" FOREIGN KEY ("upload_id") REFERENCES "uploads"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "import_rejects" ADD CONSTRAINT "import_rejects_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "imports"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The rows of each import live here, one table per import.
CREATE SCHEMA IF NOT EXISTS "imported";
