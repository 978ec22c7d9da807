-- An upload of the same file as an import already under way (a KILLED file dropped twice at
-- once) adds no import of its own: it points at the one it continues, so that
-- GET /api/imports?upload=<id> finds that import.
ALTER TABLE "uploads" ADD COLUMN "continues_import_id" UUID;
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_continues_import_id_fkey" FOREIGN KEY ("continues_import_id") REFERENCES "imports"("id") ON DELETE SET NULL ON UPDATE CASCADE;
