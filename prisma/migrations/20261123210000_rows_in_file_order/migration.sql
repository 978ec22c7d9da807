-- AlterTable
ALTER TABLE "imports" ADD COLUMN "stored_in_file_order" BOOLEAN NOT NULL DEFAULT false;

-- Fired by any change to an import's table after it finished (someone's UPDATE, DELETE,
-- INSERT or TRUNCATE): its rows may no longer be stored in the file's order, so exports go
-- back to reading them through the row-number index.
CREATE FUNCTION "sluice_import_table_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "imports" SET "stored_in_file_order" = false
  WHERE "table_name" = TG_TABLE_NAME AND "stored_in_file_order";
  RETURN NULL;
END
$$;
