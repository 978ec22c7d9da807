-- AlterEnum
ALTER TYPE "ImportStatus" ADD VALUE 'RECEIVING' AFTER 'QUEUED';

-- AlterTable: an import fed by a batch session reads no upload
ALTER TABLE "imports" ALTER COLUMN "upload_id" DROP NOT NULL;

-- CreateTable
CREATE TABLE "batch_sessions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "import_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "batches_received" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "batch_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "session_batches" (
    "session_id" UUID NOT NULL,
    "sequence" BIGINT NOT NULL,
    "records" INTEGER NOT NULL,
    "digest" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "session_batches_pkey" PRIMARY KEY ("session_id","sequence")
);

-- CreateIndex
CREATE UNIQUE INDEX "batch_sessions_import_id_key" ON "batch_sessions"("import_id");

-- AddForeignKey
ALTER TABLE "batch_sessions" ADD CONSTRAINT "batch_sessions_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "imports"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_batches" ADD CONSTRAINT "session_batches_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "batch_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
