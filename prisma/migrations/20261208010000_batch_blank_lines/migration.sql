-- The blank lines of each batch: they hold no record, and counting a row's line later (a type
-- change that sets rows aside as rejects) needs them. Batches imported before count as having none.
ALTER TABLE "import_batches" ADD COLUMN "blank_lines" BIGINT[] NOT NULL DEFAULT '{}';
