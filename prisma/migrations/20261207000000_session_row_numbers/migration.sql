-- A batch session's rows are numbered in the order its batches are applied: its table's
-- sequence must not be cached per connection (lib/imports/column-names.ts). Sessions still
-- open get the same; their rows so far keep the numbers they have.
DO $$
DECLARE imp record;
BEGIN
  FOR imp IN SELECT table_name FROM "imports"
             WHERE "status" = 'RECEIVING' AND to_regclass(format('imported.%I', "table_name")) IS NOT NULL LOOP
    EXECUTE format('ALTER TABLE imported.%I ALTER COLUMN _sluice_row SET CACHE 1', imp.table_name);
  END LOOP;
END
$$;
