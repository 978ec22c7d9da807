-- CreateEnum
CREATE TYPE "ExportStatus" AS ENUM ('QUEUED', 'PROCESSING', 'PROCESSED', 'STOPPED', 'FAILED', 'EXPIRED');

-- CreateTable
CREATE TABLE "exports" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "import_id" UUID NOT NULL,
    "status" "ExportStatus" NOT NULL DEFAULT 'QUEUED',
    "column" TEXT,
    "range_from" TEXT,
    "range_to" TEXT,
    "protect_formulas" BOOLEAN NOT NULL DEFAULT false,
    "file_name" TEXT NOT NULL,
    "rows_total" BIGINT,
    "rows_written" BIGINT NOT NULL DEFAULT 0,
    "bytes_written" BIGINT NOT NULL DEFAULT 0,
    "run" INTEGER NOT NULL DEFAULT 0,
    "backend_pid" INTEGER,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "exports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "exports_import_id_created_at_idx" ON "exports"("import_id", "created_at");

-- CreateIndex
CREATE INDEX "exports_status_expires_at_idx" ON "exports"("status", "expires_at");

-- AddForeignKey
ALTER TABLE "exports" ADD CONSTRAINT "exports_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "imports"("id") ON DELETE CASCADE ON UPDATE CASCADE;
